//! Unit tests of `totp`.

use super::*;

#[test]
fn codes_verify_within_one_step_only() {
    let secret = new_secret().unwrap();
    let now = 1_800_000_000;
    let current = code_at(&secret, now).unwrap();
    assert_eq!(check(&secret, &current, now), Some(now / TOTP_STEP_SECS));
    let previous = code_at(&secret, now - TOTP_STEP_SECS).unwrap();
    assert!(check(&secret, &previous, now).is_some());
    let two_back = code_at(&secret, now - 2 * TOTP_STEP_SECS).unwrap();
    let two_ahead = code_at(&secret, now + 2 * TOTP_STEP_SECS).unwrap();
    assert_eq!(check(&secret, &two_back, now), None);
    assert_eq!(check(&secret, &two_ahead, now), None);
    assert_eq!(check(&secret, "12345", now), None);
    assert_eq!(check(&secret, "abcdef", now), None);
}

#[test]
fn enrolment_uri_names_the_issuer() {
    let secret = new_secret().unwrap();
    let (base32, uri) = enrolment(&secret, "ann@example.com").unwrap();
    assert!(
        uri.expose_secret()
            .starts_with("otpauth://totp/Strongroom:ann%40example.com?")
    );
    assert!(uri.expose_secret().contains(base32.expose_secret()));
}

#[test]
fn recovery_codes_are_ten_distinct_and_normalise() {
    let codes = new_recovery_codes().unwrap();
    assert_eq!(codes.len(), 10);
    let mut unique: Vec<&str> = codes.iter().map(|code| code.expose_secret()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    let typed = SecretString::from(codes[0].expose_secret().to_uppercase().replace('-', " "));
    assert_eq!(
        normalise_recovery_code(&typed).unwrap().as_str(),
        codes[0].expose_secret().replace('-', "")
    );
}
