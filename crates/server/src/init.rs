//! `strongroom init --dir DIR [--ca-dir CA_DIR]`: a configuration, a development PKI (with an
//! empty client CRL) and fresh keys, so that a fresh checkout serves with TLS on. The CA private
//! keys go to CA_DIR (0700), never into DIR. Key files are created 0600 and never overwritten
//! unless `--force` is given.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

use crate::config::ConfigError;
use crate::{crl, pki};

pub const CONFIG_TEMPLATE: &str = r#"# Strongroom configuration written by `strongroom init`.
# Every key can be overridden by STRONGROOM__SECTION__KEY; relative paths are relative to this file.

[server]
public_addr = "127.0.0.1:8443"
internal_addr = "127.0.0.1:9443"
ops_addr = "127.0.0.1:9100"
public_origin = "https://localhost:8443"
cors_allowed_origins = []
trusted_proxies = []
forwarded_header = "x-forwarded-for"
header_read_timeout_secs = 10

[tls]
cert = "pki/server.pem"
key = "pki/server.key"
internal_client_ca = "pki/internal-ca.pem"
internal_client_crl = "pki/internal-crl.pem"

[database]
url = "sqlite://data/strongroom.db"

[redis]
url = ""

[keys]
provider = "local"
local_kek_file = "keys/kek.bin"
signing_key_file = "keys/signing.ed25519"
blind_index_key_file = "keys/blind-index.key"

[auth]
access_token_ttl_secs = 900
refresh_family_ttl_secs = 604800
step_up_max_age_secs = 300

[ledger]
currencies = ["EUR", "USD", "GBP"]
step_up_amount = 100000
four_eyes_amount = 1000000

[audit]
checkpoint_secs = 60
signing_key_file = "keys/audit.ed25519"

[protection]
geoip_db = ""
impossible_travel_kmh = 1000
blocked_countries = []

[rate_limits]

[services.payments]
subject = "payments"
scopes = ["ledger:deposit", "ledger:withdraw", "ledger:read"]
"#;

/// Where `init` writes the CA private keys unless `--ca-dir` says otherwise: `DIR.ca`
/// beside DIR (`run` → `run.ca`).
pub const CA_DIR_SUFFIX: &str = ".ca";
/// The server CA's private key, inside the CA directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// The internal client CA's private key, inside the CA directory.
pub const INTERNAL_CA_KEY_FILE: &str = "internal-ca.key";
/// The CRL `init` writes (empty) and `pki revoke-client` falls back to, under DIR.
pub const DEFAULT_CRL_FILE: &str = "pki/internal-crl.pem";

/// Why `init` refused to run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {path} already exists and is not empty; pass --force to overwrite it")]
pub struct WouldOverwrite {
    pub flag: &'static str,
    pub path: String,
}

/// `DIR.ca` beside `dir`.
pub fn default_ca_dir(dir: &Path) -> Result<PathBuf, ConfigError> {
    let dir = normalised(dir);
    match (dir.parent(), dir.file_name()) {
        (Some(parent), Some(name)) => {
            let mut name = name.to_os_string();
            name.push(CA_DIR_SUFFIX);
            Ok(parent.join(name))
        }
        _ => Err(ConfigError {
            key: "--ca-dir".into(),
            reason: format!(
                "no default beside {}; pass --ca-dir explicitly",
                dir.display()
            ),
        }),
    }
}

/// `path` made absolute, with `.` and `..` resolved lexically (it may not exist yet).
fn normalised(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut normal = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

fn occupied(dir: &Path) -> bool {
    dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
}

pub fn run(dir: &Path, ca_dir: &Path, force: bool) -> anyhow::Result<()> {
    if normalised(ca_dir).starts_with(normalised(dir)) {
        return Err(ConfigError {
            key: "--ca-dir".into(),
            reason: "must be outside --dir: the CA keys never live in the serving directory".into(),
        }
        .into());
    }
    for (flag, path) in [("--dir", dir), ("--ca-dir", ca_dir)] {
        if occupied(path) && !force {
            return Err(WouldOverwrite {
                flag,
                path: path.display().to_string(),
            }
            .into());
        }
    }
    for sub in ["pki/clients", "keys", "data"] {
        std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {sub}"))?;
    }
    std::fs::set_permissions(dir.join("keys"), std::fs::Permissions::from_mode(0o700))?;
    std::fs::create_dir_all(ca_dir).with_context(|| format!("creating {}", ca_dir.display()))?;
    std::fs::set_permissions(ca_dir, std::fs::Permissions::from_mode(0o700))?;
    // Symbolic links could still point one into the other.
    if ca_dir.canonicalize()?.starts_with(dir.canonicalize()?) {
        return Err(ConfigError {
            key: "--ca-dir".into(),
            reason: "must be outside --dir: the CA keys never live in the serving directory".into(),
        }
        .into());
    }

    let server_ca = pki::generate_ca(false)?;
    let server_signer = pki::CertificateAuthority::load(&server_ca.cert_pem, &server_ca.key_pem)?;
    let server = pki::issue_server(&server_signer)?;
    let internal_ca = pki::generate_ca(true)?;
    let internal_signer =
        pki::CertificateAuthority::load(&internal_ca.cert_pem, &internal_ca.key_pem)?;
    let payments = pki::issue_client(
        &internal_signer,
        "payments",
        pki::CLIENT_CERT_VALIDITY_DAYS_MAX,
    )?;
    let crl = crl::build(&internal_signer, &[], &crl::next_number(&[])?)?;
    let signing = pki::generate_signing_key()?;

    write_file(
        &ca_dir.join(CA_KEY_FILE),
        server_ca.key_pem.as_bytes(),
        0o600,
    )?;
    write_file(
        &ca_dir.join(INTERNAL_CA_KEY_FILE),
        internal_ca.key_pem.as_bytes(),
        0o600,
    )?;
    // A --force run over an older layout must not leave CA keys behind in DIR.
    for stale in ["pki/ca.key", "pki/internal-ca.key"] {
        let stale = dir.join(stale);
        if stale.exists() {
            std::fs::remove_file(&stale)
                .with_context(|| format!("removing {}", stale.display()))?;
        }
    }
    write_file(
        &dir.join("strongroom.toml"),
        CONFIG_TEMPLATE.as_bytes(),
        0o644,
    )?;
    write_file(
        &dir.join("pki/ca.pem"),
        server_ca.cert_pem.as_bytes(),
        0o644,
    )?;
    write_file(
        &dir.join("pki/server.pem"),
        server.cert_pem.as_bytes(),
        0o644,
    )?;
    write_file(
        &dir.join("pki/server.key"),
        server.key_pem.as_bytes(),
        0o600,
    )?;
    write_file(
        &dir.join("pki/internal-ca.pem"),
        internal_ca.cert_pem.as_bytes(),
        0o644,
    )?;
    write_file(&dir.join(DEFAULT_CRL_FILE), crl.as_bytes(), 0o644)?;
    write_file(
        &dir.join("pki/clients/payments.pem"),
        payments.cert_pem.as_bytes(),
        0o644,
    )?;
    write_file(
        &dir.join("pki/clients/payments.key"),
        payments.key_pem.as_bytes(),
        0o600,
    )?;
    // Symmetric key bytes are made and written by `crypto`, the one crate that holds them.
    for key_file in ["keys/kek.bin", "keys/blind-index.key"] {
        crypto::generate_key_file(&dir.join(key_file))
            .with_context(|| format!("writing {key_file}"))?;
    }
    write_file(&dir.join("keys/signing.ed25519"), signing.as_bytes(), 0o600)?;
    crypto::AuditKey::generate_file(&dir.join("keys/audit.ed25519"))
        .context("writing keys/audit.ed25519")?;
    Ok(())
}

/// Replaces `path` with `contents` so that readers see the old file or the new one, never a
/// part: written beside it with `mode`, synced, renamed over it, and the directory synced.
pub fn write_file_atomically(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let directory = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no directory", path.display()))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} has no file name", path.display()))?;
    let mut staging_name = std::ffi::OsString::from(".");
    staging_name.push(file_name);
    staging_name.push(format!(".{}.tmp", std::process::id()));
    let staging = directory.join(staging_name);
    write_file(&staging, contents, mode)?;
    std::fs::rename(&staging, path).with_context(|| format!("replacing {}", path.display()))?;
    std::fs::File::open(directory)
        .and_then(|directory| directory.sync_all())
        .with_context(|| format!("syncing {}", directory.display()))?;
    Ok(())
}

/// Writes a file with `mode` from its creation on (never briefly world-readable), replacing
/// an existing one.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}
