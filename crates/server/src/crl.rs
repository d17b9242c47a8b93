//! The internal client CA's certificate revocation list (`tls.internal_client_crl`): read and
//! checked (one PEM X.509 CRL, signed by the internal CA) for the internal listener, and
//! written — atomically, previous entries kept — by `init` and `pki revoke-client`.

use std::io::Read;
use std::path::Path;

use rcgen::{CertificateRevocationListParams, RevokedCertParams, SerialNumber};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};

use crate::config::ConfigError;
pub use crate::limits::{CRL_ENTRIES_MAX, CRL_FILE_BYTES_MAX};
use crate::limits::{CRL_ENTRY_PEM_BYTES_MAX, CRL_NUMBER_BYTES_MAX};
use crate::pki::CertificateAuthority;

/// The configuration key every CRL problem is reported under.
pub const CRL_KEY: &str = "tls.internal_client_crl";
/// How long a CRL written here declares itself current (`nextUpdate`).
pub const CRL_NEXT_UPDATE_DAYS: i64 = 30;
const _: () = assert!(CRL_ENTRIES_MAX as u64 * CRL_ENTRY_PEM_BYTES_MAX < CRL_FILE_BYTES_MAX);

/// One revoked certificate: its serial (DER content octets) and when it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub serial: Vec<u8>,
    pub revoked_at: OffsetDateTime,
}

/// A CRL that parsed and whose signature verified against the internal CA.
#[derive(Debug)]
pub struct Crl {
    pub der: CertificateRevocationListDer<'static>,
    pub revoked: Vec<Revoked>,
    /// Big-endian, as in the CRL number extension; empty when the CRL has none.
    pub number: Vec<u8>,
    pub next_update: Option<OffsetDateTime>,
}

impl Crl {
    /// True once `nextUpdate` has passed: the CRL still applies, but should be reissued.
    pub fn is_stale(&self, now: OffsetDateTime) -> bool {
        self.next_update.is_some_and(|next| next < now)
    }
}

fn crl_error(reason: String) -> ConfigError {
    ConfigError {
        key: CRL_KEY.into(),
        reason,
    }
}

/// Reads the CRL at `path` and checks it against the CA certificates `cas` (one must have
/// signed it).
pub fn read(path: &Path, cas: &[CertificateDer<'_>]) -> Result<Crl, ConfigError> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|_| crl_error(format!("cannot read {shown}")))?;
    let mut pem = Vec::new();
    file.take(CRL_FILE_BYTES_MAX.saturating_add(1))
        .read_to_end(&mut pem)
        .map_err(|_| crl_error(format!("cannot read {shown}")))?;
    if u64::try_from(pem.len()).unwrap_or(u64::MAX) > CRL_FILE_BYTES_MAX {
        return Err(crl_error(format!(
            "{shown} is larger than {CRL_FILE_BYTES_MAX} bytes"
        )));
    }
    parse(&pem, cas).map_err(|reason| crl_error(format!("{shown}: {reason}")))
}

/// Parses one PEM CRL and verifies it was signed by one of `cas`.
pub fn parse(pem: &[u8], cas: &[CertificateDer<'_>]) -> Result<Crl, String> {
    let mut blocks = CertificateRevocationListDer::pem_slice_iter(pem);
    let der = match (blocks.next(), blocks.next()) {
        (Some(Ok(der)), None) => der,
        (Some(_), Some(_)) => return Err("holds more than one CRL".into()),
        _ => return Err("is not a PEM X.509 CRL".into()),
    };
    let parsed = match x509_parser::parse_x509_crl(der.as_ref()) {
        Ok(([], parsed)) => parsed,
        _ => return Err("is not a valid X.509 CRL".into()),
    };
    let signed_by_ca = cas.iter().any(|ca| {
        x509_parser::parse_x509_certificate(ca.as_ref()).is_ok_and(|(_, ca)| {
            ca.subject().as_raw() == parsed.issuer().as_raw()
                && parsed.verify_signature(ca.public_key()).is_ok()
        })
    });
    if !signed_by_ca {
        return Err("is not signed by the internal client CA (tls.internal_client_ca)".into());
    }
    let revoked = parsed
        .iter_revoked_certificates()
        .map(|entry| Revoked {
            serial: entry.raw_serial().to_vec(),
            revoked_at: entry.revocation_date.to_datetime(),
        })
        .collect();
    let number = parsed
        .crl_number()
        .map(|number| number.to_bytes_be())
        .unwrap_or_default();
    let next_update = parsed.next_update().map(|time| time.to_datetime());
    Ok(Crl {
        der,
        revoked,
        number,
        next_update,
    })
}

/// `previous + 1`, big-endian; `1` when there was none.
pub fn next_number(previous: &[u8]) -> Result<Vec<u8>, ConfigError> {
    let mut number = previous.to_vec();
    let mut carry = true;
    for byte in number.iter_mut().rev() {
        if !carry {
            break;
        }
        let (sum, overflow) = byte.overflowing_add(1);
        *byte = sum;
        carry = overflow;
    }
    if carry {
        number.insert(0, 1);
    }
    if number.len() > CRL_NUMBER_BYTES_MAX {
        return Err(crl_error(format!(
            "the CRL number exceeds {CRL_NUMBER_BYTES_MAX} octets"
        )));
    }
    Ok(number)
}

/// A CRL listing `revoked`, numbered `number`, current from now for `CRL_NEXT_UPDATE_DAYS`,
/// signed by `ca`, as PEM.
pub fn build(
    ca: &CertificateAuthority,
    revoked: &[Revoked],
    number: &[u8],
) -> Result<String, rcgen::Error> {
    let now = app::Clock::System.now_utc();
    let params = CertificateRevocationListParams {
        this_update: now,
        next_update: now + Duration::days(CRL_NEXT_UPDATE_DAYS),
        crl_number: SerialNumber::from_slice(number),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|entry| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&entry.serial),
                revocation_time: entry.revoked_at,
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: ca.key_identifier().clone(),
    };
    params.signed_by(ca.issuer())?.pem()
}

#[cfg(test)]
mod tests;
