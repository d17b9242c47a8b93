//! Unit tests of client-address resolution (the spoofing rules of the edge).

use super::*;
use http::HeaderValue;

fn trusted(header: ForwardedHeader) -> TrustedProxies {
    TrustedProxies::new(
        vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
        header,
    )
}

fn check(peer: &str, headers: &[(&'static str, &str)], expected: Result<&str, ()>) {
    let header = if headers.iter().any(|(name, _)| *name == "forwarded") {
        ForwardedHeader::Forwarded
    } else {
        ForwardedHeader::XForwardedFor
    };
    check_with(header, peer, headers, expected);
}

fn check_with(
    header: ForwardedHeader,
    peer: &str,
    headers: &[(&'static str, &str)],
    expected: Result<&str, ()>,
) {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    let got = resolve(peer.parse().unwrap(), &map, &trusted(header));
    match expected {
        Ok(address) => assert_eq!(got, Ok(address.parse().unwrap()), "{peer} {headers:?}"),
        Err(()) => assert!(got.is_err(), "{peer} {headers:?} gave {got:?}"),
    }
}

#[test]
fn untrusted_peers_cannot_claim_another_address() {
    check(
        "203.0.113.9",
        &[("x-forwarded-for", "1.2.3.4")],
        Ok("203.0.113.9"),
    );
    check(
        "203.0.113.9",
        &[("forwarded", "for=1.2.3.4")],
        Ok("203.0.113.9"),
    );
    // Malformed headers from an untrusted peer are ignored, not errors.
    check(
        "203.0.113.9",
        &[("x-forwarded-for", "garbage")],
        Ok("203.0.113.9"),
    );
}

#[test]
fn trusted_proxies_forward_the_rightmost_untrusted_address() {
    check(
        "10.0.0.1",
        &[("x-forwarded-for", "198.51.100.7")],
        Ok("198.51.100.7"),
    );
    // A client prepending a fake address cannot displace the one our proxy appended.
    check(
        "10.0.0.1",
        &[("x-forwarded-for", "1.1.1.1, 198.51.100.7")],
        Ok("198.51.100.7"),
    );
    check(
        "10.0.0.1",
        &[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.2.3.4")],
        Ok("198.51.100.7"),
    );
    check(
        "10.0.0.1",
        &[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ],
        Ok("198.51.100.7"),
    );
    check(
        "10.0.0.1",
        &[("x-forwarded-for", "10.9.9.9, 10.2.3.4")],
        Ok("10.9.9.9"),
    );
    check("10.0.0.1", &[], Ok("10.0.0.1"));
    check(
        "::ffff:10.0.0.1",
        &[("x-forwarded-for", "198.51.100.7")],
        Ok("198.51.100.7"),
    );
}

#[test]
fn the_forwarded_header_is_understood_when_configured() {
    check(
        "10.0.0.1",
        &[("forwarded", "for=198.51.100.7;proto=https")],
        Ok("198.51.100.7"),
    );
    check(
        "10.0.0.1",
        &[("forwarded", r#"for="[2001:db8::1]:4711", for=10.1.1.1"#)],
        Ok("2001:db8::1"),
    );
}

#[test]
fn only_the_configured_header_is_read() {
    // A proxy that appends to X-Forwarded-For passes a client's own `Forwarded` through.
    let both = [
        ("forwarded", "for=192.0.2.1:8080"),
        ("x-forwarded-for", "198.51.100.7"),
    ];
    check_with(
        ForwardedHeader::XForwardedFor,
        "10.0.0.1",
        &both,
        Ok("198.51.100.7"),
    );
    check_with(
        ForwardedHeader::Forwarded,
        "10.0.0.1",
        &both,
        Ok("192.0.2.1"),
    );
    // The other header is not even parsed: its garbage is no error.
    check_with(
        ForwardedHeader::XForwardedFor,
        "10.0.0.1",
        &[
            ("forwarded", "garbage"),
            ("x-forwarded-for", "198.51.100.7"),
        ],
        Ok("198.51.100.7"),
    );
    // Without the configured header, the proxy itself is the client.
    check_with(
        ForwardedHeader::Forwarded,
        "10.0.0.1",
        &[("x-forwarded-for", "198.51.100.7")],
        Ok("10.0.0.1"),
    );
}

#[test]
fn malformed_headers_from_trusted_proxies_are_errors() {
    check("10.0.0.1", &[("x-forwarded-for", "not-an-ip")], Err(()));
    check("10.0.0.1", &[("x-forwarded-for", "1.2.3.4,,")], Err(()));
    check("10.0.0.1", &[("forwarded", "for=unknown")], Err(()));
    check("10.0.0.1", &[("forwarded", "for=\"1.2.3.4")], Err(()));
    check("10.0.0.1", &[("forwarded", "garbage")], Err(()));
    let long = vec!["1.2.3.4"; FORWARDED_HOPS_MAX + 1].join(",");
    check("10.0.0.1", &[("x-forwarded-for", long.as_str())], Err(()));
}
