//! Traffic protection and scale-out through real HTTPS: route-class rate limits with their
//! headers; with Redis, one budget shared by several instances (and a local share while Redis
//! is down, global again once it is back); a session revoked on one instance refused on the
//! others within a second — over Redis pub/sub, over PostgreSQL `LISTEN/NOTIFY`, and with
//! neither (the store poll).

use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::{Value, json};
use test_support::{Database, PgCluster, Redis, TestServer};

use crate::binary;
use crate::identity::{Api, PASSWORD, code};
use crate::ledger::{deposit, open_account, transfer};

/// How long a revocation may take to reach another instance (docs/api.md: within 1 s).
const REVOCATION_DEADLINE: Duration = Duration::from_secs(1);

fn header(response: &Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn passwordless_options(server: &TestServer, ip: &str) -> Response {
    server
        .client()
        .post(format!(
            "{}/v1/auth/webauthn/login/options",
            server.public_url
        ))
        .header("x-forwarded-for", ip)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_route_class_is_limited_with_its_headers() {
    let server = TestServer::start(
        binary(),
        Database::Sqlite,
        &[
            ("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]"),
            ("STRONGROOM__RATE_LIMITS__AUTH__PER_MINUTE", "20"),
            ("STRONGROOM__RATE_LIMITS__AUTH__BURST", "8"),
            ("STRONGROOM__RATE_LIMITS__READ__PER_MINUTE", "600"),
            ("STRONGROOM__RATE_LIMITS__READ__BURST", "50"),
            ("STRONGROOM__RATE_LIMITS__MONEY__PER_MINUTE", "1"),
            ("STRONGROOM__RATE_LIMITS__MONEY__BURST", "3"),
        ],
    );
    let api = Api::new(&server);
    for email in ["rl-anna@example.com", "rl-bert@example.com"] {
        assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    }
    let (anna, _) = api.login("rl-anna@example.com").await;
    let (bert, _) = api.login("rl-bert@example.com").await;

    // A read carries the headers of its class.
    let me = api.get("/v1/me", &anna).await;
    assert_eq!(me.status(), 200);
    assert_eq!(header(&me, "ratelimit-limit"), Some(50));
    assert!(header(&me, "ratelimit-remaining").is_some_and(|left| left < 50));
    assert!(header(&me, "ratelimit-reset").is_some());
    let health = server
        .client()
        .get(format!("{}/healthz", server.public_url))
        .send()
        .await
        .unwrap();
    assert!(health.headers().get("ratelimit-limit").is_none());

    // Money: three transfers a minute per user, whatever their outcome; the fourth is 429
    // and never reaches the ledger. Another customer is not held back.
    let from = open_account(&api, &anna, "EUR").await;
    let to = open_account(&api, &bert, "EUR").await;
    assert_eq!(
        deposit(&server, &from, 1_000, "rl-fund").await.status(),
        201
    );
    let body =
        json!({"from_account_id": from, "to_account_id": to, "amount": 100, "currency": "EUR"});
    for (i, remaining) in [2, 1, 0].into_iter().enumerate() {
        let sent = transfer(&api, &anna, Some(&format!("rl-{i}")), body.clone()).await;
        assert_eq!(sent.status(), 201);
        assert_eq!(header(&sent, "ratelimit-remaining"), Some(remaining));
    }
    let refused = transfer(&api, &anna, Some("rl-3"), body.clone()).await;
    assert_eq!(refused.status(), 429);
    assert!(header(&refused, "retry-after").is_some_and(|secs| secs >= 1));
    assert_eq!(header(&refused, "ratelimit-remaining"), Some(0));
    assert_eq!(header(&refused, "ratelimit-limit"), Some(3));
    assert_eq!(code(refused).await, (429, "rate_limited".into()));
    let account: Value = api
        .get(&format!("/v1/accounts/{from}"), &anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        account["balance"], 700,
        "the refused transfer moved nothing"
    );
    let back =
        json!({"from_account_id": to, "to_account_id": from, "amount": 1, "currency": "EUR"});
    assert_ne!(
        transfer(&api, &bert, Some("rl-b"), back).await.status(),
        429
    );

    // Unauthenticated calls that write (passwordless options create a ceremony) are limited
    // per client network before the store: a flood from one address stops at the burst...
    let mut admitted = 0;
    for _ in 0..12 {
        let response = passwordless_options(&server, "198.51.100.20").await;
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => assert!(header(&response, "retry-after").is_some()),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(admitted, 8);
    // ...and another network keeps its own budget.
    assert_eq!(
        passwordless_options(&server, "198.51.100.21")
            .await
            .status(),
        200
    );
}

/// Sends `count` passwordless option requests from `ip`, alternating between `servers`;
/// returns how many were admitted (any answer but 200 or 429 fails the test).
async fn admitted_across(servers: &[&TestServer], ip: &str, count: usize) -> usize {
    let mut admitted = 0;
    for i in 0..count {
        let response = passwordless_options(servers[i % servers.len()], ip).await;
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => {}
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    admitted
}

async fn readiness(server: &TestServer) -> Value {
    reqwest::get(format!("{}/readyz", server.ops_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until `server` reports Redis as `status` and sees both instances.
async fn wait_for_redis(server: &TestServer, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = readiness(server).await;
        if ready["redis"] == status && ready["instances"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "redis never became {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Logs in on `a`, shows the token works on `b`, logs out on `a`, and returns how long `b`
/// took to refuse the token.
async fn revocation_delay(a: &TestServer, b: &TestServer, email: &str) -> Duration {
    let on_a = Api::new(a);
    let on_b = Api::new(b);
    let (token, _) = on_a.login(email).await;
    assert_eq!(on_b.get("/v1/me", &token).await.status(), 200);
    let logout = on_a
        .client
        .post(format!("{}/v1/auth/logout", on_a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let logged_out = Instant::now();
    loop {
        let status = on_b.get("/v1/me", &token).await.status();
        if status == 401 {
            return logged_out.elapsed();
        }
        assert_eq!(status, 200);
        assert!(
            logged_out.elapsed() < Duration::from_secs(20),
            "the revoked session still works on the other instance"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn with_redis_limits_are_global_and_survive_redis_going_away() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let mut redis = Redis::start();
    let redis_url = redis.url();
    let env = [
        ("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]"),
        ("STRONGROOM__REDIS__URL", redis_url.as_str()),
        ("STRONGROOM__RATE_LIMITS__AUTH__PER_MINUTE", "1"),
        ("STRONGROOM__RATE_LIMITS__AUTH__BURST", "6"),
    ];
    let a = TestServer::start(binary(), Database::Postgres(url.clone()), &env);
    let b = a.replica(Database::Postgres(url.clone()), &env);
    wait_for_redis(&a, "ok").await;
    wait_for_redis(&b, "ok").await;

    // One budget for both instances: 6 of 12 admitted, wherever they land.
    assert_eq!(admitted_across(&[&a, &b], "203.0.113.1", 12).await, 6);

    // Revocation over pub/sub.
    let api = Api::new(&a);
    assert_eq!(
        api.register("scale-redis@example.com", PASSWORD)
            .await
            .status(),
        201
    );
    let delay = revocation_delay(&a, &b, "scale-redis@example.com").await;
    assert!(delay <= REVOCATION_DEADLINE, "took {delay:?} over Redis");

    // Redis gone: no 5xx; each instance limits locally at its half of the budget (3 + 3),
    // says so in /readyz, and a revocation still arrives through the store poll.
    redis.stop();
    assert_eq!(admitted_across(&[&a, &b], "203.0.113.2", 12).await, 6);
    assert_eq!(admitted_across(&[&a], "203.0.113.3", 6).await, 3);
    assert_eq!(readiness(&a).await["redis"], "degraded");
    let metrics = crate::metrics_text(&a).await;
    assert!(metrics.contains("strongroom_redis_degraded 1"), "{metrics}");
    let delay = revocation_delay(&a, &b, "scale-redis@example.com").await;
    // The poll runs twice a second; one interval of slack for a busy test machine.
    assert!(
        delay <= REVOCATION_DEADLINE * 2,
        "took {delay:?} without Redis"
    );
    assert!(!a.log().contains("\"level\":\"ERROR\""), "{}", a.log());

    // Redis back: global again by itself.
    redis.restart();
    wait_for_redis(&a, "ok").await;
    wait_for_redis(&b, "ok").await;
    assert_eq!(admitted_across(&[&a, &b], "203.0.113.4", 12).await, 6);
}

#[tokio::test]
async fn without_redis_postgresql_carries_revocations_between_instances() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let a = TestServer::start(binary(), Database::Postgres(url.clone()), &[]);
    let b = a.replica(Database::Postgres(url.clone()), &[]);
    let api = Api::new(&a);
    assert_eq!(
        api.register("scale-pg@example.com", PASSWORD)
            .await
            .status(),
        201
    );
    for _ in 0..3 {
        let delay = revocation_delay(&a, &b, "scale-pg@example.com").await;
        assert!(
            delay <= REVOCATION_DEADLINE,
            "took {delay:?} over LISTEN/NOTIFY"
        );
    }
    assert!(
        readiness(&a).await.get("redis").is_none(),
        "no Redis configured"
    );
}

async fn patch_name(api: &Api, token: &str, name: &str) -> Response {
    api.client
        .patch(format!("{}/v1/me", api.base))
        .bearer_auth(token)
        .json(&json!({"display_name": name}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn screening_refuses_injection_patterns_and_lets_real_names_through() {
    // Every test server screens in block mode (test_support): the rest of the suite is the
    // false-positive measure. Here: what is refused, how, and what monitor mode does.
    let server = TestServer::start(binary(), Database::Sqlite, &[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("screen@example.com", PASSWORD).await.status(),
        201
    );
    let (token, _) = api.login("screen@example.com").await;
    for name in ["Siobhán O'Brien", "d'Artagnan & Sons", "Rock 'n' roll <3"] {
        assert_eq!(patch_name(&api, &token, name).await.status(), 200, "{name}");
    }

    let refused = patch_name(&api, &token, "<script>alert(1)</script>").await;
    let request_id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = refused.text().await.unwrap();
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 403);
    assert_eq!(problem["code"], "request_rejected");
    assert!(
        !body.contains("script"),
        "the payload is not echoed: {body}"
    );
    assert!(!request_id.is_empty());
    let query = api
        .get(
            "/v1/accounts?limit=1%20UNION%20SELECT%20password%20FROM%20users",
            &token,
        )
        .await;
    assert_eq!(code(query).await, (403, "request_rejected".into()));
    let login = api
        .post(
            "/v1/auth/login",
            json!({"email": "' OR '1'='1", "password": "x"}),
            "192.0.2.1",
        )
        .await;
    assert_eq!(code(login).await, (403, "request_rejected".into()));
    let me: Value = api.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(
        me["display_name"], "Rock 'n' roll <3",
        "nothing was changed"
    );

    // The signed-in attempts are security events of the user; the log names the rule,
    // never the payload.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events: Value = api
            .get("/v1/me/security-events", &token)
            .await
            .json()
            .await
            .unwrap();
        let screened = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["kind"] == "request_screened")
            .count();
        if screened == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{events}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log();
    assert!(
        log.contains("\"rule\":\"xss\"") && log.contains("\"place\":\"body\""),
        "{log}"
    );
    assert!(!log.contains("alert(1)") && !log.contains("UNION"), "{log}");

    // Monitor mode: the same request is only noted.
    let monitor = TestServer::start(
        binary(),
        Database::Sqlite,
        &[("STRONGROOM__PROTECTION__SCREENING", "monitor")],
    );
    let api = Api::new(&monitor);
    assert_eq!(
        api.register("monitor@example.com", PASSWORD).await.status(),
        201
    );
    let (token, _) = api.login("monitor@example.com").await;
    let noted = patch_name(&api, &token, "<script>alert(1)</script>").await;
    assert_eq!(noted.status(), 200);
    let metrics = crate::metrics_text(&monitor).await;
    assert!(
        metrics.contains("strongroom_screening_matches_total{rule=\"xss\",action=\"monitor\"} 1"),
        "{metrics}"
    );
}
