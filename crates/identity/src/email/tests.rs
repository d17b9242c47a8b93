//! Unit tests of `email`.

use super::*;

#[test]
fn spellings_of_one_mailbox_normalise_to_one_identity() {
    let a = Email::parse("  Alice@Example.COM ").unwrap();
    assert_eq!(a.as_str(), "alice@example.com");
    // Fullwidth characters fold under NFKC.
    assert_eq!(Email::parse("Alice@ｅxample.com").unwrap(), a);
}

#[test]
fn malformed_addresses_are_refused() {
    for bad in [
        "",
        "alice",
        "@example.com",
        "alice@",
        "alice@localhost",
        "a b@example.com",
        "alice@exa mple.com",
        "alice@@example.com",
        "al\u{0}ice@example.com",
        "alice@.example.com",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad:?}");
    }
    let long = format!("{}@example.com", "a".repeat(300));
    assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    assert!(!format!("{:?}", Email::parse("x@example.com").unwrap()).contains("example"));
}
