//! Service identity on the internal listener: a principal only by its one SPIFFE URI SAN,
//! certificate lifetimes, revocation through the CRL while the server runs, and a serving
//! directory that holds no CA key.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use test_support::{Daemon, Database, TestServer, init_dir};

use crate::{binary, sqlite_server};

/// How long a revocation may take to reach new handshakes (the server checks every 2 s).
const REVOCATION_DEADLINE: Duration = Duration::from_secs(20);
/// How long a misconfigured `serve` may take to exit.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

const DAY_SECS: i64 = 86_400;

/// `strongroom pki ARGS --config <server's> --ca-dir <server's>`.
fn pki(server: &TestServer, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("pki")
        .args(args)
        .arg("--config")
        .arg(server.config_path())
        .arg("--ca-dir")
        .arg(server.ca_dir())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `pki/clients/NAME.pem` followed by its key, as reqwest wants an identity.
fn issued_identity(server: &TestServer, name: &str) -> Vec<u8> {
    let mut pem = std::fs::read(server.path(&format!("pki/clients/{name}.pem"))).unwrap();
    pem.extend(std::fs::read(server.path(&format!("pki/clients/{name}.key"))).unwrap());
    pem
}

/// `GET /internal/v1/whoami` over a new connection (a new handshake) presenting `identity`:
/// the status and body, or `None` when the handshake is refused.
async fn whoami(server: &TestServer, identity: &[u8]) -> Option<(u16, serde_json::Value)> {
    let client = server
        .client_builder()
        .identity(reqwest::Identity::from_pem(identity).unwrap())
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/internal/v1/whoami", server.internal_url))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or_default()))
}

/// A client certificate signed by the server's internal CA (key from its CA directory) with
/// these common names and URI SANs, and its key, as one PEM identity.
fn forged_by_internal_ca(server: &TestServer, common_names: &[&str], uris: &[&str]) -> Vec<u8> {
    let ca_pem = std::fs::read_to_string(server.path("pki/internal-ca.pem")).unwrap();
    let ca_key = KeyPair::from_pem(
        &std::fs::read_to_string(server.ca_dir().join("internal-ca.key")).unwrap(),
    )
    .unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    for common_name in common_names {
        name.push(DnType::CommonName, *common_name);
    }
    params.distinguished_name = name;
    params.subject_alt_names = uris
        .iter()
        .map(|uri| SanType::URI((*uri).try_into().unwrap()))
        .collect();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(1);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    format!("{}{}", cert.pem(), key.serialize_pem()).into_bytes()
}

/// The certificate at `path`, parsed: (DER, for x509-parser).
fn certificate_der(path: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path)
        .unwrap()
        .as_ref()
        .to_vec()
}

fn serial_hex(path: &Path) -> String {
    let der = certificate_der(path);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.raw_serial()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// (not_before, not_after) as Unix seconds.
fn validity(path: &Path) -> (i64, i64) {
    let der = certificate_der(path);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    (
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    )
}

#[tokio::test]
async fn an_issued_certificate_is_recognised_by_its_service_uri() {
    // A service added with `pki issue-client` and a `[services.NAME]` entry (subject given as
    // the full URI here; the bare name works as for `payments`) reaches the internal API as
    // that principal with its scopes.
    let server = sqlite_server(&[
        (
            "STRONGROOM__SERVICES__LEDGERBOT__SUBJECT",
            "spiffe://strongroom/service/reports",
        ),
        (
            "STRONGROOM__SERVICES__LEDGERBOT__SCOPES",
            "[\"ledger:read\"]",
        ),
    ]);
    let output = pki(&server, &["issue-client", "--name", "reports"]);
    assert!(output.status.success(), "{output:?}");
    let (status, body) = whoami(&server, &issued_identity(&server, "reports"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["service"], "ledgerbot");
    assert_eq!(body["scopes"], serde_json::json!(["ledger:read"]));
}

#[tokio::test]
async fn certificates_without_exactly_one_service_uri_are_forbidden() {
    // Only the URI SAN names a principal: a certificate from the internal CA that names
    // `payments` only by CN, or names two services, or whose CN contradicts its URI, gets the
    // 403 of an unknown principal, and the log says why.
    let server = sqlite_server(&[]);
    let payments = "spiffe://strongroom/service/payments";
    let reports = "spiffe://strongroom/service/reports";
    let control = forged_by_internal_ca(&server, &["payments"], &[payments]);
    assert_eq!(whoami(&server, &control).await.unwrap().0, 200);
    for (common_names, uris, why) in [
        (
            &["payments"][..],
            &[][..],
            "no spiffe://strongroom/service/NAME URI SAN",
        ),
        (
            &["payments"][..],
            &[payments, reports][..],
            "more than one service",
        ),
        (
            &["reports"][..],
            &[payments][..],
            "common name names another principal",
        ),
    ] {
        let identity = forged_by_internal_ca(&server, common_names, uris);
        let (status, body) = whoami(&server, &identity).await.unwrap();
        assert_eq!(status, 403, "CN {common_names:?} URIs {uris:?}: {body}");
        assert_eq!(body["code"], "forbidden");
        assert!(
            server
                .log()
                .lines()
                .any(|line| line.contains("\"WARN\"") && line.contains(why)),
            "no WARN saying {why:?}:\n{}",
            server.log()
        );
    }
}

#[tokio::test]
async fn a_revoked_certificate_is_refused_within_seconds_while_others_still_work() {
    // `pki revoke-client` against a running server: new handshakes with the revoked
    // certificate fail without a restart, other services are unaffected, the log names the
    // revoked serial, and a broken CRL written later changes nothing that was enforced.
    let server = sqlite_server(&[
        ("STRONGROOM__SERVICES__REPORTS__SUBJECT", "reports"),
        ("STRONGROOM__SERVICES__REPORTS__SCOPES", "[\"ledger:read\"]"),
    ]);
    assert!(
        pki(&server, &["issue-client", "--name", "reports"])
            .status
            .success()
    );
    let reports = issued_identity(&server, "reports");
    let payments = issued_identity(&server, "payments");
    assert_eq!(whoami(&server, &reports).await.unwrap().0, 200);

    let serial = serial_hex(&server.path("pki/clients/reports.pem"));
    let output = pki(&server, &["revoke-client", "--name", "reports"]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&serial),
        "{output:?}"
    );

    let started = Instant::now();
    while whoami(&server, &reports).await.is_some() {
        assert!(
            started.elapsed() < REVOCATION_DEADLINE,
            "revoked certificate still accepted after {REVOCATION_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(whoami(&server, &payments).await.unwrap().0, 200);
    assert!(
        server
            .log()
            .lines()
            .any(|line| line.contains("\"WARN\"") && line.contains(&serial)),
        "no WARN naming serial {serial}:\n{}",
        server.log()
    );

    // Revoking again keeps one entry; an unknown name is a usage error.
    let again = pki(&server, &["revoke-client", "--name", "reports"]);
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).contains("already revoked"));
    let unknown = pki(&server, &["revoke-client", "--name", "nobody"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("--name"), "{unknown:?}");

    // A CRL that does not load is reported and the previous one stays in force.
    std::fs::write(server.path("pki/internal-crl.pem"), "not a CRL\n").unwrap();
    let started = Instant::now();
    while !server
        .log()
        .lines()
        .any(|line| line.contains("\"ERROR\"") && line.contains("tls.internal_client_crl"))
    {
        assert!(started.elapsed() < REVOCATION_DEADLINE, "{}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(whoami(&server, &reports).await.is_none());
    assert_eq!(whoami(&server, &payments).await.unwrap().0, 200);
}

#[tokio::test]
async fn serve_needs_no_ca_key_and_the_serving_directory_holds_none() {
    // The CA keys can live offline: with the CA directory gone the server still starts and
    // authenticates services, while issuing or revoking says which flag is missing.
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = init_dir(binary(), dir.path());
    let ca_keys: Vec<String> = ["ca.key", "internal-ca.key"]
        .iter()
        .map(|name| std::fs::read_to_string(ca_dir.path().join(name)).unwrap())
        .collect();
    drop(ca_dir);
    let mut pending = vec![dir.path().to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            for key in &ca_keys {
                assert!(
                    !text.contains(key.trim()),
                    "a CA key is in {}",
                    path.display()
                );
            }
        }
    }

    let server = TestServer::serve_in(binary(), dir, Database::Sqlite, &[]);
    let (status, body) = whoami(&server, &issued_identity(&server, "payments"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    for args in [
        &["issue-client", "--name", "reports"][..],
        &["revoke-client", "--name", "payments"][..],
    ] {
        let output = pki(&server, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(stderr(&output).contains("--ca-dir"), "{args:?}: {output:?}");
        assert_eq!(stderr(&output).trim().lines().count(), 1, "{output:?}");
    }
}

#[test]
fn certificates_have_bounded_lifetimes() {
    // A leaked development certificate stops working: CAs and client certificates within a
    // year, the server certificate within 90 days.
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = init_dir(binary(), dir.path());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let check = |relative: &str, days: i64| {
        let (not_before, not_after) = validity(&dir.path().join(relative));
        assert!(
            not_before <= now && now < not_after,
            "{relative} is not valid now"
        );
        assert!(
            not_after - not_before <= days * DAY_SECS,
            "{relative} lives too long"
        );
        assert!(
            not_after - not_before > (days - 1) * DAY_SECS,
            "{relative} lives shorter than {days} days"
        );
    };
    check("pki/ca.pem", 365);
    check("pki/internal-ca.pem", 365);
    check("pki/server.pem", 90);
    check("pki/clients/payments.pem", 365);

    let issue = |name: &str, extra: &[&str]| {
        Command::new(binary())
            .args(["pki", "issue-client", "--config"])
            .arg(dir.path().join("strongroom.toml"))
            .arg("--ca-dir")
            .arg(ca_dir.path())
            .args(["--name", name])
            .args(extra)
            .output()
            .unwrap()
    };
    let output = issue("reports", &["--days", "30"]);
    assert!(output.status.success(), "{output:?}");
    check("pki/clients/reports.pem", 30);
    for days in ["0", "366"] {
        let output = issue("other", &["--days", days]);
        assert_eq!(output.status.code(), Some(2), "--days {days}");
        assert!(stderr(&output).contains("--days"), "{output:?}");
    }
    // An existing certificate is replaced only on purpose.
    let output = issue("reports", &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr(&output).contains("--force"), "{output:?}");
    let output = issue("reports", &["--force"]);
    assert!(output.status.success(), "{output:?}");
    check("pki/clients/reports.pem", 365);
}

/// Runs `serve` on the initialised `dir` and returns its exit code and stderr; it must exit
/// within `EXIT_DEADLINE`.
fn serve_until_exit(dir: &Path) -> (Option<i32>, String) {
    let log = dir.join("serve.stderr");
    let mut daemon = Daemon::new(
        Command::new(binary())
            .args(["serve", "--config"])
            .arg(dir.join("strongroom.toml"))
            .env("STRONGROOM__SERVER__PUBLIC_ADDR", "127.0.0.1:0")
            .env("STRONGROOM__SERVER__INTERNAL_ADDR", "127.0.0.1:0")
            .env("STRONGROOM__SERVER__OPS_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < EXIT_DEADLINE, "serve kept running");
        std::thread::sleep(Duration::from_millis(100));
    };
    (status.code(), std::fs::read_to_string(&log).unwrap())
}

#[test]
fn a_missing_malformed_or_foreign_crl_stops_serve_with_exit_2() {
    // A configured CRL that cannot be enforced must stop the server at start, naming the key,
    // rather than serve without revocation.
    let dir = tempfile::tempdir().unwrap();
    let _ca_dir = init_dir(binary(), dir.path());
    let other = tempfile::tempdir().unwrap();
    let _other_ca = init_dir(binary(), other.path());
    let crl = dir.path().join("pki/internal-crl.pem");
    let foreign = std::fs::read(other.path().join("pki/internal-crl.pem")).unwrap();
    let cases: [(&str, Option<&[u8]>); 4] = [
        (
            "garbage",
            Some(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"),
        ),
        ("not PEM", Some(b"hello\n")),
        ("signed by another CA", Some(&foreign)),
        ("missing", None),
    ];
    for (case, contents) in cases {
        match contents {
            Some(contents) => std::fs::write(&crl, contents).unwrap(),
            None => std::fs::remove_file(&crl).unwrap(),
        }
        let (code, stderr) = serve_until_exit(dir.path());
        assert_eq!(code, Some(2), "{case}: {stderr}");
        assert!(
            stderr.contains("tls.internal_client_crl"),
            "{case}: {stderr}"
        );
    }
}
