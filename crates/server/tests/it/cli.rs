//! The CLI contract of docs/cli.md: init, migrate, pki issue-client, configuration errors.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use test_support::{Database, PgCluster, TestServer, init_dir};

use crate::{binary, strongroom};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_config_pki_and_owner_only_keys_and_refuses_to_overwrite() {
    // An operator's first command must produce a runnable directory whose secrets only the
    // owner can read, with the CA keys outside it, and must never silently destroy an
    // existing one.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("sr");
    let ca_dir = parent.path().join("sr.ca");
    let dir_arg = dir.to_str().unwrap();
    let output = strongroom(&["init", "--dir", dir_arg]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(ca_dir.join("internal-ca.key").to_str().unwrap())
            && stdout.contains("offline"),
        "{stdout}"
    );
    for public in [
        "strongroom.toml",
        "pki/ca.pem",
        "pki/server.pem",
        "pki/internal-ca.pem",
        "pki/internal-crl.pem",
        "pki/clients/payments.pem",
    ] {
        assert!(dir.join(public).is_file(), "{public}");
    }
    for secret in [
        "keys/kek.bin",
        "keys/signing.ed25519",
        "pki/server.key",
        "pki/clients/payments.key",
    ] {
        assert_eq!(mode(&dir.join(secret)), 0o600, "{secret}");
    }
    // The CA keys went to DIR.ca, owner-only, and nowhere inside DIR.
    assert_eq!(mode(&ca_dir), 0o700);
    for ca_key in ["ca.key", "internal-ca.key"] {
        assert_eq!(mode(&ca_dir.join(ca_key)), 0o600, "{ca_key}");
        assert!(!dir.join("pki").join(ca_key).exists(), "{ca_key} in DIR");
    }
    assert_eq!(std::fs::read(dir.join("keys/kek.bin")).unwrap().len(), 32);
    let signing = std::fs::read_to_string(dir.join("keys/signing.ed25519")).unwrap();
    assert!(signing.starts_with("-----BEGIN PRIVATE KEY-----"));

    let kek_before = std::fs::read(dir.join("keys/kek.bin")).unwrap();
    let again = strongroom(&["init", "--dir", dir_arg]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(
        std::fs::read(dir.join("keys/kek.bin")).unwrap(),
        kek_before,
        "key was overwritten"
    );

    // A fresh DIR with an occupied CA directory is refused too, and so is a CA directory
    // inside DIR.
    let other = parent.path().join("other");
    let ca_dir_arg = ca_dir.to_str().unwrap();
    let occupied = strongroom(&[
        "init",
        "--dir",
        other.to_str().unwrap(),
        "--ca-dir",
        ca_dir_arg,
    ]);
    assert_eq!(occupied.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&occupied.stderr).contains("--ca-dir"));
    let inside = dir.join("pki/ca");
    let nested = strongroom(&[
        "init",
        "--dir",
        dir_arg,
        "--ca-dir",
        inside.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(nested.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nested.stderr).contains("--ca-dir"));
    assert!(!inside.exists() && !other.exists());

    let ca_key_before = std::fs::read(ca_dir.join("internal-ca.key")).unwrap();
    let forced = strongroom(&["init", "--dir", dir_arg, "--force"]);
    assert!(forced.status.success());
    assert_ne!(std::fs::read(dir.join("keys/kek.bin")).unwrap(), kek_before);
    assert_ne!(
        std::fs::read(ca_dir.join("internal-ca.key")).unwrap(),
        ca_key_before
    );
}

/// Runs `migrate` with an edited config and/or extra environment; returns (exit code, stderr).
fn migrate_with(
    edit: impl FnOnce(&std::path::Path),
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let _ca_dir = init_dir(binary(), dir.path());
    edit(dir.path());
    let output = Command::new(binary())
        .args(["migrate", "--config"])
        .arg(dir.path().join("strongroom.toml"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn append(line: &'static str) -> impl FnOnce(&std::path::Path) {
    move |dir| {
        let path = dir.join("strongroom.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("[server]\n", &format!("[server]\n{line}\n")),
        )
        .unwrap();
    }
}

#[test]
fn configuration_mistakes_exit_2_with_one_line_naming_the_key() {
    // A typo must stop the server with a message that points at the key, never be ignored.
    let check = |(code, stderr): (Option<i32>, String), key: &str| {
        assert_eq!(code, Some(2), "{key}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(key), "{key} not named in: {stderr}");
    };
    check(
        migrate_with(append("public_adr = \"127.0.0.1:1\""), &[]),
        "server.public_adr",
    );
    check(
        migrate_with(|_| {}, &[("STRONGROOM__SERVER__NOPE", "1")]),
        "server.nope",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__SERVER__PUBLIC_ADDR", "not-an-address")],
        ),
        "server.public_addr",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__SERVER__CORS_ALLOWED_ORIGINS", "[\"*\"]")],
        ),
        "server.cors_allowed_origins",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/99\"]")],
        ),
        "server.trusted_proxies",
    );
    check(
        migrate_with(|_| {}, &[("STRONGROOM__DATABASE__URL", "mysql://x")]),
        "database.url",
    );
    check(
        migrate_with(|_| {}, &[("STRONGROOM__SERVER__AUDIENCES", "[]")]),
        "server.audiences",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__SERVER__AUDIENCES", "[\"a\", \"a\"]")],
        ),
        "server.audiences",
    );
    check(
        migrate_with(|_| {}, &[("STRONGROOM__SERVER__OPS_TOKEN", "short")]),
        "server.ops_token",
    );
    // Another host without a verified certificate: refused before any packet leaves.
    check(
        migrate_with(
            |_| {},
            &[(
                "STRONGROOM__DATABASE__URL",
                "postgres://app@db.example.invalid/strongroom?sslmode=require",
            )],
        ),
        "database.url",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__DATABASE__CA_FILE", "pki/missing-db-ca.pem")],
        ),
        "database.ca_file",
    );
    // A file that is there but holds no certificate is named at start, not at first connect.
    check(
        migrate_with(
            |dir| std::fs::write(dir.join("db-ca.pem"), "not a certificate\n").unwrap(),
            &[("STRONGROOM__DATABASE__CA_FILE", "db-ca.pem")],
        ),
        "database.ca_file",
    );
    check(
        migrate_with(
            |_| {},
            &[(
                "STRONGROOM__DATABASE__URL",
                "postgres://app@db.example.invalid/strongroom?sslrootcert=/tmp/ca.pem",
            )],
        ),
        "database.url",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__DATABASE__URL", "env:STRONGROOM_TEST_UNSET_VAR")],
        ),
        "database.url",
    );
    check(
        migrate_with(|_| {}, &[("STRONGROOM__KEYS__PROVIDER", "cloud")]),
        "keys.provider",
    );
    check(
        migrate_with(
            |_| {},
            &[(
                "STRONGROOM__SERVICES__REPORTS__SUBJECT",
                "spiffe://elsewhere/service/reports",
            )],
        ),
        "services.reports.subject",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__SERVICES__REPORTS__SUBJECT", "CN=reports")],
        ),
        "services.reports.subject",
    );
    check(
        migrate_with(|_| {}, &[("STRONGROOM__LEDGER__CURRENCIES", "[\"euro\"]")]),
        "ledger.currencies",
    );
    // A well-formed code that has no minor units (gold) cannot count amounts.
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__LEDGER__CURRENCIES", "[\"EUR\", \"XAU\"]")],
        ),
        "ledger.currencies",
    );
    // Unauthenticated metrics on every interface need an explicit yes.
    check(
        migrate_with(|_| {}, &[("STRONGROOM__SERVER__OPS_ADDR", "0.0.0.0:9100")]),
        "server.ops_addr",
    );
    // A misspelt or invented scope stops the server instead of quietly granting nothing.
    check(
        migrate_with(
            |_| {},
            &[(
                "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
                "[\"ledger:raed\", \"admin:everything\"]",
            )],
        ),
        "services.payments.scopes",
    );
    check(
        migrate_with(
            |_| {},
            &[("STRONGROOM__SERVER__HEADER_READ_TIMEOUT_SECS", "abc")],
        ),
        "server.header_read_timeout_secs",
    );
    check(
        migrate_with(
            |dir| {
                std::fs::set_permissions(
                    dir.join("keys/kek.bin"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
            },
            &[],
        ),
        "keys.local_kek_file",
    );
    let missing = strongroom(&["migrate", "--config", "/nonexistent/strongroom.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    // A secret given by reference is never echoed, even when it is wrong.
    let (_, stderr) = migrate_with(
        |_| {},
        &[(
            "STRONGROOM__DATABASE__URL",
            "postgres://u:hunter2@127.0.0.1:1/x?bad=%%",
        )],
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn migrate_is_idempotent_on_sqlite_and_postgresql() {
    // Both stores apply the versioned migrations and a second run changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let _ca_dir = init_dir(binary(), dir.path());
    let config = dir.path().join("strongroom.toml");
    let cluster = PgCluster::start();
    let pg_url = cluster.create_database("strongroom");
    for env in [vec![], vec![("STRONGROOM__DATABASE__URL", pg_url.as_str())]] {
        for _ in 0..2 {
            let output = Command::new(binary())
                .args(["migrate", "--config"])
                .arg(&config)
                .envs(env.iter().copied())
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            let latest = std::fs::read_dir(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../store/migrations/sqlite"
            ))
            .unwrap()
            .count();
            assert!(
                String::from_utf8_lossy(&output.stdout)
                    .contains(&format!("schema version {latest}\n")),
                "{output:?}"
            );
        }
    }
    assert!(dir.path().join("data/strongroom.db").is_file());
}

#[test]
fn issued_client_certificates_name_their_principal_and_unknown_ones_are_forbidden() {
    // `pki issue-client` must produce certificates the internal listener maps to the
    // configured principal; a valid certificate for an unconfigured name gets 403.
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = init_dir(binary(), dir.path());
    let config = dir.path().join("strongroom.toml");
    for name in ["ledgerbot", "stranger"] {
        let output = strongroom(&[
            "pki",
            "issue-client",
            "--config",
            config.to_str().unwrap(),
            "--ca-dir",
            ca_dir.path().to_str().unwrap(),
            "--name",
            name,
        ]);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            mode(&dir.path().join(format!("pki/clients/{name}.key"))),
            0o600
        );
    }
    let bad = strongroom(&[
        "pki",
        "issue-client",
        "--config",
        config.to_str().unwrap(),
        "--name",
        "../evil",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let server = TestServer::serve_in_with_ca(
        binary(),
        dir,
        ca_dir,
        Database::Sqlite,
        &[
            ("STRONGROOM__SERVICES__LEDGERBOT__SUBJECT", "ledgerbot"),
            (
                "STRONGROOM__SERVICES__LEDGERBOT__SCOPES",
                "[\"ledger:read\"]",
            ),
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let whoami = format!("{}/internal/v1/whoami", server.internal_url);
        let response = server
            .service_client("ledgerbot")
            .get(&whoami)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["service"], "ledgerbot");
        assert_eq!(body["scopes"], serde_json::json!(["ledger:read"]));
        let response = server
            .service_client("stranger")
            .get(&whoami)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");
        // The operator hears that a certificate of ours names an unconfigured service, and
        // the access log names the services it served.
        let log = server.log();
        assert!(
            log.lines().any(|line| line.contains("\"WARN\"")
                && line.contains("\"stranger\"")
                && line.contains("no [services] entry")),
            "{log}"
        );
        assert!(log.contains("\"principal\":\"service:ledgerbot\""), "{log}");
        let metrics = reqwest::get(format!("{}/metrics", server.ops_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("strongroom_internal_unknown_principals_total 1"),
            "{metrics}"
        );
    });
}
