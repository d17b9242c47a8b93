//! Unit tests of `lib`.

use super::*;

fn kek() -> LocalKek {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kek.bin");
    std::fs::write(&path, [7_u8; LOCAL_KEK_BYTES]).unwrap();
    LocalKek::from_file(&path).unwrap()
}

#[test]
fn sealed_data_opens_only_with_its_purpose_and_place() {
    let kek = kek();
    let key = kek.sealing_key("totp-secret").unwrap();
    let sealed = key.seal("totp:user-1", b"secret").unwrap();
    assert_eq!(
        key.open("totp:user-1", &sealed).unwrap().as_slice(),
        b"secret"
    );
    assert_eq!(
        key.open("totp:user-2", &sealed).unwrap_err(),
        CryptoError::Integrity
    );
    let other_purpose = kek.sealing_key("profile").unwrap();
    assert_eq!(
        other_purpose.open("totp:user-1", &sealed).unwrap_err(),
        CryptoError::Integrity
    );
    let mut tampered = sealed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(
        key.open("totp:user-1", &tampered).unwrap_err(),
        CryptoError::Integrity
    );
    assert!(!format!("{kek:?}").contains('7'));
}

#[test]
fn key_files_of_the_wrong_size_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kek.bin");
    std::fs::write(&path, [1_u8; 16]).unwrap();
    assert_eq!(
        LocalKek::from_file(&path).unwrap_err(),
        CryptoError::BadKeyFile
    );
}
