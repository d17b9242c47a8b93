//! Unit tests of `grace`.

use super::*;

#[test]
fn grace_answers_open_only_with_the_rotated_token_and_session() {
    let token = SecretString::from("old-token".to_owned());
    let other = SecretString::from("other-token".to_owned());
    let sealed = seal(&token, "s1", b"pair").unwrap();
    assert_eq!(open(&token, "s1", &sealed).unwrap().as_slice(), b"pair");
    assert!(open(&other, "s1", &sealed).is_none());
    assert!(open(&token, "s2", &sealed).is_none());
    assert!(seal(&token, "s1", &vec![0; GRACE_PLAINTEXT_BYTES_MAX + 1]).is_err());
}
