//! Transport security on the wire: protocol versions, ALPN, plain HTTP on the TLS port,
//! slowloris, and the mutual-TLS internal listener.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use test_support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::sqlite_server;

/// A minimal legacy ClientHello (no extensions) announcing TLS 1.`minor - 1`.
fn legacy_client_hello(minor: u8) -> Vec<u8> {
    let mut body = vec![0x03, minor];
    body.extend([0x42; 32]);
    body.push(0);
    let suites: [u16; 4] = [0xc013, 0xc014, 0x002f, 0x0035];
    body.extend(u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
    for suite in suites {
        body.extend(suite.to_be_bytes());
    }
    body.extend([1, 0]);
    let mut handshake = vec![0x01];
    handshake.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, minor];
    record.extend(u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend(handshake);
    record
}

async fn first_bytes(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    reply
}

fn rustls_client(
    server: &TestServer,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(server.path("pki/ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn only_tls_1_2_and_1_3_are_spoken() {
    // Downgrade to TLS 1.0/1.1 must be refused by the server itself, with an alert and no
    // ServerHello; modern clients negotiate 1.2 or 1.3 with HTTP/2.
    let server = sqlite_server(&[]);
    let addr = TestServer::addr(&server.public_url);
    for minor in [0x01, 0x02] {
        let reply = first_bytes(&addr, &legacy_client_hello(minor)).await;
        assert!(!reply.is_empty(), "no alert for TLS 1.{}", minor - 1);
        assert_eq!(
            reply[0],
            0x15,
            "expected an alert record for TLS 1.{}, got {reply:02x?}",
            minor - 1
        );
        assert!(!reply.contains(&0x16), "server sent a handshake record");
    }
    for (versions, expected) in [
        (
            &[&rustls::version::TLS12][..],
            rustls::ProtocolVersion::TLSv1_2,
        ),
        (
            &[&rustls::version::TLS13][..],
            rustls::ProtocolVersion::TLSv1_3,
        ),
    ] {
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let tls = rustls_client(&server, versions)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (_, connection) = tls.get_ref();
        assert_eq!(connection.protocol_version(), Some(expected));
        assert_eq!(connection.alpn_protocol(), Some(&b"h2"[..]));
    }
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_not_served() {
    // A misconfigured client speaking cleartext must never get an HTTP answer.
    let server = sqlite_server(&[]);
    let reply = first_bytes(
        &TestServer::addr(&server.public_url),
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    assert!(
        !reply.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[tokio::test]
async fn slow_header_senders_are_disconnected() {
    // Slowloris: a client that never finishes its headers must lose the connection after the
    // header-read timeout instead of holding it forever.
    let server = sqlite_server(&[("STRONGROOM__SERVER__HEADER_READ_TIMEOUT_SECS", "1")]);
    let mut tls = tls_connect(&server, b"http/1.1").await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), tls.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "connection still open after 15 s");
    assert!(!String::from_utf8_lossy(&reply).contains("200 OK"));
}

#[tokio::test]
async fn internal_listener_requires_a_client_certificate_from_the_internal_ca() {
    // Zero trust inside the network: no certificate or a certificate from another CA fails
    // the handshake; the `payments` certificate is recognised with its scopes.
    let server = sqlite_server(&[]);
    let whoami = format!("{}/internal/v1/whoami", server.internal_url);

    let anonymous = server.client().get(&whoami).send().await;
    assert!(
        anonymous.is_err(),
        "served without a client certificate: {anonymous:?}"
    );

    let other = tempfile::tempdir().unwrap();
    let _other_ca = test_support::init_dir(crate::binary(), other.path());
    let mut foreign = std::fs::read(other.path().join("pki/clients/payments.pem")).unwrap();
    foreign.extend(std::fs::read(other.path().join("pki/clients/payments.key")).unwrap());
    let foreign_client = server
        .client_builder()
        .identity(reqwest::Identity::from_pem(&foreign).unwrap())
        .build()
        .unwrap();
    let forged = foreign_client.get(&whoami).send().await;
    assert!(
        forged.is_err(),
        "served a certificate from a foreign CA: {forged:?}"
    );

    let response = server
        .service_client("payments")
        .get(&whoami)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_some()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["service"], "payments");
    assert_eq!(
        body["scopes"],
        serde_json::json!(["ledger:deposit", "ledger:read", "ledger:withdraw"])
    );

    let unknown = server
        .service_client("payments")
        .get(format!("{}/internal/v1/nothing", server.internal_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn internal_scopes_are_enforced_per_endpoint() {
    // A recognised service without the endpoint's scope gets 403, not data.
    let server = sqlite_server(&[]);
    let response = server
        .service_client("payments")
        .post(format!(
            "{}/internal/v1/profiles/duplicates",
            server.internal_url
        ))
        .json(&serde_json::json!({"national_id": "AB123456C"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
}

/// A TLS connection to the public listener offering `alpn`.
async fn tls_connect(
    server: &TestServer,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(TestServer::addr(&server.public_url))
        .await
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(server.path("pki/ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Whether the server closes `stream` within `within` (everything it sent is returned).
async fn closed_within<S: AsyncReadExt + Unpin>(
    stream: &mut S,
    within: Duration,
) -> Option<Vec<u8>> {
    let mut reply = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut reply)).await {
        Ok(_) => Some(reply),
        Err(_) => None,
    }
}

#[tokio::test]
async fn one_host_cannot_hold_every_connection() {
    // Thousands of idle HTTP/2 connections from one host must not close the door on
    // everyone else: a per-network cap, a deadline for the first request, an idle timeout.
    let server = sqlite_server(&[
        ("STRONGROOM__SERVER__MAX_CONNECTIONS_PER_IP", "4"),
        ("STRONGROOM__SERVER__HEADER_READ_TIMEOUT_SECS", "2"),
        ("STRONGROOM__SERVER__IDLE_TIMEOUT_SECS", "2"),
    ]);
    let addr = TestServer::addr(&server.public_url);

    // An HTTP/2 connection that never sends a request is closed after the deadline.
    let mut silent = tls_connect(&server, b"h2").await;
    assert!(
        closed_within(&mut silent, Duration::from_secs(8))
            .await
            .is_some(),
        "a connection without a first request stays open"
    );
    // One that sent a request is closed once it has been idle for the timeout.
    let mut used = tls_connect(&server, b"http/1.1").await;
    used.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let reply = closed_within(&mut used, Duration::from_secs(8))
        .await
        .expect("an idle connection stays open");
    assert!(String::from_utf8_lossy(&reply).contains("200 OK"));

    // Four connections from one address are held (mid-handshake); the fifth is closed at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut fifth, Duration::from_secs(1))
            .await
            .is_some(),
        "a fifth connection from the same address was kept"
    );
    assert!(
        closed_within(&mut held[0], Duration::from_millis(300))
            .await
            .is_none()
    );
    // A closed connection gives its place back.
    drop(held.remove(0));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut again, Duration::from_millis(500))
            .await
            .is_none(),
        "the freed place was not given back"
    );
    let metrics = crate::metrics_text(&server).await;
    assert!(
        metrics.contains("strongroom_connections_refused_total"),
        "{metrics}"
    );
    assert!(metrics.contains("reason=\"no_first_request\""), "{metrics}");
}
