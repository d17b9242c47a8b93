//! Configuration in two stages: `RawConfig` mirrors the TOML file and the
//! `STRONGROOM__SECTION__KEY` environment exactly (unknown keys refused), then `Config` holds
//! validated, typed values with paths resolved against the file's directory and secrets
//! resolved from `file:`/`env:` references into `secrecy` types.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::limits::SECRET_FILE_BYTES_MAX;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use http::HeaderValue;
use ipnet::IpNet;
use secrecy::SecretString;

pub const ENV_PREFIX: &str = "STRONGROOM__";
/// Bounds of `protection.impossible_travel_kmh` (an airliner flies at about 900 km/h).
const IMPOSSIBLE_TRAVEL_KMH_RANGE: std::ops::RangeInclusive<u32> = 100..=100_000;
/// Bounds of `server.header_read_timeout_secs`.
const HEADER_READ_TIMEOUT_SECS_RANGE: std::ops::RangeInclusive<u64> = 1..=120;
/// Bounds of `server.idle_timeout_secs`.
const IDLE_TIMEOUT_SECS_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

/// A configuration mistake: one line naming the key at fault. The process exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

fn config_error(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

mod cluster;
mod figment_errors;
mod raw;
mod services;

use figment_errors::describe_figment_error;
use raw::RawConfig;

// ---- Stage two: what the server runs with. ----

#[derive(Debug)]
pub struct Config {
    /// Directory of the configuration file; relative paths resolve against it.
    pub base_dir: PathBuf,
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub database: store::DatabaseLocation,
    /// `database.migrate_url`: the schema owner, for `migrate` (PostgreSQL only). When set,
    /// `database.url` is a least-privilege runtime role and `serve` never migrates.
    pub database_owner: Option<store::DatabaseLocation>,
    pub keys: KeysConfig,
    pub auth: AuthConfig,
    pub ledger: LedgerConfig,
    pub protection: ProtectionConfig,
    /// `redis.url`; `None`: rate limits and revocation are per instance (plus the store).
    pub redis_url: Option<SecretString>,
    pub rate_limits: app::cluster::RateLimitSettings,
    pub audit: AuditConfig,
    pub services: Vec<ServiceConfig>,
}

/// `[audit]`.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub checkpoint_secs: u64,
    /// The audit Ed25519 key (PKCS#8); the server serves without it, with checkpoints late.
    pub signing_key_file: PathBuf,
}

/// `[protection]`.
#[derive(Debug, Clone)]
pub struct ProtectionConfig {
    /// A GeoIP2/GeoLite2 City database; `None`: no location, travel or country checks.
    pub geoip_db: Option<PathBuf>,
    pub impossible_travel_kmh: u32,
    /// ISO 3166-1 alpha-2 codes refused on the public listener.
    pub blocked_countries: Vec<String>,
    pub screening: app::protection::screening::ScreeningMode,
}

#[derive(Debug)]
pub struct ServerConfig {
    pub public_addr: SocketAddr,
    pub internal_addr: SocketAddr,
    pub ops_addr: SocketAddr,
    pub public_origin: String,
    pub cors_allowed_origins: Vec<HeaderValue>,
    pub trusted_proxies: Vec<IpNet>,
    /// The one forwarding header a trusted proxy sets.
    pub forwarded_header: api::client_ip::ForwardedHeader,
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections per client network on each listener (trusted proxies exempt).
    pub max_connections_per_ip: usize,
    /// Accepted `aud` values of access tokens; new tokens carry the first.
    pub audiences: Vec<String>,
    /// `server.ops_token`: when set, `/metrics` needs it as a bearer token.
    pub ops_token: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub internal_client_ca: PathBuf,
    /// Revoked client certificates; `None` when `tls.internal_client_crl` is empty. The file
    /// is checked (and re-read when it changes) by the internal listener.
    pub internal_client_crl: Option<PathBuf>,
}

#[derive(Debug)]
pub struct KeysConfig {
    #[expect(dead_code, reason = "read by the data-protection capability")]
    pub provider: KeyProvider,
    pub local_kek_file: PathBuf,
    pub signing_key_file: PathBuf,
    /// HMAC key of the national-id blind index; deliberately not derived from the KEK.
    pub blind_index_key_file: PathBuf,
    pub openbao: Option<OpenBaoConfig>,
    pub pkcs11: Option<Pkcs11Config>,
}

/// `keys.provider = "pkcs11"`: module path, token label, user PIN (reference), key label.
#[derive(Debug)]
pub struct Pkcs11Config {
    pub module: PathBuf,
    pub token_label: String,
    pub pin: SecretString,
    pub key_label: String,
}

/// `keys.provider = "openbao"`: Transit at `addr`, key `transit_key`, token from a reference.
#[derive(Debug)]
pub struct OpenBaoConfig {
    pub addr: String,
    pub token: SecretString,
    pub transit_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProvider {
    Local,
    OpenBao,
    Pkcs11,
}

/// `[ledger]`.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    pub currencies: Vec<String>,
    pub step_up_amount: i64,
    /// Internal withdrawals above this wait for an admin's approval.
    pub four_eyes_amount: i64,
}

/// Token and session lifetimes (`[auth]`).
#[derive(Debug, Clone, Copy)]
pub struct AuthConfig {
    pub access_token_ttl_secs: u64,
    pub refresh_family_ttl_secs: u64,
    pub step_up_max_age_secs: u64,
    pub require_verified_email: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: String,
    /// The principal a client certificate must name in its one URI SAN
    /// `spiffe://strongroom/service/PRINCIPAL` (from `subject`, given bare or as that URI).
    pub principal: String,
    pub scopes: Vec<String>,
}

impl Config {
    /// Reads the file, applies environment overrides, validates everything.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, Env::prefixed(ENV_PREFIX).split("__"))
    }

    fn load_with_env(path: &Path, env: Env) -> Result<Config, ConfigError> {
        if !path.is_file() {
            return Err(config_error(
                "--config",
                format!("no configuration file at {}", path.display()),
            ));
        }
        let raw: RawConfig = Figment::new()
            .merge(Toml::file_exact(path))
            .merge(env)
            .extract()
            .map_err(|error| describe_figment_error(&error))?;
        let base_dir = path
            .canonicalize()
            .ok()
            .and_then(|full| full.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        validate(raw, base_dir)
    }
}

fn validate(mut raw: RawConfig, base_dir: PathBuf) -> Result<Config, ConfigError> {
    let resolve = |value: &str| -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        }
    };
    let parse_addr = |key: &str, value: &str| -> Result<SocketAddr, ConfigError> {
        value
            .parse()
            .map_err(|_| config_error(key, "must be an IP:port socket address"))
    };
    let ops_token = cluster::ops_token(&raw.server.ops_token)?;
    let server = ServerConfig {
        public_addr: parse_addr("server.public_addr", &raw.server.public_addr)?,
        internal_addr: parse_addr("server.internal_addr", &raw.server.internal_addr)?,
        ops_addr: cluster::ops_addr(
            parse_addr("server.ops_addr", &raw.server.ops_addr)?,
            raw.server.ops_public || ops_token.is_some(),
        )?,
        audiences: cluster::audiences(&raw.server.audiences)?,
        ops_token,
        public_origin: validate_origin("server.public_origin", &raw.server.public_origin)?,
        cors_allowed_origins: raw
            .server
            .cors_allowed_origins
            .iter()
            .map(|origin| {
                let origin = validate_origin("server.cors_allowed_origins", origin)?;
                HeaderValue::from_str(&origin)
                    .map_err(|_| config_error("server.cors_allowed_origins", "not a header value"))
            })
            .collect::<Result<_, _>>()?,
        trusted_proxies: raw
            .server
            .trusted_proxies
            .iter()
            .map(|cidr| parse_network(cidr))
            .collect::<Result<_, _>>()?,
        forwarded_header: match raw.server.forwarded_header.as_str() {
            "x-forwarded-for" => api::client_ip::ForwardedHeader::XForwardedFor,
            "forwarded" => api::client_ip::ForwardedHeader::Forwarded,
            _ => {
                return Err(config_error(
                    "server.forwarded_header",
                    "must be \"x-forwarded-for\" or \"forwarded\"",
                ));
            }
        },
        header_read_timeout: bounded_secs(
            "server.header_read_timeout_secs",
            raw.server.header_read_timeout_secs,
            &HEADER_READ_TIMEOUT_SECS_RANGE,
        )?,
        idle_timeout: bounded_secs(
            "server.idle_timeout_secs",
            raw.server.idle_timeout_secs,
            &IDLE_TIMEOUT_SECS_RANGE,
        )?,
        max_connections_per_ip: {
            let max = raw.server.max_connections_per_ip;
            if !(1..=crate::limits::CONNECTIONS_PER_LISTENER_MAX).contains(&max) {
                return Err(config_error(
                    "server.max_connections_per_ip",
                    format!(
                        "must be 1 to {}",
                        crate::limits::CONNECTIONS_PER_LISTENER_MAX
                    ),
                ));
            }
            max
        },
    };
    let tls = TlsConfig {
        cert: resolve(&raw.tls.cert),
        key: resolve(&raw.tls.key),
        internal_client_ca: resolve(&raw.tls.internal_client_ca),
        internal_client_crl: (!raw.tls.internal_client_crl.trim().is_empty())
            .then(|| resolve(&raw.tls.internal_client_crl)),
    };
    let (database, database_owner) = cluster::database(&raw.database, &base_dir)?;
    let provider = match raw.keys.provider.as_str() {
        "local" => KeyProvider::Local,
        "openbao" => KeyProvider::OpenBao,
        "pkcs11" => KeyProvider::Pkcs11,
        _ => {
            return Err(config_error(
                "keys.provider",
                "must be local, openbao or pkcs11",
            ));
        }
    };
    let pkcs11 = if provider == KeyProvider::Pkcs11 {
        for (key, value) in [
            ("keys.module", &raw.keys.module),
            ("keys.token_label", &raw.keys.token_label),
            ("keys.pin", &raw.keys.pin),
            ("keys.key_label", &raw.keys.key_label),
        ] {
            if value.trim().is_empty() {
                return Err(config_error(
                    key,
                    "required when keys.provider = \"pkcs11\"",
                ));
            }
        }
        Some(Pkcs11Config {
            module: resolve(&raw.keys.module),
            token_label: raw.keys.token_label.clone(),
            pin: resolve_secret("keys.pin", &raw.keys.pin)?,
            key_label: raw.keys.key_label.clone(),
        })
    } else {
        None
    };
    let openbao = if provider == KeyProvider::OpenBao {
        for (key, value) in [
            ("keys.addr", &raw.keys.addr),
            ("keys.token", &raw.keys.token),
            ("keys.transit_key", &raw.keys.transit_key),
        ] {
            if value.trim().is_empty() {
                return Err(config_error(
                    key,
                    "required when keys.provider = \"openbao\"",
                ));
            }
        }
        if !(raw.keys.addr.starts_with("https://") || raw.keys.addr.starts_with("http://")) {
            return Err(config_error("keys.addr", "must be an http(s):// URL"));
        }
        Some(OpenBaoConfig {
            addr: raw.keys.addr.clone(),
            token: resolve_secret("keys.token", &raw.keys.token)?,
            transit_key: raw.keys.transit_key.clone(),
        })
    } else {
        None
    };
    let keys = KeysConfig {
        provider,
        local_kek_file: resolve(&raw.keys.local_kek_file),
        signing_key_file: resolve(&raw.keys.signing_key_file),
        blind_index_key_file: resolve(&raw.keys.blind_index_key_file),
        openbao,
        pkcs11,
    };
    check_private_file("keys.blind_index_key_file", &keys.blind_index_key_file)?;
    check_private_file("keys.local_kek_file", &keys.local_kek_file)?;
    check_private_file("keys.signing_key_file", &keys.signing_key_file)?;
    check_private_file("tls.key", &tls.key)?;
    validate_unused_sections(&raw)?;
    let services = services::parse(std::mem::take(&mut raw.services))?;
    let protection = ProtectionConfig {
        geoip_db: (!raw.protection.geoip_db.trim().is_empty())
            .then(|| resolve(&raw.protection.geoip_db)),
        impossible_travel_kmh: raw.protection.impossible_travel_kmh,
        blocked_countries: raw.protection.blocked_countries.clone(),
        screening: app::protection::screening::ScreeningMode::parse(&raw.protection.screening)
            .ok_or_else(|| {
                config_error(
                    "protection.screening",
                    "must be \"off\", \"monitor\" or \"block\"",
                )
            })?,
    };
    let auth = AuthConfig {
        access_token_ttl_secs: raw.auth.access_token_ttl_secs,
        refresh_family_ttl_secs: raw.auth.refresh_family_ttl_secs,
        step_up_max_age_secs: raw.auth.step_up_max_age_secs,
        require_verified_email: raw.auth.require_verified_email,
    };
    let audit = cluster::audit(&raw.audit, &resolve)?;
    Ok(Config {
        base_dir,
        server,
        tls,
        database,
        database_owner,
        keys,
        auth,
        ledger: LedgerConfig {
            currencies: raw.ledger.currencies.clone(),
            step_up_amount: raw.ledger.step_up_amount,
            four_eyes_amount: raw.ledger.four_eyes_amount,
        },
        audit,
        protection,
        redis_url: cluster::redis_url(&raw.redis)?,
        rate_limits: cluster::rate_limits(&raw.rate_limits)?,
        services,
    })
}

/// Checks the sections whose capabilities are not wired yet, so a typo there still fails now.
fn validate_unused_sections(raw: &RawConfig) -> Result<(), ConfigError> {
    if raw.auth.access_token_ttl_secs == 0 || raw.auth.access_token_ttl_secs > 900 {
        return Err(config_error(
            "auth.access_token_ttl_secs",
            "must be 1 to 900",
        ));
    }
    if raw.auth.refresh_family_ttl_secs == 0 || raw.auth.refresh_family_ttl_secs > 604_800 {
        return Err(config_error(
            "auth.refresh_family_ttl_secs",
            "must be 1 to 604800",
        ));
    }
    if raw.auth.step_up_max_age_secs == 0 || raw.auth.step_up_max_age_secs > 3600 {
        return Err(config_error(
            "auth.step_up_max_age_secs",
            "must be 1 to 3600",
        ));
    }
    // Amounts are counted in minor units: a code without them (or not in ISO 4217) has none.
    let currency_ok = |code: &String| {
        code.len() == 3
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && ledger::minor_units(code).is_some()
    };
    if raw.ledger.currencies.is_empty() || !raw.ledger.currencies.iter().all(currency_ok) {
        return Err(config_error(
            "ledger.currencies",
            "must be ISO 4217 codes of currencies with minor units, like \"EUR\"",
        ));
    }
    if raw.ledger.step_up_amount < 1 {
        return Err(config_error(
            "ledger.step_up_amount",
            "must be a positive amount of minor units",
        ));
    }
    if raw.ledger.four_eyes_amount < 1 {
        return Err(config_error(
            "ledger.four_eyes_amount",
            "must be a positive amount of minor units",
        ));
    }
    if !raw
        .protection
        .blocked_countries
        .iter()
        .all(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(config_error(
            "protection.blocked_countries",
            "must be ISO 3166 alpha-2 codes",
        ));
    }
    if !raw.protection.blocked_countries.is_empty() && raw.protection.geoip_db.trim().is_empty() {
        return Err(config_error(
            "protection.blocked_countries",
            "needs protection.geoip_db (without it no country is known)",
        ));
    }
    if !IMPOSSIBLE_TRAVEL_KMH_RANGE.contains(&raw.protection.impossible_travel_kmh) {
        return Err(config_error(
            "protection.impossible_travel_kmh",
            "must be 100 to 100000",
        ));
    }
    Ok(())
}

/// `value` seconds, refused outside `range`.
fn bounded_secs(
    key: &str,
    value: u64,
    range: &std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    if !range.contains(&value) {
        let reason = format!("must be {} to {}", range.start(), range.end());
        return Err(config_error(key, reason));
    }
    Ok(Duration::from_secs(value))
}

/// `scheme://host[:port]` exactly: no wildcard, no `null`, no path.
fn validate_origin(key: &str, origin: &str) -> Result<String, ConfigError> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| config_error(key, "origins must start with https:// or http://"))?;
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        && !rest.starts_with(['.', ':', '-']);
    if valid {
        Ok(origin.to_owned())
    } else {
        Err(config_error(
            key,
            "must be an exact origin like https://app.example.com",
        ))
    }
}

fn parse_network(value: &str) -> Result<IpNet, ConfigError> {
    const KEY: &str = "server.trusted_proxies";
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| config_error(KEY, "entries must be CIDRs like 10.0.0.0/8 or addresses"))
}

/// A secret given inline, as `file:/path` (trailing newline trimmed) or as `env:NAME`.
pub fn resolve_secret(key: &str, value: &str) -> Result<SecretString, ConfigError> {
    if let Some(path) = value.strip_prefix("file:") {
        let metadata = std::fs::metadata(path)
            .map_err(|_| config_error(key, "the referenced secret file cannot be read"))?;
        if metadata.len() > SECRET_FILE_BYTES_MAX {
            return Err(config_error(key, "the referenced secret file is too large"));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|_| config_error(key, "the referenced secret file cannot be read"))?;
        return Ok(SecretString::from(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        ));
    }
    if let Some(name) = value.strip_prefix("env:") {
        let text = std::env::var(name)
            .map_err(|_| config_error(key, format!("environment variable {name} is not set")))?;
        return Ok(SecretString::from(text));
    }
    Ok(SecretString::from(value.to_owned()))
}

/// Key material must exist and be readable by its owner only.
fn check_private_file(key: &str, path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path)
        .map_err(|_| config_error(key, format!("cannot read {}", path.display())))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(config_error(
            key,
            format!(
                "{} is readable by group or others; chmod 600 it",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
