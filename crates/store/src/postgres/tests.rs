//! The transport rule for PostgreSQL: verified TLS to any other host unless explicitly allowed,
//! and how `database.ca_file` and a client certificate shape the connection.

use std::path::PathBuf;

use secrecy::SecretString;
use sqlx::postgres::PgSslMode;

use super::{PostgresTls, options};
use crate::StoreError;

fn url(raw: &str) -> SecretString {
    SecretString::from(raw.to_owned())
}

fn with_ca() -> PostgresTls {
    PostgresTls {
        ca_file: Some(PathBuf::from("/etc/strongroom/db-ca.pem")),
        ..PostgresTls::default()
    }
}

fn refusal(raw: &str, tls: &PostgresTls) -> String {
    match options(&url(raw), tls) {
        Err(StoreError::Transport(reason)) => reason,
        other => panic!("{raw}: expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn another_host_needs_a_verified_certificate() {
    for raw in [
        "postgres://app@db.internal/strongroom",
        "postgres://app@db.internal/strongroom?sslmode=disable",
        "postgres://app@db.internal/strongroom?sslmode=prefer",
        "postgres://app@db.internal/strongroom?sslmode=require",
        "postgres://app@10.0.0.7:5432/strongroom",
        // verify-ca checks no host name, and the driver trusts public roots too.
        "postgres://app@db.internal/strongroom?sslmode=verify-ca",
    ] {
        let reason = refusal(raw, &PostgresTls::default());
        assert!(reason.contains("not this machine"), "{reason}");
        assert!(reason.contains("database.allow_plaintext"), "{reason}");
    }
    let raw = "postgres://app@db.internal/strongroom?sslmode=verify-full";
    assert!(options(&url(raw), &PostgresTls::default()).is_ok(), "{raw}");
}

#[test]
fn url_parameters_the_backup_tools_would_read_differently_are_refused() {
    for (raw, named) in [
        (
            "postgres://app@db.internal/s?sslrootcert=/tmp/ca.pem",
            "sslrootcert",
        ),
        ("postgres://app@db.internal/s?hostaddr=10.0.0.9", "hostaddr"),
        (
            "postgres://app@db.internal/s?target_session_attrs=any",
            "target_session_attrs",
        ),
    ] {
        let reason = refusal(raw, &with_ca());
        assert!(reason.contains(named), "{raw}: {reason}");
    }
    let reason = refusal(
        "postgres://app@db.internal/s?sslcert=/tmp/c.pem",
        &with_ca(),
    );
    assert!(reason.contains("database.ca_file"), "{reason}");
    for raw in [
        "postgres://app@db1.internal,db2.internal/s",
        "postgres://app@db.internal/s?host=db1.internal,db2.internal",
    ] {
        let reason = refusal(raw, &with_ca());
        assert!(reason.contains("several hosts"), "{raw}: {reason}");
    }
    // The password never appears in a refusal.
    let reason = refusal(
        "postgres://app:hunter2-secret@db.internal/s?bogus=1",
        &with_ca(),
    );
    assert!(!reason.contains("hunter2"), "{reason}");
}

#[test]
fn this_machine_may_go_without_tls() {
    for raw in [
        "postgres://app@127.0.0.1:5432/strongroom",
        "postgres://app@localhost/strongroom?sslmode=disable",
        "postgres://app@[::1]:5432/strongroom",
        "postgres:///strongroom?host=/var/run/postgresql&user=app",
    ] {
        assert!(options(&url(raw), &PostgresTls::default()).is_ok(), "{raw}");
    }
}

#[test]
fn plaintext_elsewhere_only_when_the_config_says_so() {
    let allowed = PostgresTls {
        allow_plaintext: true,
        ..PostgresTls::default()
    };
    let options = options(&url("postgres://app@db.internal/strongroom"), &allowed).unwrap();
    assert!(matches!(options.get_ssl_mode(), PgSslMode::Prefer));
}

#[test]
fn a_ca_file_means_verify_full_unless_the_url_asks_for_verify_ca() {
    for (raw, mode) in [
        ("postgres://app@db.internal/s", PgSslMode::VerifyFull),
        (
            "postgres://app@db.internal/s?sslmode=require",
            PgSslMode::VerifyFull,
        ),
        (
            "postgres://app@127.0.0.1/s?sslmode=verify-ca",
            PgSslMode::VerifyCa,
        ),
    ] {
        // `PgSslMode` has no `PartialEq`.
        let got = options(&url(raw), &with_ca()).unwrap().get_ssl_mode();
        assert_eq!(format!("{got:?}"), format!("{mode:?}"), "{raw}");
    }
    let reason = refusal("postgres://app@127.0.0.1/s?sslmode=disable", &with_ca());
    assert!(reason.contains("sslmode=disable"), "{reason}");
    let reason = refusal("postgres://app@db.internal/s?sslmode=verify-ca", &with_ca());
    assert!(reason.contains("verify-full"), "{reason}");
}

#[test]
fn a_client_certificate_needs_its_key() {
    let half = PostgresTls {
        client_cert: Some(PathBuf::from("/etc/strongroom/db-client.pem")),
        ..with_ca()
    };
    let reason = refusal("postgres://app@db.internal/s", &half);
    assert!(reason.contains("client_key"), "{reason}");
}
