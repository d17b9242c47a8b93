//! Unit tests of configuration validation (the CLI tests cover files and the environment).

use super::services::service_principal;
use super::*;

#[test]
fn origins_must_be_exact() {
    assert!(validate_origin("k", "https://app.example.com").is_ok());
    assert!(validate_origin("k", "http://localhost:3000").is_ok());
    for bad in [
        "*",
        "null",
        "https://*.example.com",
        "https://app.example.com/",
        "app.example.com",
        "https://",
        "ftp://x",
    ] {
        assert!(validate_origin("k", bad).is_err(), "{bad}");
    }
}

#[test]
fn trusted_proxies_accept_cidrs_and_addresses() {
    assert!(parse_network("10.0.0.0/8").is_ok());
    assert!(parse_network("192.0.2.1").is_ok());
    assert!(parse_network("fd00::/8").is_ok());
    assert_eq!(
        parse_network("10.0.0.0/33").unwrap_err().key,
        "server.trusted_proxies"
    );
}

#[test]
fn secrets_resolve_from_files_and_environment_without_echoing() {
    use secrecy::ExposeSecret;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db-url");
    std::fs::write(&file, "postgres://u:pw@h/db\n").unwrap();
    let secret = resolve_secret("database.url", &format!("file:{}", file.display())).unwrap();
    assert_eq!(secret.expose_secret(), "postgres://u:pw@h/db");
    let missing = resolve_secret("database.url", "env:STRONGROOM_TEST_SURELY_UNSET").unwrap_err();
    assert_eq!(missing.key, "database.url");
    assert_eq!(
        resolve_secret("k", "inline").unwrap().expose_secret(),
        "inline"
    );
}

#[test]
fn unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strongroom.toml");
    std::fs::write(&path, "[server]\npublic_adr = \"127.0.0.1:1\"\n").unwrap();
    let error =
        Config::load_with_env(&path, Env::prefixed("STRONGROOM_TEST_NOTHING__")).unwrap_err();
    assert_eq!(error.key, "server.public_adr");
    std::fs::write(&path, "[sever]\n").unwrap();
    let error =
        Config::load_with_env(&path, Env::prefixed("STRONGROOM_TEST_NOTHING__")).unwrap_err();
    assert_eq!(error.key, "sever");
}

#[test]
fn service_subjects_are_a_principal_name_or_its_uri() {
    assert_eq!(service_principal("payments"), Some("payments"));
    assert_eq!(
        service_principal("spiffe://strongroom/service/payments"),
        Some("payments")
    );
    for bad in [
        "",
        "Payments",
        "CN=payments",
        "spiffe://strongroom/payments",
        "spiffe://other/service/payments",
        "spiffe://strongroom/service/",
    ] {
        assert_eq!(service_principal(bad), None, "{bad:?}");
    }
}

/// `(key, default, environment)` of every row of the key tables in docs/configuration.md.
fn documented_keys() -> Vec<(String, String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let unquote = |cell: &str| cell.trim_matches('`').to_owned();
            (unquote(cells[1]), unquote(cells[2]), unquote(cells[4]))
        })
        .collect()
}

/// Every key `RawConfig` accepts, with its default, as `serde_json` values: the fields of each
/// section, `services.NAME.*` for the fields of one service, and a section without fields as
/// itself.
fn config_keys() -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut keys = std::collections::BTreeMap::new();
    let defaults = serde_json::to_value(RawConfig::default()).unwrap();
    for (section, value) in defaults.as_object().unwrap() {
        let fields = if section == "services" {
            let service: raw::RawService =
                serde_json::from_value(serde_json::json!({"subject": ""})).unwrap();
            serde_json::to_value(service).unwrap()
        } else {
            value.clone()
        };
        let fields = fields.as_object().unwrap();
        if fields.is_empty() {
            keys.insert(section.clone(), value.clone());
        }
        for (field, default) in fields {
            let section = if section == "services" {
                "services.NAME"
            } else {
                section
            };
            keys.insert(format!("{section}.{field}"), default.clone());
        }
    }
    keys
}

#[test]
fn the_configuration_reference_lists_every_key_with_its_default() {
    // Operators configure from docs/configuration.md; a key added, renamed or given another
    // default in the code must appear there, and nothing may be documented that is not read.
    let documented = documented_keys();
    let expected = config_keys();
    let names: std::collections::BTreeSet<&str> =
        documented.iter().map(|(key, _, _)| key.as_str()).collect();
    let missing: Vec<&String> = expected
        .keys()
        .filter(|key| !names.contains(key.as_str()))
        .collect();
    let unknown: Vec<&&str> = names
        .iter()
        .filter(|key| !expected.contains_key(**key))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/configuration.md is missing {missing:?} and documents unknown keys {unknown:?}"
    );
    assert_eq!(names.len(), documented.len(), "a key is documented twice");
    for (key, default, environment) in &documented {
        if default == "required" {
            // The key has no default: a section without it does not deserialize.
            let field = key.rsplit('.').next().unwrap();
            let without: Result<raw::RawService, _> = serde_json::from_value(serde_json::json!({}));
            assert!(
                key.starts_with("services.") && without.is_err(),
                "{key} ({field}) is documented as required"
            );
        } else {
            let documented: serde_json::Value =
                serde_json::from_str(default).unwrap_or_else(|error| {
                    panic!("{key}: default {default} is not TOML/JSON: {error}")
                });
            assert_eq!(documented, expected[key], "default of {key}");
        }
        if key.contains('.') {
            let variable = format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase());
            assert_eq!(environment, &variable, "environment override of {key}");
        }
    }
}

#[test]
fn the_configuration_reference_shows_the_file_init_writes() {
    // The example in docs/configuration.md is the file a new operator starts from.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let text = std::fs::read_to_string(path).unwrap();
    let example = text
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let template: String = crate::init::CONFIG_TEMPLATE
        .lines()
        .skip_while(|line| line.starts_with('#') || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(example, template);
}

#[test]
fn protection_settings_are_checked() {
    let mut raw = RawConfig::default();
    raw.protection.blocked_countries = vec!["CN".into()];
    assert_eq!(
        validate_unused_sections(&raw).unwrap_err().key,
        "protection.blocked_countries",
        "blocking countries without a GeoIP database would block nothing"
    );
    raw.protection.geoip_db = "city.mmdb".into();
    assert!(validate_unused_sections(&raw).is_ok());
    raw.protection.impossible_travel_kmh = 50;
    assert_eq!(
        validate_unused_sections(&raw).unwrap_err().key,
        "protection.impossible_travel_kmh"
    );
}

#[test]
fn rate_limits_keep_class_defaults_and_refuse_nonsense() {
    use app::cluster::{LimitKey, RouteClass};
    let mut raw = RawConfig::default();
    raw.rate_limits.money = raw::RawClassLimit {
        per_minute: None,
        burst: Some(5),
        key: None,
    };
    let settings = cluster::rate_limits(&raw.rate_limits).unwrap();
    let money = settings.get(RouteClass::Money);
    assert_eq!(
        (money.per_minute, money.burst, money.key),
        (60, 5, LimitKey::User)
    );
    raw.rate_limits.money.burst = Some(0);
    assert_eq!(
        cluster::rate_limits(&raw.rate_limits).unwrap_err().key,
        "rate_limits.money.burst"
    );
    raw.rate_limits.money.burst = None;
    raw.rate_limits.internal.key = Some("user".into());
    assert_eq!(
        cluster::rate_limits(&raw.rate_limits).unwrap_err().key,
        "rate_limits.internal.key",
        "a service listener has no users"
    );
    raw.rate_limits.internal.key = None;
    raw.rate_limits.read.per_minute = Some(7_000_000);
    assert_eq!(
        cluster::rate_limits(&raw.rate_limits).unwrap_err().key,
        "rate_limits.read.per_minute"
    );
}

#[test]
fn redis_url_must_be_a_redis_url() {
    let mut raw = RawConfig::default();
    assert!(cluster::redis_url(&raw.redis).unwrap().is_none());
    raw.redis.url = "http://127.0.0.1:6379".into();
    assert_eq!(cluster::redis_url(&raw.redis).unwrap_err().key, "redis.url");
    raw.redis.url = "redis://127.0.0.1:6379".into();
    assert!(cluster::redis_url(&raw.redis).unwrap().is_some());
}
