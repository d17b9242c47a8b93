//! Unit tests of `device_cookie`.

use super::*;

fn cookies(secret: &[u8]) -> DeviceCookies {
    DeviceCookies::new(crypto::Dek::from_bytes(secret).unwrap().mac_key("device"))
}

#[test]
fn genuine_cookies_verify_and_forgeries_do_not() {
    let ours = cookies(&[7; 32]);
    let (id, value) = ours.issue().unwrap();
    assert_eq!(ours.verify(&value), Some(id.clone()));
    assert_eq!(
        cookies(&[8; 32]).verify(&value),
        None,
        "another server's key"
    );
    let (other_id, _) = ours.issue().unwrap();
    assert_ne!(id, other_id);
    let swapped = value.replacen(&id, &other_id, 1);
    assert_eq!(ours.verify(&swapped), None, "an id with someone else's tag");
    for bad in [
        "",
        "v1",
        "v1..",
        "v2.a.b",
        &format!("{value}.x"),
        &"a".repeat(500),
    ] {
        assert_eq!(ours.verify(bad), None, "{bad}");
    }
}
