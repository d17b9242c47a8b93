//! Unit tests of `provider`.

use super::*;

#[tokio::test]
async fn rotation_keeps_old_versions_readable_and_contexts_bind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kek.bin");
    std::fs::write(&path, [9_u8; LOCAL_KEK_BYTES]).unwrap();
    let provider = KekProvider::local(LocalKeyring::load(&path).unwrap());
    let dek = Dek::generate().unwrap();
    let wrapped = provider.wrap(&dek, "profiles:a").await.unwrap();
    assert_eq!(wrapped.kek_version, 1);
    assert_eq!(
        provider.unwrap(&wrapped, "profiles:b").await.unwrap_err(),
        KmsError::Integrity
    );
    // Another process rotates the file; this provider notices.
    LocalKeyring::load(&path).unwrap().rotate().unwrap();
    assert_eq!(provider.current().await.unwrap().1, 2);
    let rewrapped = provider.wrap(&dek, "profiles:a").await.unwrap();
    assert_eq!(rewrapped.kek_version, 2);
    for version in [&wrapped, &rewrapped] {
        let opened = provider.unwrap(version, "profiles:a").await.unwrap();
        assert_eq!(opened.expose_bytes(), dek.expose_bytes());
    }
    let mut tampered = rewrapped.clone();
    tampered.bytes[20] ^= 1;
    assert_eq!(
        provider.unwrap(&tampered, "profiles:a").await.unwrap_err(),
        KmsError::Integrity
    );
    // Retiring version 1: what it wrapped can no longer be opened, and the file keeps
    // version 2 at its number (another process reading it agrees).
    assert_eq!(
        provider.retire(2).await.unwrap_err(),
        RetireError::CurrentVersion
    );
    provider.retire(1).await.unwrap();
    assert_eq!(
        provider.unwrap(&wrapped, "profiles:a").await.unwrap_err(),
        KmsError::UnknownKey
    );
    let reread = KekProvider::local(LocalKeyring::load(&path).unwrap());
    assert_eq!(reread.current().await.unwrap().1, 2);
    let opened = reread.unwrap(&rewrapped, "profiles:a").await.unwrap();
    assert_eq!(opened.expose_bytes(), dek.expose_bytes());
    assert_eq!(
        reread.unwrap(&wrapped, "profiles:a").await.unwrap_err(),
        KmsError::UnknownKey
    );
    let unknown = WrappedDek {
        kek_version: 9,
        ..rewrapped
    };
    assert_eq!(
        provider.unwrap(&unknown, "profiles:a").await.unwrap_err(),
        KmsError::UnknownKey
    );
}
