//! Unit tests of mapping a client certificate to a service principal.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

use super::*;

/// A self-signed certificate with these common names and URI SANs (the mapping runs after
/// rustls has verified the chain, so the issuer does not matter here).
fn certificate(common_names: &[&str], uris: &[&str]) -> CertificateDer<'static> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    for common_name in common_names {
        name.push(DnType::CommonName, *common_name);
    }
    params.distinguished_name = name;
    params.subject_alt_names = uris
        .iter()
        .map(|uri| SanType::URI((*uri).try_into().unwrap()))
        .collect();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    params.self_signed(&key).unwrap().der().clone()
}

#[test]
fn a_certificate_names_a_principal_only_by_one_service_uri() {
    let payments = "spiffe://strongroom/service/payments";
    let reports = "spiffe://strongroom/service/reports";
    let check = |common_names: &[&str], uris: &[&str], expected: Result<&str, Refusal>| {
        assert_eq!(
            principal_of(&certificate(common_names, uris)),
            expected.map(str::to_owned),
            "CN {common_names:?}, URIs {uris:?}"
        );
    };
    check(&["payments"], &[payments], Ok("payments"));
    check(&[], &[payments], Ok("payments"));
    check(&[payments], &[payments], Ok("payments"));
    check(&["payments"], &[payments, payments], Ok("payments"));
    check(&["payments"], &[], Err(Refusal::NoServiceUri));
    check(
        &["payments"],
        &[payments, reports],
        Err(Refusal::SeveralServices),
    );
    check(&["reports"], &[payments], Err(Refusal::CommonNameDiffers));
    check(
        &["payments", "reports"],
        &[payments],
        Err(Refusal::CommonNameDiffers),
    );
    check(
        &["payments"],
        &["spiffe://strongroom/payments"],
        Err(Refusal::ForeignUri),
    );
    check(
        &["payments"],
        &[payments, "spiffe://elsewhere/service/payments"],
        Err(Refusal::ForeignUri),
    );
    check(
        &["payments"],
        &[payments, "https://payments.example"],
        Err(Refusal::ForeignUri),
    );
}

#[test]
fn only_configured_principals_are_recognised() {
    let directory = ServiceDirectory::new(&[ServiceConfig {
        name: "ledgerbot".into(),
        principal: "reports".into(),
        scopes: vec!["ledger:read".into()],
    }]);
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let identify = |uri: &str| directory.identify(Some(&certificate(&[], &[uri])), peer);
    match identify("spiffe://strongroom/service/reports") {
        PeerIdentity::Service(principal) => assert_eq!(principal.name, "ledgerbot"),
        PeerIdentity::Unrecognised => panic!("reports not recognised"),
    }
    assert!(matches!(
        identify("spiffe://strongroom/service/ledgerbot"),
        PeerIdentity::Unrecognised
    ));
    assert!(matches!(
        directory.identify(None, peer),
        PeerIdentity::Unrecognised
    ));
}
