//! `[redis]` and `[rate_limits]`: what instances share; `[audit]`: what they sign together;
//! `[database]`: the store they share, who owns its schema, and how it is reached.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use app::cluster::{ClassLimit, LimitKey, ROUTE_CLASSES, RateLimitSettings, RouteClass};
use secrecy::{ExposeSecret, SecretString};
use store::PostgresTls;

use super::raw::{RawAudit, RawClassLimit, RawDatabase, RawRateLimits, RawRedis};
use super::{ConfigError, config_error, resolve_secret};
use crate::limits::{
    AUDIENCE_CHARS_MAX, AUDIENCES_LEN_MAX, OPS_TOKEN_CHARS_MAX, OPS_TOKEN_CHARS_MIN,
    RATE_LIMIT_BURST_MAX, RATE_LIMIT_PER_MINUTE_MAX,
};

/// `redis.url` (a `file:`/`env:` reference allowed, as it may hold a password); `None` when
/// empty.
pub(super) fn redis_url(raw: &RawRedis) -> Result<Option<SecretString>, ConfigError> {
    if raw.url.trim().is_empty() {
        return Ok(None);
    }
    let url = resolve_secret("redis.url", &raw.url)?;
    let text = url.expose_secret();
    if !(text.starts_with("redis://") || text.starts_with("rediss://")) {
        return Err(config_error(
            "redis.url",
            "must be a redis:// or rediss:// URL",
        ));
    }
    Ok(Some(url))
}

/// `[rate_limits]` over the defaults.
pub(super) fn rate_limits(raw: &RawRateLimits) -> Result<RateLimitSettings, ConfigError> {
    let defaults = RateLimitSettings::default();
    let mut settings = defaults;
    for class in ROUTE_CLASSES {
        let given = match class {
            RouteClass::Auth => &raw.auth,
            RouteClass::Read => &raw.read,
            RouteClass::Write => &raw.write,
            RouteClass::Money => &raw.money,
            RouteClass::Internal => &raw.internal,
            RouteClass::Admin => &raw.admin,
        };
        settings.set(class, class_limit(class, given, defaults.get(class))?);
    }
    Ok(settings)
}

fn class_limit(
    class: RouteClass,
    raw: &RawClassLimit,
    default: ClassLimit,
) -> Result<ClassLimit, ConfigError> {
    let key = |field: &str| format!("rate_limits.{}.{field}", class.name());
    let per_minute = raw.per_minute.unwrap_or(default.per_minute);
    if !(1..=RATE_LIMIT_PER_MINUTE_MAX).contains(&per_minute) {
        return Err(config_error(
            key("per_minute"),
            format!("must be 1 to {RATE_LIMIT_PER_MINUTE_MAX}"),
        ));
    }
    let burst = raw.burst.unwrap_or(default.burst);
    if !(1..=RATE_LIMIT_BURST_MAX).contains(&burst) {
        return Err(config_error(
            key("burst"),
            format!("must be 1 to {RATE_LIMIT_BURST_MAX}"),
        ));
    }
    let limit_key = match raw.key.as_deref() {
        None => default.key,
        Some("ip") => LimitKey::Ip,
        Some("user") if class != RouteClass::Internal => LimitKey::User,
        Some("service") if class == RouteClass::Internal => LimitKey::Service,
        Some(_) if class == RouteClass::Internal => {
            return Err(config_error(key("key"), "must be \"ip\" or \"service\""));
        }
        Some(_) => return Err(config_error(key("key"), "must be \"ip\" or \"user\"")),
    };
    Ok(ClassLimit {
        per_minute,
        burst,
        key: limit_key,
    })
}

/// `[audit]`: the checkpoint interval (1 s to 1 h) and the audit key's path. A missing key
/// file is not an error here (the server serves, checkpoints late, and says so); a key file
/// readable by others is.
pub(super) fn audit(
    raw: &RawAudit,
    resolve: &dyn Fn(&str) -> std::path::PathBuf,
) -> Result<super::AuditConfig, ConfigError> {
    if !(1..=crate::limits::AUDIT_CHECKPOINT_SECS_MAX).contains(&raw.checkpoint_secs) {
        return Err(config_error(
            "audit.checkpoint_secs",
            format!("must be 1 to {}", crate::limits::AUDIT_CHECKPOINT_SECS_MAX),
        ));
    }
    if raw.signing_key_file.trim().is_empty() {
        return Err(config_error("audit.signing_key_file", "must name a file"));
    }
    let signing_key_file = resolve(&raw.signing_key_file);
    if signing_key_file.exists() {
        super::check_private_file("audit.signing_key_file", &signing_key_file)?;
    }
    Ok(super::AuditConfig {
        checkpoint_secs: raw.checkpoint_secs,
        signing_key_file,
    })
}

/// `[database]`: the store `database.url` names, with the TLS settings applied, and — when
/// `database.migrate_url` is set (a `file:`/`env:` reference allowed) — the schema owner's
/// location, for PostgreSQL with a least-privilege runtime role in `database.url`.
pub(super) fn database(
    raw: &RawDatabase,
    base_dir: &Path,
) -> Result<(store::DatabaseLocation, Option<store::DatabaseLocation>), ConfigError> {
    let url = resolve_secret("database.url", &raw.url)?;
    let runtime = store::DatabaseLocation::parse(&url, base_dir)
        .map_err(|error| config_error("database.url", error.to_string()))?;
    let tls = postgres_tls(raw, base_dir)?;
    if matches!(runtime, store::DatabaseLocation::SqliteFile(_)) && tls != PostgresTls::default() {
        return Err(config_error(
            "database.ca_file",
            "the TLS settings of [database] are for PostgreSQL; database.url names a SQLite file",
        ));
    }
    let with_tls = |key: &str, location: store::DatabaseLocation| {
        location
            .with_postgres_tls(tls.clone())
            .map_err(|error| config_error(key, error.to_string()))
    };
    let runtime = with_tls("database.url", runtime)?;
    if raw.migrate_url.trim().is_empty() {
        return Ok((runtime, None));
    }
    let url = resolve_secret("database.migrate_url", &raw.migrate_url)?;
    let owner = store::DatabaseLocation::parse(&url, base_dir)
        .map_err(|error| config_error("database.migrate_url", error.to_string()))?;
    match (&owner, &runtime) {
        (store::DatabaseLocation::Postgres { .. }, store::DatabaseLocation::Postgres { .. }) => {
            Ok((runtime, Some(with_tls("database.migrate_url", owner)?)))
        }
        _ => Err(config_error(
            "database.migrate_url",
            "only for PostgreSQL, with database.url a postgres:// URL too",
        )),
    }
}

/// `database.ca_file`, `client_cert`, `client_key` (mode 0600) and `allow_plaintext`; the files
/// must be readable now rather than at the first connection.
fn postgres_tls(raw: &RawDatabase, base_dir: &Path) -> Result<PostgresTls, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let path = |value: &str| (!value.trim().is_empty()).then(|| base_dir.join(value));
    // Read now, so a wrong file is named at start rather than at the first connection.
    let certificates = |key: &str, path: &PathBuf| -> Result<(), ConfigError> {
        let count = CertificateDer::pem_file_iter(path)
            .map_err(|error| config_error(key, format!("cannot read {}: {error}", path.display())))?
            .filter(Result::is_ok)
            .count();
        if count == 0 {
            return Err(config_error(
                key,
                format!("{} holds no PEM certificate", path.display()),
            ));
        }
        Ok(())
    };
    let ca_file = path(&raw.ca_file);
    if let Some(ca_file) = &ca_file {
        certificates("database.ca_file", ca_file)?;
    }
    let client_cert = path(&raw.client_cert);
    if let Some(client_cert) = &client_cert {
        certificates("database.client_cert", client_cert)?;
    }
    let client_key = path(&raw.client_key);
    if let Some(client_key) = &client_key {
        super::check_private_file("database.client_key", client_key)?;
        PrivateKeyDer::from_pem_file(client_key).map_err(|_| {
            config_error(
                "database.client_key",
                format!("{} holds no PEM private key", client_key.display()),
            )
        })?;
    }
    Ok(PostgresTls {
        ca_file,
        client_cert,
        client_key,
        allow_plaintext: raw.allow_plaintext,
    })
}

/// `server.ops_addr`, which serves `/healthz`, `/readyz` and `/metrics`: only on loopback
/// unless `server.ops_public = true` says the exposure is intended or `server.ops_token` guards
/// `/metrics` (`exposure_intended`).
pub(super) fn ops_addr(
    addr: SocketAddr,
    exposure_intended: bool,
) -> Result<SocketAddr, ConfigError> {
    if !addr.ip().is_loopback() && !exposure_intended {
        return Err(ConfigError {
            key: "server.ops_addr".into(),
            reason: "is not a loopback address: the ops listener has no authentication; keep it \
                     on loopback, set server.ops_token to guard /metrics, or set \
                     server.ops_public = true behind a firewall"
                .into(),
        });
    }
    Ok(addr)
}

/// `server.ops_token` (a `file:`/`env:` reference allowed): `None` when empty, else a secret
/// of `OPS_TOKEN_CHARS_MIN` to `OPS_TOKEN_CHARS_MAX` visible ASCII characters.
pub(super) fn ops_token(raw: &str) -> Result<Option<SecretString>, ConfigError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let token = resolve_secret("server.ops_token", raw)?;
    let text = token.expose_secret();
    if !(OPS_TOKEN_CHARS_MIN..=OPS_TOKEN_CHARS_MAX).contains(&text.len())
        || !text.bytes().all(|byte| byte.is_ascii_graphic())
    {
        return Err(config_error(
            "server.ops_token",
            format!(
                "must be {OPS_TOKEN_CHARS_MIN} to {OPS_TOKEN_CHARS_MAX} visible ASCII characters \
                 (e.g. `openssl rand -hex 32`)"
            ),
        ));
    }
    Ok(Some(token))
}

/// `server.audiences`: 1 to `AUDIENCES_LEN_MAX` distinct values of at most
/// `AUDIENCE_CHARS_MAX` visible ASCII characters; new tokens carry the first, and every one is
/// accepted (so an audience can be renamed without signing everybody out).
pub(super) fn audiences(raw: &[String]) -> Result<Vec<String>, ConfigError> {
    let fault = |reason: String| config_error("server.audiences", reason);
    if raw.is_empty() || raw.len() > AUDIENCES_LEN_MAX {
        return Err(fault(format!(
            "must list 1 to {AUDIENCES_LEN_MAX} audiences"
        )));
    }
    for (index, audience) in raw.iter().enumerate() {
        if audience.is_empty()
            || audience.len() > AUDIENCE_CHARS_MAX
            || !audience.bytes().all(|byte| byte.is_ascii_graphic())
        {
            return Err(fault(format!(
                "{audience:?} must be 1 to {AUDIENCE_CHARS_MAX} visible ASCII characters"
            )));
        }
        if raw.iter().take(index).any(|earlier| earlier == audience) {
            return Err(fault(format!("{audience:?} is listed twice")));
        }
    }
    Ok(raw.to_vec())
}
