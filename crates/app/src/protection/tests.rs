//! Unit tests of the protection settings against MaxMind's test City database.

use super::*;

fn test_db() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../test_support/data/geoip/GeoIP2-City-Test.mmdb")
}

#[test]
fn addresses_are_located_and_blocked_by_country() {
    let geo = GeoIp::open(&test_db()).unwrap();
    let london = geo.locate("81.2.69.142".parse().unwrap()).unwrap();
    assert_eq!(london.label(), "London, GB");
    assert!(london.coordinates().is_some());
    assert_eq!(
        geo.locate("175.16.199.7".parse().unwrap()).unwrap().label(),
        "Changchun, CN"
    );
    assert_eq!(geo.locate("127.0.0.1".parse().unwrap()), None);
    let cookies = DeviceCookies::new(crypto::Dek::from_bytes(&[1; 32]).unwrap().mac_key("d"));
    let protection = Protection::new(geo, cookies, 1000, BTreeSet::from(["CN".to_owned()]));
    let changchun = protection.geo.locate("175.16.199.7".parse().unwrap());
    assert!(protection.is_blocked(changchun.as_ref()));
    assert!(!protection.is_blocked(Some(&london)));
    assert!(!protection.is_blocked(None));
}

#[test]
fn a_bad_replacement_keeps_the_database_in_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    std::fs::copy(test_db(), &path).unwrap();
    let geo = GeoIp::open(&path).unwrap();
    assert!(geo.reload_if_changed(), "unchanged file");
    std::fs::write(&path, b"not a database").unwrap();
    assert!(!geo.reload_if_changed());
    assert!(geo.locate("81.2.69.142".parse().unwrap()).is_some());
    assert!(
        GeoIp::open(&path).is_err(),
        "unreadable at start is an error"
    );
    assert!(GeoIp::open(&dir.path().join("missing.mmdb")).is_err());
}
