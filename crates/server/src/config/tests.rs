//! Unit tests of configuration validation (the CLI tests cover files and the environment).

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
