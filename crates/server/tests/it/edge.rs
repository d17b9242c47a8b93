//! The hardened edge through real HTTPS: security headers, problem+json, request ids, CORS,
//! client addresses, ops endpoints, OpenAPI and graceful shutdown.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::sqlite_server;

const SECURITY_HEADERS: [(&str, &str); 8] = [
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cache-control", "no-store"),
    ("permissions-policy", ""),
];

fn assert_security_headers(response: &reqwest::Response) {
    let headers = response.headers();
    for (name, value) in SECURITY_HEADERS {
        let got = headers
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing on {}", response.status()));
        if !value.is_empty() {
            assert_eq!(got, value, "{name}");
        }
    }
    assert!(headers.get("server").is_none(), "version banner");
    let request_id = headers
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap();
    assert!(!request_id.is_empty() && request_id.len() <= 128);
}

async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_security_headers(&response);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code);
    assert_eq!(
        body["type"],
        format!("https://strongroom.dev/problems/{code}")
    );
    assert_eq!(body["request_id"], request_id.as_str());
    assert!(body["title"].is_string());
    body
}

#[tokio::test]
async fn every_public_response_carries_the_security_headers_and_errors_are_problems() {
    // Browsers and API clients must get the same protective headers on success and on every
    // kind of error, and errors must be problem+json with a stable code.
    let server = sqlite_server(&[]);
    let client = server.client();
    let base = &server.public_url;

    let ok = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_security_headers(&ok);

    let missing = client
        .get(format!("{base}/v1/definitely-not-here"))
        .send()
        .await
        .unwrap();
    let body = assert_problem(missing, 404, "not_found").await;
    let text = body.to_string();
    for leak in ["axum", "hyper", "sqlx", "/work", "panicked", "src/"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }

    let wrong_method = client
        .delete(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong_method, 405, "method_not_allowed").await;

    let too_large = client
        .post(format!("{base}/healthz"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_problem(too_large, 413, "payload_too_large").await;

    let too_large_unknown = client
        .put(format!("{base}/v1/anything"))
        .body(vec![b'x'; 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_problem(too_large_unknown, 413, "payload_too_large").await;
}

#[tokio::test]
async fn request_ids_are_echoed_when_well_formed_and_replaced_otherwise() {
    // Operators correlate a client's id with our logs; hostile ids must not be reflected.
    let server = sqlite_server(&[]);
    let client = server.client();
    let url = format!("{}/healthz", server.public_url);
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };

    let echoed = client
        .get(&url)
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&echoed), "trace-42.a_b");
    for hostile in [
        "<script>".to_owned(),
        "a".repeat(129),
        "a b".to_owned(),
        String::new(),
    ] {
        let response = client
            .get(&url)
            .header("x-request-id", &hostile)
            .send()
            .await
            .unwrap();
        let id = id_of(&response);
        assert_ne!(id, hostile);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    }
    let first = id_of(&client.get(&url).send().await.unwrap());
    let second = id_of(&client.get(&url).send().await.unwrap());
    assert_ne!(first, second, "generated ids must be unique");
    assert!(
        server.log().contains("trace-42.a_b"),
        "request id not in the access log"
    );
}

#[tokio::test]
async fn cors_answers_only_exactly_allowlisted_origins() {
    // A foreign site, a sandboxed iframe (`null`) or a look-alike domain must never be
    // allowed to read responses with the user's credentials.
    let server = sqlite_server(&[(
        "STRONGROOM__SERVER__CORS_ALLOWED_ORIGINS",
        "[\"https://app.example.com\"]",
    )]);
    let client = server.client();
    let url = format!("{}/healthz", server.public_url);
    let allowed = "https://app.example.com";
    let acao = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let simple = client
        .get(&url)
        .header("origin", allowed)
        .send()
        .await
        .unwrap();
    assert_eq!(acao(&simple).as_deref(), Some(allowed));
    assert_eq!(simple.headers()["access-control-allow-credentials"], "true");

    let preflight = client
        .request(Method::OPTIONS, &url)
        .header("origin", allowed)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(acao(&preflight).as_deref(), Some(allowed));
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");

    for foreign in [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.example",
        "https://evilapp.example.com",
        "http://app.example.com",
        "https://app.example.com:8443",
        "*",
    ] {
        let simple = client
            .get(&url)
            .header("origin", foreign)
            .send()
            .await
            .unwrap();
        assert_eq!(acao(&simple), None, "simple request from {foreign}");
        let preflight = client
            .request(Method::OPTIONS, &url)
            .header("origin", foreign)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(acao(&preflight), None, "preflight from {foreign}");
        assert!(
            preflight
                .headers()
                .get("access-control-allow-methods")
                .is_none()
                || acao(&preflight).is_none()
        );
    }
}

fn access_log_client_ips(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["message"] == "request" && entry["route"] == "/healthz")
        .map(|entry| entry["client_ip"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    // Rate limits and anomaly detection key on the client address: an untrusted peer must not
    // choose it, and a trusted proxy's malformed header is refused rather than guessed.
    let untrusted = sqlite_server(&[]);
    let response = untrusted
        .client()
        .get(format!("{}/healthz", untrusted.public_url))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(access_log_client_ips(&untrusted.log()), ["127.0.0.1"]);

    let proxied = sqlite_server(&[("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]")]);
    let client = proxied.client();
    let url = format!("{}/healthz", proxied.public_url);
    let spoofed = client
        .get(&url)
        .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 200);
    // The proxy is configured for X-Forwarded-For: a client's own `Forwarded` passed
    // through it changes nothing, and neither does its garbage.
    for spoof in ["for=\"[2001:db8::7]:4711\";proto=https", "garbage"] {
        let forwarded = client
            .get(&url)
            .header("forwarded", spoof)
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(forwarded.status(), 200);
    }
    assert_eq!(
        access_log_client_ips(&proxied.log()),
        ["198.51.100.7", "203.0.113.9", "203.0.113.9"]
    );
    // A proxy that sets `Forwarded` instead: only that header is read.
    let rfc7239 = sqlite_server(&[
        ("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]"),
        ("STRONGROOM__SERVER__FORWARDED_HEADER", "forwarded"),
    ]);
    let forwarded = rfc7239
        .client()
        .get(format!("{}/healthz", rfc7239.public_url))
        .header("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")
        .header("x-forwarded-for", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 200);
    assert_eq!(access_log_client_ips(&rfc7239.log()), ["2001:db8::7"]);
    let malformed = client
        .get(&url)
        .header("x-forwarded-for", "not-an-address")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400, "invalid_request").await;
}

#[tokio::test]
async fn ops_listener_reports_health_readiness_and_metrics() {
    // Orchestrators and Prometheus rely on these three endpoints.
    let server = sqlite_server(&[]);
    let client = reqwest::Client::new();
    let ops = &server.ops_url;
    assert_eq!(
        client
            .get(format!("{ops}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = client.get(format!("{ops}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    server
        .client()
        .get(format!("{}/healthz", server.public_url))
        .send()
        .await
        .unwrap();
    let metrics = client.get(format!("{ops}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            "strongroom_http_requests_total{listener=\"public\",route=\"/healthz\",status=\"200\"}"
        ),
        "{text}"
    );
    // What an operator alerts on: real histograms (aggregatable across instances), HELP
    // text, the build, the writer queue and the database pool (sampled every 2 s).
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let text = crate::metrics_text(&server).await;
    for expected in [
        "# HELP strongroom_http_requests_total ",
        "# TYPE strongroom_http_request_duration_seconds histogram",
        "strongroom_http_request_duration_seconds_bucket{",
        "strongroom_build_info{version=\"",
        "strongroom_ledger_queue_depth 0",
        "strongroom_db_pool_connections{state=\"idle\"}",
        "# HELP strongroom_ledger_queue_depth ",
        "strongroom_argon2_capacity{lane=\"normal\"}",
        "strongroom_argon2_admitted{lane=\"priority\"} 0",
        "# TYPE process_cpu_seconds_total counter",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(server.ops_url.starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn an_ops_listener_beyond_loopback_serves_metrics_only_to_the_token() {
    // Prometheus on another host scrapes with a bearer token; anyone else reaching the port
    // gets 401, while health and readiness stay open to the orchestrator.
    let token = "0123456789abcdef0123456789abcdef-scraper";
    let server = sqlite_server(&[
        ("STRONGROOM__SERVER__OPS_ADDR", "0.0.0.0:0"),
        ("STRONGROOM__SERVER__OPS_TOKEN", token),
    ]);
    let client = reqwest::Client::new();
    let ops = &server.ops_url;
    let metrics = |bearer: Option<&str>| {
        let mut request = client.get(format!("{ops}/metrics"));
        if let Some(bearer) = bearer {
            request = request.header("authorization", format!("Bearer {bearer}"));
        }
        request.send()
    };
    for wrong in [
        None,
        Some("0123456789abcdef0123456789abcdef-scrapes"),
        Some(""),
    ] {
        let refused = metrics(wrong).await.unwrap();
        assert_eq!(refused.status(), 401, "{wrong:?}");
        assert_eq!(
            refused.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        let body = assert_problem(refused, 401, "invalid_token").await;
        assert!(!body.to_string().contains("strongroom_"), "{body}");
    }
    let scraped = metrics(Some(token)).await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("strongroom_build_info")
    );
    for open in ["healthz", "readyz"] {
        let response = client.get(format!("{ops}/{open}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{open}");
    }
}

#[test]
fn alert_rules_and_the_dashboard_use_only_documented_metrics() {
    // A misspelt metric in an alert never fires: every family the shipped alert rules and
    // dashboard query is one the operations guide documents (and the server exposes).
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let guide = std::fs::read_to_string(docs.join("operations.md")).unwrap();
    let rules = std::fs::read_to_string(docs.join("prometheus-alerts.yml")).unwrap();
    let dashboard = std::fs::read_to_string(docs.join("grafana-dashboard.json")).unwrap();
    let parsed: Value = serde_json::from_str(&dashboard).unwrap();
    assert!(!parsed["panels"].as_array().unwrap().is_empty());
    let alerts = rules.matches("- alert: ").count();
    assert!(alerts >= 8, "{alerts} alerts");
    assert_eq!(
        rules.matches("expr: ").count(),
        alerts,
        "every alert has an expression"
    );
    // Prometheus itself accepts the rules (the test command installs Debian's `prometheus`).
    let checked = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(docs.join("prometheus-alerts.yml"))
        .output()
        .expect("promtool (Debian package prometheus) is installed by `cargo xtask test`");
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let mut names: Vec<String> = Vec::new();
    for text in [&rules, &dashboard] {
        for (start, _) in text.match_indices("strongroom_") {
            let name: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name)
                .to_owned();
            names.push(family);
        }
    }
    assert!(names.len() > 10);
    for name in names {
        assert!(
            guide.contains(&format!("`{name}`")),
            "{name} is queried but not documented in docs/operations.md"
        );
    }
}

#[tokio::test]
async fn openapi_document_is_served_and_describes_the_api() {
    // Clients and the schemathesis gate read the contract from the running server.
    let server = sqlite_server(&[]);
    let response = server
        .client()
        .get(format!("{}/openapi.json", server.public_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(document["paths"]["/healthz"]["get"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    // Orchestrators stop pods with SIGTERM; the process must exit cleanly, not be killed.
    let mut server = sqlite_server(&[]);
    let response = server
        .client()
        .get(format!("{}/healthz", server.public_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The idle keep-alive connection must not hold the shutdown for the whole grace period;
    // the signal is sent from a blocking thread so this runtime keeps the client responsive.
    let started = std::time::Instant::now();
    let (status, server) = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert!(server.log().contains("\"stopped\""));
}

#[tokio::test]
async fn json_bodies_and_auth_failures_get_problems_with_headers_over_https() {
    // The strict body rules and the security headers hold on the wire, on a real endpoint.
    let server = sqlite_server(&[]);
    let client = server.client();
    let url = format!("{}/v1/auth/register", server.public_url);
    let send = |content_type: &'static str, body: String| {
        client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_problem(
        send("text/plain", "{}".into()).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        send("application/json", "{\"email\":".into())
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let duplicate =
        r#"{"email":"a@example.com","email":"b@example.com","password":"x","display_name":"x"}"#;
    assert_problem(
        send("application/json", duplicate.into()).await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let unknown = r#"{"email":"a@example.com","password":"x","display_name":"x","role":"admin"}"#;
    let body = assert_problem(
        send("application/json", unknown.into()).await.unwrap(),
        400,
        "unknown_field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "role");
    let deep = format!("{{\"email\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
    assert_problem(
        send("application/json", deep).await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let unauthenticated = client
        .get(format!("{}/v1/me", server.public_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unauthenticated.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_problem(unauthenticated, 401, "invalid_token").await;
}

#[tokio::test]
async fn an_early_refusal_of_a_request_with_a_body_still_reaches_the_client() {
    // A handler that refuses before reading the body (no valid token) must not leave the body
    // unread on the connection: closing it would reset the answer away under the client.
    let server = sqlite_server(&[]);
    let body = format!("{{\"code\":\"{}\"}}", "1".repeat(200_000));
    for _ in 0..30 {
        // HTTP/1.1, where an unread body stays on the connection (as with most API clients).
        let client = server.client_builder().http1_only().build().unwrap();
        let response = client
            .post(format!("{}/v1/auth/step-up/totp", server.public_url))
            .bearer_auth("not-a-token")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("the 401 answer arrives");
        assert_eq!(response.status(), 401);
    }
}
