//! `strongroom pki issue-client` and `strongroom pki revoke-client`: the only commands that
//! read the internal CA's private key, from the CA directory (`--ca-dir`), never from the
//! serving directory.

use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::{Config, ConfigError};
use crate::{crl, init, pki, tls};

fn check_service_name(name: &str) -> Result<(), ConfigError> {
    if pki::is_valid_service_name(name) {
        Ok(())
    } else {
        Err(ConfigError {
            key: "--name".into(),
            reason: "use 1-64 characters of a-z, 0-9, - and _".into(),
        })
    }
}

/// The internal CA, from its certificate (`tls.internal_client_ca`) and its key in the CA
/// directory (`--ca-dir`, by default beside the configuration's directory).
fn internal_ca(
    config: &Config,
    ca_dir: Option<PathBuf>,
) -> Result<pki::CertificateAuthority, ConfigError> {
    let ca_dir = match ca_dir {
        Some(ca_dir) => ca_dir,
        None => init::default_ca_dir(&config.base_dir)?,
    };
    let key_path = ca_dir.join(init::INTERNAL_CA_KEY_FILE);
    let key = std::fs::read_to_string(&key_path).map_err(|_| ConfigError {
        key: "--ca-dir".into(),
        reason: format!(
            "the internal CA key {} cannot be read; pass --ca-dir with the directory \
             `strongroom init` wrote the CA keys to",
            key_path.display()
        ),
    })?;
    let certs =
        std::fs::read_to_string(&config.tls.internal_client_ca).map_err(|_| ConfigError {
            key: "tls.internal_client_ca".into(),
            reason: format!("cannot read {}", config.tls.internal_client_ca.display()),
        })?;
    pki::CertificateAuthority::load(&certs, &key).map_err(|error| match error {
        pki::PkiError::NotACertificate => ConfigError {
            key: "tls.internal_client_ca".into(),
            reason: format!(
                "{} does not hold a usable CA certificate",
                config.tls.internal_client_ca.display()
            ),
        },
        pki::PkiError::KeyDoesNotMatchCa => ConfigError {
            key: "--ca-dir".into(),
            reason: format!(
                "{} is not the key of the CA in tls.internal_client_ca",
                key_path.display()
            ),
        },
        other => ConfigError {
            key: "--ca-dir".into(),
            reason: format!("{}: {other}", key_path.display()),
        },
    })
}

pub fn issue_client(
    config: &Config,
    name: &str,
    ca_dir: Option<PathBuf>,
    days: i64,
    force: bool,
) -> anyhow::Result<()> {
    check_service_name(name)?;
    if !(1..=pki::CLIENT_CERT_VALIDITY_DAYS_MAX).contains(&days) {
        return Err(ConfigError {
            key: "--days".into(),
            reason: format!("must be 1 to {}", pki::CLIENT_CERT_VALIDITY_DAYS_MAX),
        }
        .into());
    }
    let dir = config.base_dir.join("pki/clients");
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    if !force && (cert_path.exists() || key_path.exists()) {
        return Err(ConfigError {
            key: "--name".into(),
            reason: format!(
                "{} already exists; pass --force to replace it",
                key_path.display()
            ),
        }
        .into());
    }
    let ca = internal_ca(config, ca_dir)?;
    let issued = pki::issue_client(&ca, name, days)?;
    std::fs::create_dir_all(&dir)?;
    init::write_file(&cert_path, issued.cert_pem.as_bytes(), 0o644)?;
    init::write_file(&key_path, issued.key_pem.as_bytes(), 0o600)?;
    print_issued(&cert_path, &key_path);
    let configured = config
        .services
        .iter()
        .find(|service| service.principal == name);
    match configured {
        Some(service) => println!("configured as [services.{}]", service.name),
        None => println!(
            "add to the configuration (then restart the server):\n\n\
             [services.{name}]\nsubject = \"{name}\"\nscopes = []"
        ),
    }
    Ok(())
}

/// Adds the serial of `pki/clients/NAME.pem` to the client CRL, keeping earlier entries, with
/// the next CRL number, signed by the internal CA and written atomically.
pub fn revoke_client(config: &Config, name: &str, ca_dir: Option<PathBuf>) -> anyhow::Result<()> {
    check_service_name(name)?;
    let cert_path = config.base_dir.join(format!("pki/clients/{name}.pem"));
    let no_certificate = || ConfigError {
        key: "--name".into(),
        reason: format!("no certificate for {name} at {}", cert_path.display()),
    };
    let cert_der = CertificateDer::from_pem_file(&cert_path).map_err(|_| no_certificate())?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der.as_ref()).map_err(|_| no_certificate())?;
    let ca = internal_ca(config, ca_dir)?;
    if !ca.issued(&cert) {
        return Err(ConfigError {
            key: "--name".into(),
            reason: format!(
                "{} was not issued by the internal CA (tls.internal_client_ca)",
                cert_path.display()
            ),
        }
        .into());
    }
    let serial = cert.raw_serial().to_vec();
    let serial_hex = pki::serial_hex(&serial);
    let configured_crl = config.tls.internal_client_crl.clone();
    let crl_path = configured_crl
        .clone()
        .unwrap_or_else(|| config.base_dir.join(init::DEFAULT_CRL_FILE));
    let (mut revoked, previous_number) = if crl_path.exists() {
        let existing = crl::read(&crl_path, std::slice::from_ref(ca.certificate()))?;
        (existing.revoked, existing.number)
    } else {
        (Vec::new(), Vec::new())
    };
    if revoked.iter().any(|entry| entry.serial == serial) {
        println!(
            "{name} (serial {serial_hex}) is already revoked in {}",
            crl_path.display()
        );
        return Ok(());
    }
    if revoked.len() >= crl::CRL_ENTRIES_MAX {
        return Err(ConfigError {
            key: crl::CRL_KEY.into(),
            reason: format!("already lists {} certificates", crl::CRL_ENTRIES_MAX),
        }
        .into());
    }
    revoked.push(crl::Revoked {
        serial,
        revoked_at: app::Clock::System.now_utc(),
    });
    let number = crl::next_number(&previous_number)?;
    let pem = crl::build(&ca, &revoked, &number)?;
    init::write_file_atomically(&crl_path, pem.as_bytes(), 0o644)?;
    println!(
        "revoked {name} (serial {serial_hex}); {} now lists {} certificate(s), CRL number {}",
        crl_path.display(),
        revoked.len(),
        x509_parser::num_bigint::BigUint::from_bytes_be(&number)
    );
    if configured_crl.is_some() {
        println!(
            "a running server refuses it within {} s",
            tls::CRL_RELOAD_INTERVAL.as_secs()
        );
    } else {
        println!(
            "tls.internal_client_crl is not set: set it to \"{}\" and restart the server to \
             enforce this CRL",
            init::DEFAULT_CRL_FILE
        );
    }
    Ok(())
}

fn print_issued(cert: &Path, key: &Path) {
    println!(
        "certificate {}\nprivate key {}",
        cert.display(),
        key.display()
    );
}
