//! `keys rotate-signing`, `keys retire-signing` and `keys rotate-audit`. The token-signing key file is a bundle of
//! PKCS#8 Ed25519 keys, oldest first; the last one signs. Running servers re-read it within
//! `app::jobs::SIGNING_KEYS_RELOAD_INTERVAL`, so neither command needs a restart. The file's
//! modification time is the moment of the last rotation (a retirement keeps it): every key but
//! the newest stopped signing then, so its tokens are all expired once the access-token
//! lifetime has passed since.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::config::Config;
use crate::limits::SIGNING_KEYS_KEPT_MAX;
use crate::{init, pki};

const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const END: &str = "-----END PRIVATE KEY-----";

/// The PEM blocks of the bundle at `path`, oldest first.
fn blocks(path: &Path) -> anyhow::Result<Vec<String>> {
    let existing = std::fs::read_to_string(path)?;
    Ok(existing
        .split_inclusive(END)
        .filter_map(|block| block.find(BEGIN).and_then(|start| block.get(start..)))
        .map(|block| format!("{}\n", block.trim_end()))
        .collect())
}

/// Writes `blocks` over the bundle at `path` atomically (0600), after checking a server could
/// load it; `modified` keeps the file's time of last rotation.
fn write_bundle(
    path: &Path,
    blocks: &[String],
    modified: Option<SystemTime>,
) -> anyhow::Result<identity::SigningKeys> {
    let bundle = blocks.concat();
    let keys =
        identity::SigningKeys::from_pem_bundle(bundle.as_bytes(), "check", &["check".into()])?;
    let staging = path.with_extension("new");
    init::write_file(&staging, bundle.as_bytes(), 0o600)?;
    if let Some(time) = modified {
        std::fs::File::options()
            .write(true)
            .open(&staging)?
            .set_modified(time)?;
    }
    std::fs::rename(&staging, path)?;
    Ok(keys)
}

/// The key id of one PEM block.
fn kid_of(block: &str) -> anyhow::Result<String> {
    let keys =
        identity::SigningKeys::from_pem_bundle(block.as_bytes(), "check", &["check".into()])?;
    Ok(keys.active_kid().unwrap_or_default().to_owned())
}

/// Adds a new signing key (it signs from the next reload on); older keys still verify.
pub fn rotate(config: &Config) -> anyhow::Result<()> {
    let path = &config.keys.signing_key_file;
    let mut blocks = blocks(path)?;
    blocks.push(pki::generate_signing_key()?);
    while blocks.len() > SIGNING_KEYS_KEPT_MAX {
        blocks.remove(0);
    }
    let keys = write_bundle(path, &blocks, None)?;
    println!(
        "signing keys: {} (new active kid {}); running servers sign with it within {} seconds",
        blocks.len(),
        keys.active_kid().unwrap_or_default(),
        app::jobs::SIGNING_KEYS_RELOAD_INTERVAL.as_secs()
    );
    Ok(())
}

/// Removes the key `kid`. Refused for the key that signs, and — unless `force` (a compromised
/// key) — while a token it signed may still be unexpired.
pub fn retire(config: &Config, kid: &str, force: bool) -> anyhow::Result<()> {
    let path = &config.keys.signing_key_file;
    let mut blocks = blocks(path)?;
    let kids = blocks
        .iter()
        .map(|block| kid_of(block))
        .collect::<anyhow::Result<Vec<String>>>()?;
    let Some(index) = kids.iter().position(|known| known == kid) else {
        anyhow::bail!(
            "no signing key has kid {kid}; the keys are {}",
            kids.join(", ")
        );
    };
    if index + 1 == kids.len() {
        anyhow::bail!("{kid} signs new tokens; run `keys rotate-signing` first");
    }
    let rotated_at = std::fs::metadata(path)?.modified()?;
    // Servers sign with the old key until their next reload after the rotation.
    let ttl = Duration::from_secs(
        config
            .auth
            .access_token_ttl_secs
            .saturating_add(identity::tokens::TOKEN_LEEWAY_SECS),
    ) + app::jobs::SIGNING_KEYS_RELOAD_INTERVAL;
    let safe_at = rotated_at + ttl;
    let now_ms = u64::try_from(app::Clock::System.now_ms()).unwrap_or_default();
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms);
    if now < safe_at && !force {
        let wait = safe_at.duration_since(now).unwrap_or_default().as_secs() + 1;
        anyhow::bail!(
            "tokens signed with {kid} may be valid for {wait} more seconds (the access-token \
             lifetime since the last rotation); retire it then, or with --force if the key is \
             compromised (clients then refresh their access tokens)"
        );
    }
    blocks.remove(index);
    write_bundle(path, &blocks, Some(rotated_at))?;
    println!(
        "signing key {kid} retired; running servers refuse its tokens within {} seconds",
        app::jobs::SIGNING_KEYS_RELOAD_INTERVAL.as_secs()
    );
    Ok(())
}

/// Where `keys rotate-audit` keeps the public halves of retired audit keys, one hex-encoded
/// Ed25519 public key per line, beside `audit.signing_key_file` (`audit.ed25519.retired`).
pub fn retired_audit_keys_file(config: &Config) -> std::path::PathBuf {
    let mut name = config.audit.signing_key_file.as_os_str().to_owned();
    name.push(".retired");
    std::path::PathBuf::from(name)
}

/// The retired audit keys as (key id, public key); none when the file does not exist.
pub fn retired_audit_keys(config: &Config) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let path = retired_audit_keys_file(config);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| path.display().to_string()),
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .take(crate::limits::RETIRED_AUDIT_KEYS_MAX)
        .map(|line| {
            let public = crate::hex::unhex(line)
                .filter(|bytes| bytes.len() == 32)
                .with_context(|| {
                    format!("{}: {line:?} is not an Ed25519 public key", path.display())
                })?;
            Ok((crypto::audit_key_id(&public), public))
        })
        .collect()
}

/// `keys rotate-audit`: a new audit key signs from the servers' next checkpoint round; the old
/// key's public half is kept so checkpoints and anchors it signed still verify.
pub fn rotate_audit(config: &Config) -> anyhow::Result<()> {
    let path = &config.audit.signing_key_file;
    let old = crypto::AuditKey::from_file(path)
        .with_context(|| format!("audit.signing_key_file {}", path.display()))?;
    let retired = retired_audit_keys_file(config);
    let mut text = std::fs::read_to_string(&retired).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&crate::hex::hex(&old.public_key()));
    text.push('\n');
    // The old public half first: a crash in between leaves the old key signing, still trusted.
    init::write_file_atomically(&retired, text.as_bytes(), 0o644)?;
    let staging = path.with_extension("new");
    crypto::AuditKey::generate_file(&staging)?;
    let new = crypto::AuditKey::from_file(&staging)?;
    std::fs::rename(&staging, path)?;
    println!(
        "audit key rotated: {} signs from each server's next checkpoint round; {} is kept in {} so what it signed still verifies",
        new.key_id(),
        old.key_id(),
        retired.display()
    );
    Ok(())
}
