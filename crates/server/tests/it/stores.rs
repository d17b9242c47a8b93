//! The server on PostgreSQL: over verified TLS, and what clients see when the database goes
//! away or hangs.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use test_support::{Database, PgCluster, PgTls, TestServer, free_port, init_dir};

use crate::binary;

async fn readyz(client: &reqwest::Client, ops: &str) -> u16 {
    match client.get(format!("{ops}/readyz")).send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

async fn wait_for(client: &reqwest::Client, ops: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while readyz(client, ops).await != status {
        assert!(Instant::now() < deadline, "readyz never became {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn postgres_backed_server_reports_unready_while_the_database_is_down_and_recovers() {
    // Orchestrators must stop routing traffic when PostgreSQL is gone, and the server must
    // come back by itself, without a restart, when it returns.
    let mut cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let server = TestServer::start(binary(), Database::Postgres(url), &[]);
    let client = reqwest::Client::new();
    assert_eq!(readyz(&client, &server.ops_url).await, 200);
    assert!(server.log().contains("\"backend\":\"postgres\""));

    cluster.stop();
    wait_for(&client, &server.ops_url, 503).await;
    // A probe's answer comes within its timeout, not after the pool's (readiness waits 1 s).
    let asked = std::time::Instant::now();
    let response = client
        .get(format!("{}/readyz", server.ops_url))
        .send()
        .await
        .unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "/readyz took {:?}",
        asked.elapsed()
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers().get("retry-after").is_some());
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("sqlx") && !body.contains("postgres"),
        "{body}"
    );
    // Liveness stays green: the process is fine, only a dependency is not.
    let live = client
        .get(format!("{}/healthz", server.ops_url))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    cluster.restart();
    wait_for(&client, &server.ops_url, 200).await;

    // A database that hangs rather than refuses (a frozen host, a dead network path): the
    // probe still answers within its 1 s budget instead of waiting out the pool.
    cluster.freeze();
    // Past the half second for which one probe's answer serves the next ones.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let asked = std::time::Instant::now();
    let status = readyz(&client, &server.ops_url).await;
    let waited = asked.elapsed();
    cluster.thaw();
    assert_eq!(status, 503);
    assert!(waited < Duration::from_secs(3), "/readyz took {waited:?}");
    wait_for(&client, &server.ops_url, 200).await;
}

/// A CA for the database's certificates (test-only, never the server's internal CA).
struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn test_ca(name: &str) -> TestCa {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    TestCa {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// (certificate PEM, key PEM) signed by `ca`.
fn leaf(
    ca: &TestCa,
    common_name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// `strongroom migrate` in `dir` with `env`: (exit code, stderr).
fn migrate(dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(binary())
        .args(["migrate", "--config"])
        .arg(dir.join("strongroom.toml"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn postgres_is_reached_over_verified_tls_and_failures_name_their_cause() {
    // A managed PostgreSQL: TLS only (no plaintext rule in pg_hba.conf), client certificates
    // required. The server must verify the database's certificate, present its own, and say
    // what went wrong when either side refuses.
    let ca = test_ca("database test CA");
    let stranger = test_ca("some other CA");
    let (server_cert, server_key) = leaf(
        &ca,
        "db.test",
        vec![SanType::IpAddress(Ipv4Addr::LOCALHOST.into())],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        &ca,
        "postgres",
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let mut cluster = PgCluster::start_tls(&PgTls {
        cert_pem: &server_cert,
        key_pem: &server_key,
        client_ca_pem: &ca.pem,
        hba: "hostssl all all 127.0.0.1/32 cert",
    });
    let url = format!(
        "{}?sslmode=verify-full",
        cluster.create_database("strongroom")
    );
    let dir = tempfile::tempdir().unwrap();
    let _ca_dir = init_dir(binary(), dir.path());
    let pki = dir.path().join("pki");
    std::fs::write(pki.join("db-ca.pem"), &ca.pem).unwrap();
    std::fs::write(pki.join("other-ca.pem"), &stranger.pem).unwrap();
    std::fs::write(pki.join("db-client.pem"), &client_cert).unwrap();
    std::fs::write(pki.join("db-client.key"), &client_key).unwrap();
    std::fs::set_permissions(
        pki.join("db-client.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let with = |ca_file: &'static str, client: bool| {
        let mut env = vec![
            ("STRONGROOM__DATABASE__URL", url.clone()),
            ("STRONGROOM__DATABASE__CA_FILE", ca_file.to_owned()),
        ];
        if client {
            env.push((
                "STRONGROOM__DATABASE__CLIENT_CERT",
                "pki/db-client.pem".into(),
            ));
            env.push((
                "STRONGROOM__DATABASE__CLIENT_KEY",
                "pki/db-client.key".into(),
            ));
        }
        env
    };
    let run = |env: &[(&'static str, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        migrate(dir.path(), &env)
    };
    let expect = |(code, stderr): (Option<i32>, String), want_code: i32, words: &[&str]| {
        assert_eq!(code, Some(want_code), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        for word in words {
            assert!(stderr.contains(word), "{word:?} not in: {stderr}");
        }
        assert!(!stderr.contains("pool timed out"), "{stderr}");
        assert_eq!(stderr.matches("cannot connect").count(), 1, "{stderr}");
    };

    // The wrong CA: the database's certificate is not accepted.
    expect(
        run(&with("pki/other-ca.pem", true)),
        2,
        &["TLS failed", "database.ca_file", "127.0.0.1"],
    );
    // The right CA but no client certificate: the database refuses the role.
    expect(
        run(&with("pki/db-ca.pem", false)),
        2,
        &["authentication failed", "certificate"],
    );
    // Plaintext: the database has no rule for it.
    let plain = format!("{}?sslmode=disable", cluster.url("strongroom"));
    expect(
        migrate(dir.path(), &[("STRONGROOM__DATABASE__URL", &plain)]),
        2,
        &["authentication failed", "no encryption"],
    );
    // Both certificates: migrated, and the server runs on that connection.
    let (code, stderr) = run(&with("pki/db-ca.pem", true));
    assert_eq!(code, Some(0), "{stderr}");
    let env = with("pki/db-ca.pem", true);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ca_pem = pki.join("db-ca.pem").display().to_string();
    let cert_pem = pki.join("db-client.pem").display().to_string();
    let key_pem = pki.join("db-client.key").display().to_string();
    let absolute = [
        env[0],
        ("STRONGROOM__DATABASE__CA_FILE", ca_pem.as_str()),
        ("STRONGROOM__DATABASE__CLIENT_CERT", cert_pem.as_str()),
        ("STRONGROOM__DATABASE__CLIENT_KEY", key_pem.as_str()),
    ];
    let server = TestServer::start(binary(), Database::Sqlite, &absolute);
    let client = reqwest::Client::new();
    assert_eq!(readyz(&client, &server.ops_url).await, 200);
    let encrypted = cluster.psql(
        "strongroom",
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE application_name = 'strongroom' AND ssl AND client_dn LIKE '%postgres%'",
    );
    let count = String::from_utf8_lossy(&encrypted.stdout);
    assert!(
        count
            .lines()
            .any(|line| line.trim().parse::<u32>().is_ok_and(|n| n > 0)),
        "no verified TLS connection from the server: {count}"
    );
    drop(server);

    // Backups go through libpq (`pg_dump`) with the same verified TLS and client certificate.
    let backup = dir.path().join("tls.backup");
    let taken = Command::new(binary())
        .args(["backup", "--out"])
        .arg(&backup)
        .arg("--config")
        .arg(dir.path().join("strongroom.toml"))
        .env(
            "STRONGROOM__SERVER__PUBLIC_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(std::fs::metadata(&backup).unwrap().len() > 0);

    // The database gone: a refusal, which is the database's state, not the configuration's.
    cluster.stop();
    expect(
        run(&with("pki/db-ca.pem", true)),
        1,
        &["connection refused"],
    );
}
