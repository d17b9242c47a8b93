//! Unit tests of `guard`: the per-network connection cap and connection expiry.

use std::time::Duration;

use super::{Activity, InFlight, PerIpConnections};

#[test]
fn a_network_is_capped_and_a_closed_connection_frees_its_slot() {
    let table = PerIpConnections::new(2, vec!["10.0.0.0/8".parse().unwrap()]);
    let ip = "192.0.2.7".parse().unwrap();
    let first = table.admit(ip).unwrap();
    let _second = table.admit(ip).unwrap();
    assert!(table.admit(ip).is_none(), "a third from the same address");
    // The same IPv6 /64 is one network.
    let v6a = "2001:db8::1".parse().unwrap();
    let v6b = "2001:db8::ffff".parse().unwrap();
    let _a = table.admit(v6a).unwrap();
    let _b = table.admit(v6b).unwrap();
    assert!(table.admit("2001:db8::2".parse().unwrap()).is_none());
    assert!(table.admit("2001:db8:0:1::2".parse().unwrap()).is_some());
    drop(first);
    assert!(table.admit(ip).is_some());
    // A trusted proxy carries everyone's connections.
    let proxy = "10.1.2.3".parse().unwrap();
    let held: Vec<_> = (0..10).map(|_| table.admit(proxy).unwrap()).collect();
    assert_eq!(held.len(), 10);
}

#[test]
fn a_connection_expires_without_a_first_request_or_when_idle() {
    let activity = Activity::new();
    assert_eq!(
        activity.expired(Duration::from_secs(5), Duration::ZERO),
        None
    );
    assert_eq!(
        activity.expired(Duration::ZERO, Duration::from_secs(5)),
        Some("no_first_request")
    );
    let request = InFlight::start(&activity);
    assert_eq!(
        activity.expired(Duration::ZERO, Duration::ZERO),
        None,
        "busy"
    );
    drop(request);
    assert_eq!(
        activity.expired(Duration::ZERO, Duration::from_secs(60)),
        None
    );
    assert_eq!(
        activity.expired(Duration::ZERO, Duration::ZERO),
        Some("idle")
    );
}
