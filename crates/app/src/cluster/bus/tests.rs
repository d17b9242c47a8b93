//! Unit tests of `bus`: the wire form of invalidations.

use super::Invalidation;

#[test]
fn messages_round_trip_and_junk_is_ignored() {
    let session = Invalidation::Session("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into());
    assert_eq!(Invalidation::decode(&session.encode()), Some(session));
    let user = Invalidation::User("abc-123".into());
    assert_eq!(Invalidation::decode(&user.encode()), Some(user));
    for junk in [
        "",
        "s:",
        "x:abc",
        "s:a b",
        "s:a:b",
        "u:'; DROP",
        &format!("s:{}", "a".repeat(65)),
    ] {
        assert_eq!(Invalidation::decode(junk), None, "{junk}");
    }
}
