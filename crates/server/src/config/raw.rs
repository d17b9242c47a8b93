//! Stage one of the configuration: the TOML file and the `STRONGROOM__SECTION__KEY`
//! environment, exactly as written (`deny_unknown_fields` everywhere), with the defaults that
//! `strongroom init` writes. `Serialize` lets a test hold `docs/configuration.md` to these
//! fields and defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
    pub(super) server: RawServer,
    pub(super) tls: RawTls,
    pub(super) database: RawDatabase,
    pub(super) redis: RawRedis,
    pub(super) keys: RawKeys,
    pub(super) auth: RawAuth,
    pub(super) ledger: RawLedger,
    pub(super) protection: RawProtection,
    pub(super) rate_limits: RawRateLimits,
    pub(super) audit: RawAudit,
    pub(super) services: BTreeMap<String, RawService>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAudit {
    pub(super) checkpoint_secs: u64,
    pub(super) signing_key_file: String,
}

impl Default for RawAudit {
    fn default() -> Self {
        RawAudit {
            checkpoint_secs: 60,
            signing_key_file: "keys/audit.ed25519".into(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    pub(super) public_addr: String,
    pub(super) internal_addr: String,
    pub(super) ops_addr: String,
    pub(super) ops_public: bool,
    pub(super) ops_token: String,
    pub(super) audiences: Vec<String>,
    pub(super) public_origin: String,
    pub(super) cors_allowed_origins: Vec<String>,
    pub(super) trusted_proxies: Vec<String>,
    pub(super) forwarded_header: String,
    pub(super) header_read_timeout_secs: u64,
    pub(super) idle_timeout_secs: u64,
    pub(super) max_connections_per_ip: usize,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            public_addr: "127.0.0.1:8443".into(),
            internal_addr: "127.0.0.1:9443".into(),
            ops_addr: "127.0.0.1:9100".into(),
            ops_public: false,
            ops_token: String::new(),
            audiences: vec![app::identity::TOKEN_AUDIENCE.to_owned()],
            public_origin: "https://localhost:8443".into(),
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            forwarded_header: "x-forwarded-for".into(),
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections_per_ip: 256,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTls {
    pub(super) cert: String,
    pub(super) key: String,
    pub(super) internal_client_ca: String,
    pub(super) internal_client_crl: String,
}

impl Default for RawTls {
    fn default() -> Self {
        RawTls {
            cert: "pki/server.pem".into(),
            key: "pki/server.key".into(),
            internal_client_ca: "pki/internal-ca.pem".into(),
            internal_client_crl: String::new(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDatabase {
    pub(super) url: String,
    pub(super) migrate_url: String,
    pub(super) ca_file: String,
    pub(super) client_cert: String,
    pub(super) client_key: String,
    pub(super) allow_plaintext: bool,
}

impl Default for RawDatabase {
    fn default() -> Self {
        RawDatabase {
            url: "sqlite://data/strongroom.db".into(),
            migrate_url: String::new(),
            ca_file: String::new(),
            client_cert: String::new(),
            client_key: String::new(),
            allow_plaintext: false,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRedis {
    pub(super) url: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawKeys {
    pub(super) provider: String,
    pub(super) local_kek_file: String,
    pub(super) signing_key_file: String,
    pub(super) blind_index_key_file: String,
    pub(super) addr: String,
    pub(super) token: String,
    pub(super) transit_key: String,
    pub(super) module: String,
    pub(super) token_label: String,
    pub(super) pin: String,
    pub(super) key_label: String,
}

impl Default for RawKeys {
    fn default() -> Self {
        RawKeys {
            provider: "local".into(),
            local_kek_file: "keys/kek.bin".into(),
            signing_key_file: "keys/signing.ed25519".into(),
            blind_index_key_file: "keys/blind-index.key".into(),
            addr: String::new(),
            token: String::new(),
            transit_key: String::new(),
            module: String::new(),
            token_label: String::new(),
            pin: String::new(),
            key_label: String::new(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAuth {
    pub(super) access_token_ttl_secs: u64,
    pub(super) refresh_family_ttl_secs: u64,
    pub(super) step_up_max_age_secs: u64,
    pub(super) require_verified_email: bool,
}

impl Default for RawAuth {
    fn default() -> Self {
        RawAuth {
            access_token_ttl_secs: 900,
            refresh_family_ttl_secs: 604_800,
            step_up_max_age_secs: 300,
            require_verified_email: false,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLedger {
    pub(super) currencies: Vec<String>,
    pub(super) step_up_amount: i64,
    pub(super) four_eyes_amount: i64,
}

impl Default for RawLedger {
    fn default() -> Self {
        RawLedger {
            currencies: vec!["EUR".into(), "USD".into(), "GBP".into()],
            step_up_amount: 100_000,
            four_eyes_amount: 1_000_000,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawProtection {
    pub(super) geoip_db: String,
    pub(super) impossible_travel_kmh: u32,
    pub(super) blocked_countries: Vec<String>,
    pub(super) screening: String,
}

impl Default for RawProtection {
    fn default() -> Self {
        RawProtection {
            geoip_db: String::new(),
            impossible_travel_kmh: 1000,
            blocked_countries: Vec::new(),
            screening: "monitor".into(),
        }
    }
}

/// `[rate_limits]`: one budget per route class; a field left out of a class keeps that
/// class's default.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRateLimits {
    pub(super) auth: RawClassLimit,
    pub(super) read: RawClassLimit,
    pub(super) write: RawClassLimit,
    pub(super) money: RawClassLimit,
    pub(super) internal: RawClassLimit,
    pub(super) admin: RawClassLimit,
}

impl Default for RawRateLimits {
    fn default() -> Self {
        use app::cluster::{LimitKey, RouteClass};
        let defaults = app::cluster::RateLimitSettings::default();
        let class = |class: RouteClass| {
            let limit = defaults.get(class);
            RawClassLimit {
                per_minute: Some(limit.per_minute),
                burst: Some(limit.burst),
                key: Some(
                    match limit.key {
                        LimitKey::Ip => "ip",
                        LimitKey::User => "user",
                        LimitKey::Service => "service",
                    }
                    .to_owned(),
                ),
            }
        };
        RawRateLimits {
            auth: class(RouteClass::Auth),
            read: class(RouteClass::Read),
            write: class(RouteClass::Write),
            money: class(RouteClass::Money),
            internal: class(RouteClass::Internal),
            admin: class(RouteClass::Admin),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawClassLimit {
    pub(super) per_minute: Option<u32>,
    pub(super) burst: Option<u32>,
    pub(super) key: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) subject: String,
    #[serde(default)]
    pub(super) scopes: Vec<String>,
}
