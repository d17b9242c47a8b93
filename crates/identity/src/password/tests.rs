//! Unit tests of `password`.

use super::*;

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

#[test]
fn policy_refuses_short_long_common_and_personal_passwords() {
    assert_eq!(check_policy("short", &[]), Err(PasswordError::TooShort));
    assert_eq!(
        check_policy(&"x".repeat(PASSWORD_CHARS_MAX + 1), &[]),
        Err(PasswordError::TooLong)
    );
    assert_eq!(check_policy("password1234", &[]), Err(PasswordError::Weak));
    assert_eq!(check_policy("qwertyuiop123", &[]), Err(PasswordError::Weak));
    assert_eq!(
        check_policy("aliceexample2024", &["aliceexample"]),
        Err(PasswordError::Weak)
    );
    assert!(check_policy("correct horse battery staple", &[]).is_ok());
}

#[test]
fn hashes_are_argon2id_phc_and_verify() {
    let hasher = PasswordHasher::new().unwrap();
    let hash = hasher
        .hash(&secret("correct horse battery staple"))
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(
        hasher.verify(&secret("correct horse battery staple"), Some(&hash)),
        Verification::Valid {
            needs_rehash: false
        }
    );
    assert_eq!(
        hasher.verify(&secret("wrong horse battery staple"), Some(&hash)),
        Verification::Invalid
    );
    assert_eq!(
        hasher.verify(&secret("correct horse battery staple"), None),
        Verification::Invalid
    );
}

#[test]
fn hashes_with_old_parameters_ask_for_a_rehash() {
    let hasher = PasswordHasher::new().unwrap();
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8 * 1024, 1, 1, None).unwrap(),
    );
    let old = weak
        .hash_password(b"correct horse battery staple")
        .unwrap()
        .to_string();
    assert_eq!(
        hasher.verify(&secret("correct horse battery staple"), Some(&old)),
        Verification::Valid { needs_rehash: true }
    );
}
