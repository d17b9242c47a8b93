//! Unit tests of `refresh`.

use super::*;

#[test]
fn tokens_are_random_256_bit_and_hashed() {
    let (a, hash_a) = new_refresh_token().unwrap();
    let (b, _) = new_refresh_token().unwrap();
    assert_ne!(a.expose_secret(), b.expose_secret());
    assert_eq!(a.expose_secret().len(), 43);
    assert!(is_plausible_refresh_token(a.expose_secret()));
    assert_eq!(hash_refresh_token(&a), hash_a);
    assert!(!is_plausible_refresh_token("a;b"));
}
