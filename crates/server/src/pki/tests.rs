//! Unit tests of the development PKI: names, lifetimes and CA/key pairing.

use super::*;

fn internal_ca() -> CertificateAuthority {
    let ca = generate_ca(true).unwrap();
    CertificateAuthority::load(&ca.cert_pem, &ca.key_pem).unwrap()
}

fn parse(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

#[test]
fn client_certificates_carry_exactly_one_service_uri_and_bounded_lifetimes() {
    let ca = internal_ca();
    for (days, expected) in [(30, 30), (CLIENT_CERT_VALIDITY_DAYS_MAX, 365), (9999, 365)] {
        let issued = issue_client(&ca, "reports", days).unwrap();
        let der = parse(&issued.cert_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let uris: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|name| format!("{name:?}"))
            .collect();
        assert_eq!(uris, ["URI(\"spiffe://strongroom/service/reports\")"]);
        let validity = cert.validity();
        let lifetime = validity.not_after.timestamp() - validity.not_before.timestamp();
        assert_eq!(lifetime, expected * 86_400, "--days {days}");
        assert!(ca.issued(&cert));
        assert!(cert.raw_serial().len() >= SERIAL_BYTES);
    }
}

#[test]
fn nothing_outlives_its_ca() {
    let ca = internal_ca();
    let issued = issue_client(&ca, "reports", CLIENT_CERT_VALIDITY_DAYS_MAX).unwrap();
    let der = parse(&issued.cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(cert.validity().not_after.to_datetime() <= ca.not_after);
}

#[test]
fn a_ca_key_must_belong_to_the_ca_certificate() {
    let ca = generate_ca(true).unwrap();
    let other = generate_ca(true).unwrap();
    assert!(matches!(
        CertificateAuthority::load(&ca.cert_pem, &other.key_pem),
        Err(PkiError::KeyDoesNotMatchCa)
    ));
    assert!(matches!(
        CertificateAuthority::load(&ca.cert_pem, "not a key"),
        Err(PkiError::NotAKey)
    ));
    // A bundle holding the right certificate second still pairs.
    let bundle = format!("{}{}", other.cert_pem, ca.cert_pem);
    assert!(CertificateAuthority::load(&bundle, &ca.key_pem).is_ok());
    // A certificate from another CA is not "issued" by this one.
    let foreign = CertificateAuthority::load(&other.cert_pem, &other.key_pem).unwrap();
    let issued = issue_client(&foreign, "payments", 1).unwrap();
    let der = parse(&issued.cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(
        !CertificateAuthority::load(&ca.cert_pem, &ca.key_pem)
            .unwrap()
            .issued(&cert)
    );
}

#[test]
fn service_uris_name_exactly_one_valid_principal() {
    assert_eq!(
        service_name_from_uri("spiffe://strongroom/service/payments"),
        Some("payments")
    );
    for not_a_service in [
        "spiffe://strongroom/service/",
        "spiffe://strongroom/service/Payments",
        "spiffe://strongroom/service/a/b",
        "spiffe://strongroom/payments",
        "spiffe://other/service/payments",
        "payments",
    ] {
        assert_eq!(
            service_name_from_uri(not_a_service),
            None,
            "{not_a_service}"
        );
    }
    assert_eq!(
        service_uri("reports"),
        "spiffe://strongroom/service/reports"
    );
    assert_eq!(serial_hex(&[0x00, 0x4a, 0xff]), "004aff");
}
