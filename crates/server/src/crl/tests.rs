//! Unit tests of reading and writing the client CRL.

use super::*;
use crate::pki;

fn internal_ca() -> CertificateAuthority {
    let ca = pki::generate_ca(true).unwrap();
    CertificateAuthority::load(&ca.cert_pem, &ca.key_pem).unwrap()
}

fn revoked(serial: &[u8]) -> Revoked {
    Revoked {
        serial: serial.to_vec(),
        // Whole seconds: the CRL stores no fractions.
        revoked_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    }
}

#[test]
fn a_written_crl_reads_back_with_its_entries_and_number() {
    let ca = internal_ca();
    let entries = [revoked(&[0x4a, 0x01]), revoked(&[0x7f; 16])];
    let pem = build(&ca, &entries, &[0x02]).unwrap();
    let crl = parse(pem.as_bytes(), std::slice::from_ref(ca.certificate())).unwrap();
    assert_eq!(crl.revoked, entries);
    assert_eq!(crl.number, [0x02]);
    let now = app::Clock::System.now_utc();
    assert!(!crl.is_stale(now));
    assert!(crl.is_stale(now + Duration::days(CRL_NEXT_UPDATE_DAYS + 1)));
}

#[test]
fn only_one_crl_signed_by_the_internal_ca_is_accepted() {
    let ca = internal_ca();
    let other = internal_ca();
    let cas = std::slice::from_ref(ca.certificate());
    let foreign = build(&other, &[], &[0x01]).unwrap();
    assert!(
        parse(foreign.as_bytes(), cas)
            .unwrap_err()
            .contains("not signed")
    );
    let own = build(&ca, &[], &[0x01]).unwrap();
    let twice = format!("{own}{own}");
    assert!(
        parse(twice.as_bytes(), cas)
            .unwrap_err()
            .contains("more than one")
    );
    assert!(parse(b"garbage", cas).unwrap_err().contains("not a PEM"));
    let truncated = "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n";
    assert!(
        parse(truncated.as_bytes(), cas)
            .unwrap_err()
            .contains("not a valid")
    );
}

#[test]
fn crl_numbers_increase_by_one() {
    assert_eq!(next_number(&[]).unwrap(), [0x01]);
    assert_eq!(next_number(&[0x01]).unwrap(), [0x02]);
    assert_eq!(next_number(&[0x01, 0xff]).unwrap(), [0x02, 0x00]);
    assert_eq!(next_number(&[0xff]).unwrap(), [0x01, 0x00]);
    assert_eq!(next_number(&[0xff; 20]).unwrap_err().key, CRL_KEY);
}
