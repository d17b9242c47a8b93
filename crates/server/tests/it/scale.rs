//! Traffic protection and scale-out through real HTTPS: route-class rate limits with their
//! headers; three instances behind HAProxy sharing PostgreSQL and Redis — one budget for all
//! (a local share while Redis is down, global again once it is back), a session revoked on
//! one instance refused on the others within a second (Redis pub/sub, PostgreSQL
//! `LISTEN/NOTIFY`, or the store poll), one exact ledger; and request screening.

use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::{Value, json};
use std::process::Command;

use test_support::{Database, Haproxy, PgCluster, Redis, TestServer};

use crate::binary;
use crate::identity::{Api, PASSWORD, code};
use crate::ledger::{deposit, open_account, transfer};

/// How long a revocation may take to reach another instance (docs/api.md: within 1 s).
const REVOCATION_DEADLINE: Duration = Duration::from_secs(1);

fn header(response: &Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn passwordless_options(server: &TestServer, ip: &str) -> Response {
    options_at(&server.client(), &server.public_url, ip).await
}

async fn options_at(client: &reqwest::Client, base: &str, ip: &str) -> Response {
    client
        .post(format!("{base}/v1/auth/webauthn/login/options"))
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

/// Sends `count` passwordless option requests from `ip` to `base` (the proxy, which spreads
/// them over the instances); returns how many were admitted (any answer but 200 or 429 fails
/// the test).
async fn admitted_through(client: &reqwest::Client, base: &str, ip: &str, count: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..count {
        let response = options_at(client, base, ip).await;
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

/// Waits until `server` reports Redis as `status` and counts `instances` live instances.
async fn wait_for_redis(server: &TestServer, status: &str, instances: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = readiness(server).await;
        if ready["redis"] == status && ready["instances"] == instances {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "redis never became {status}: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Logs in on `a`, shows the token works on each of `others`, logs out on `a`, and returns
/// how long the slowest of `others` took to refuse the token.
async fn revocation_delay(a: &TestServer, others: &[&TestServer], email: &str) -> Duration {
    let on_a = Api::new(a);
    let (token, _) = on_a.login(email).await;
    for other in others {
        assert_eq!(Api::new(other).get("/v1/me", &token).await.status(), 200);
    }
    let logout = on_a
        .client
        .post(format!("{}/v1/auth/logout", on_a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let logged_out = Instant::now();
    let mut slowest = Duration::ZERO;
    for other in others {
        let api = Api::new(other);
        loop {
            let status = api.get("/v1/me", &token).await.status();
            if status == 401 {
                slowest = slowest.max(logged_out.elapsed());
                break;
            }
            assert_eq!(status, 200);
            assert!(
                logged_out.elapsed() < Duration::from_secs(20),
                "the revoked session still works on another instance"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    slowest
}

#[tokio::test]
async fn three_instances_behind_a_real_proxy_share_limits_revocations_and_one_ledger() {
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
    let c = a.replica(Database::Postgres(url.clone()), &env);
    let instances = [&a, &b, &c];
    let backends: Vec<String> = instances
        .iter()
        .map(|server| TestServer::addr(&server.public_url))
        .collect();
    let proxy = Haproxy::start(&backends, &a.path("pki"));
    let client = a.client();
    for server in instances {
        wait_for_redis(server, "ok", 3).await;
    }

    // One budget for all three: 6 of 18 admitted, spread round-robin by the proxy (each
    // instance served some: its access log shows the path).
    assert_eq!(
        admitted_through(&client, &proxy.url, "203.0.113.1", 18).await,
        6
    );
    for server in instances {
        assert!(server.log().contains("/v1/auth/webauthn/login/options"));
    }

    // Logout on A: B and C refuse the token within a second (Redis pub/sub).
    let api = Api::new(&a);
    assert_eq!(
        api.register("scale@example.com", PASSWORD).await.status(),
        201
    );
    let delay = revocation_delay(&a, &[&b, &c], "scale@example.com").await;
    assert!(delay <= REVOCATION_DEADLINE, "took {delay:?} over Redis");

    // The ledger across instances stays exact: transfers through the proxy, both ways.
    let proxied = Api {
        client: client.clone(),
        base: proxy.url.clone(),
    };
    assert_eq!(
        api.register("scale-b@example.com", PASSWORD).await.status(),
        201
    );
    let (anna, _) = proxied.login("scale@example.com").await;
    let (bert, _) = proxied.login("scale-b@example.com").await;
    let from = open_account(&proxied, &anna, "EUR").await;
    let to = open_account(&proxied, &bert, "EUR").await;
    assert_eq!(deposit(&a, &from, 10_000, "scale-fund").await.status(), 201);
    let sends = (0..30).map(|i| {
        let body =
            json!({"from_account_id": from, "to_account_id": to, "amount": 100, "currency": "EUR"});
        let (proxied, anna) = (&proxied, &anna);
        async move {
            transfer(proxied, anna, Some(&format!("scale-{i}")), body)
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(sends).await;
    let posted = statuses
        .iter()
        .filter(|status| status.as_u16() == 201)
        .count();
    assert!(
        statuses
            .iter()
            .all(|status| matches!(status.as_u16(), 201 | 429)),
        "{statuses:?}"
    );
    let balance = |token: &str, account: &str| {
        let proxied = &proxied;
        let path = format!("/v1/accounts/{account}");
        let token = token.to_owned();
        async move {
            let body: Value = proxied.get(&path, &token).await.json().await.unwrap();
            body["balance"].as_i64().unwrap()
        }
    };
    let posted = i64::try_from(posted).unwrap();
    assert_eq!(balance(&anna, &from).await, 10_000 - 100 * posted);
    assert_eq!(balance(&bert, &to).await, 100 * posted);

    // Redis gone: no 5xx through the proxy; each instance limits locally at its third of the
    // budget (2 + 2 + 2), says so in /readyz and /metrics; revocation still arrives (the
    // store poll).
    redis.stop();
    assert_eq!(
        admitted_through(&client, &proxy.url, "203.0.113.2", 18).await,
        6
    );
    assert_eq!(readiness(&a).await["redis"], "degraded");
    let metrics = crate::metrics_text(&a).await;
    assert!(metrics.contains("strongroom_redis_degraded 1"), "{metrics}");
    let delay = revocation_delay(&b, &[&a, &c], "scale@example.com").await;
    // The poll runs twice a second; one interval of slack for a busy test machine.
    assert!(
        delay <= REVOCATION_DEADLINE * 2,
        "took {delay:?} without Redis"
    );
    for server in instances {
        assert!(
            !server.log().contains("\"level\":\"ERROR\""),
            "{}",
            server.log()
        );
    }

    // Redis back: global again by itself.
    redis.restart();
    for server in instances {
        wait_for_redis(server, "ok", 3).await;
    }
    assert_eq!(
        admitted_through(&client, &proxy.url, "203.0.113.4", 18).await,
        6
    );

    // And the books balance.
    let verified = Command::new(binary())
        .args(["ledger", "verify", "--config"])
        .arg(a.config_path())
        .env("STRONGROOM__DATABASE__URL", &url)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
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
        let delay = revocation_delay(&a, &[&b], "scale-pg@example.com").await;
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
