//! `strongroom pki issue-client`: the only command that reads the internal CA's private key,
//! from the CA directory (`--ca-dir`), never from the serving directory.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::{init, pki};

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

fn print_issued(cert: &Path, key: &Path) {
    println!(
        "certificate {}\nprivate key {}",
        cert.display(),
        key.display()
    );
}
