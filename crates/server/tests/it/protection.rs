//! Account protection through real HTTPS with MaxMind's test City database: impossible travel
//! kills the session and quarantines the account, a refresh from another browser does the
//! same, a second factor lifts the quarantine (an operator, for a password-only account),
//! blocked countries, the forwarding rule and IPv6 /64 budgets, and the notifications outbox
//! drained by a service. Addresses: London 81.2.69.142, Changchun 175.16.199.7 (see
//! crates/test_support/data/geoip/README.md).

use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::binary;
use crate::identity::{Api, PASSWORD, code, refresh_cookie};
use crate::mfa::{code_at, enrol_totp, now};

const LONDON: &str = "81.2.69.142";
const CHANGCHUN: &str = "175.16.199.7";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";

fn geoip_db() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../test_support/data/geoip/GeoIP2-City-Test.mmdb")
        .display()
        .to_string()
}

fn protected_server(database: Database, extra: &[(&str, &str)]) -> TestServer {
    let db = geoip_db();
    let mut env = vec![
        ("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]"),
        ("STRONGROOM__PROTECTION__GEOIP_DB", db.as_str()),
        (
            "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
            "[\"ledger:deposit\",\"ledger:withdraw\",\"ledger:read\",\"notifications:read\"]",
        ),
    ];
    env.extend_from_slice(extra);
    TestServer::start(binary(), database, &env)
}

/// A browser somewhere: every request carries its User-Agent and (through the trusted
/// proxy) its address.
struct Browser<'s> {
    server: &'s TestServer,
    client: reqwest::Client,
    agent: &'static str,
    ip: &'static str,
}

impl<'s> Browser<'s> {
    fn new(server: &'s TestServer, agent: &'static str, ip: &'static str) -> Self {
        Browser {
            server,
            client: server.client(),
            agent,
            ip,
        }
    }

    fn at(&self, ip: &'static str) -> Self {
        Browser {
            ip,
            ..Browser::new(self.server, self.agent, ip)
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.server.public_url))
            .header("user-agent", self.agent)
            .header("x-forwarded-for", self.ip)
    }

    async fn post(&self, path: &str, body: Value) -> Response {
        self.request(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> Response {
        self.request(reqwest::Method::GET, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn register(&self, email: &str) {
        let body = json!({"email": email, "password": PASSWORD, "display_name": "Protected"});
        assert_eq!(self.post("/v1/auth/register", body).await.status(), 201);
    }

    /// Password login: the raw answer.
    async fn login(&self, email: &str) -> Response {
        self.post(
            "/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await
    }

    /// Password login of an account without a second factor: (access token, refresh cookie).
    async fn sign_in(&self, email: &str) -> (String, String) {
        let response = self.login(email).await;
        assert_eq!(response.status(), 200);
        let cookie = refresh_cookie(&response).unwrap();
        let body: Value = response.json().await.unwrap();
        (body["access_token"].as_str().unwrap().to_owned(), cookie)
    }

    async fn refresh(&self, cookie: &str) -> Response {
        self.request(reqwest::Method::POST, "/v1/auth/refresh")
            .header("cookie", format!("__Host-strongroom_rt={cookie}"))
            .send()
            .await
            .unwrap()
    }

    async fn events(&self, token: &str) -> Vec<Value> {
        let page: Value = self
            .get("/v1/me/security-events", token)
            .await
            .json()
            .await
            .unwrap();
        page["items"].as_array().unwrap().clone()
    }
}

/// The caller's events, after checking that each of `expected` is among them.
async fn events_with(browser: &Browser<'_>, token: &str, expected: &[&str]) -> Vec<Value> {
    let events = browser.events(token).await;
    let kinds = kinds(&events);
    for kind in expected {
        assert!(
            kinds.contains(&(*kind).to_owned()),
            "{kind} missing from {kinds:?}"
        );
    }
    events
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn find<'e>(events: &'e [Value], kind: &str) -> &'e Value {
    events
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event in {events:?}"))
}

/// The page's items but the verification mails every registration sends.
fn protection_items(page: &Value) -> Vec<&Value> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["kind"] != "verify_email")
        .collect()
}

async fn outbox(server: &TestServer, query: &str) -> Value {
    let response = server
        .service_client("payments")
        .get(format!("{}/internal/v1/outbox{query}", server.internal_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn impossible_travel_quarantines_until_an_operator_lifts_it(
    server: TestServer,
    database_url: Option<String>,
) {
    let operator = |email: &str| {
        let mut command = std::process::Command::new(binary());
        command.args([
            "user",
            "lift-quarantine",
            "--config",
            server.config_path().to_str().unwrap(),
            "--email",
            email,
        ]);
        if let Some(url) = &database_url {
            command.env("STRONGROOM__DATABASE__URL", url);
        }
        command.output().unwrap()
    };
    let london = Browser::new(&server, FIREFOX, LONDON);
    london.register("marco@example.com").await;
    let (token, cookie) = london.sign_in("marco@example.com").await;
    assert_eq!(london.get("/v1/accounts", &token).await.status(), 200);
    let sessions: Value = london
        .get("/v1/auth/sessions", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"][0]["location"], "London, GB");

    // The same token from Changchun seconds later: refused, the session is dead, the refresh
    // family with it.
    let changchun = london.at(CHANGCHUN);
    assert_eq!(
        code(changchun.get("/v1/accounts", &token).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        code(london.get("/v1/accounts", &token).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(london.refresh(&cookie).await.status(), 401);

    // The password still signs in, but the account is on hold everywhere except /v1/me.
    let (held, _) = london.sign_in("marco@example.com").await;
    assert_eq!(
        code(london.get("/v1/accounts", &held).await).await,
        (403, "account_quarantined".into())
    );
    let transfer = london
        .request(reqwest::Method::POST, "/v1/transfers")
        .bearer_auth(&held)
        .header("idempotency-key", "held-1")
        .json(
            &json!({"from_account_id": "x", "to_account_id": "y", "amount": 1, "currency": "EUR"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(code(transfer).await, (403, "account_quarantined".into()));
    let me: Value = london.get("/v1/me", &held).await.json().await.unwrap();
    assert_eq!(me["status"], "quarantined");
    // No second factor: stepping up cannot lift it.
    let step_up = london
        .request(reqwest::Method::POST, "/v1/auth/step-up/totp")
        .bearer_auth(&held)
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(step_up.status(), 401);

    // What happened is on record, with where it came from, and in the outbox.
    let lift = operator("marco@example.com");
    assert!(
        lift.status.success(),
        "{}",
        String::from_utf8_lossy(&lift.stderr)
    );
    assert!(String::from_utf8_lossy(&lift.stdout).contains("1 session(s) revoked"));
    // The held session (perhaps the thief's) does not come back: the owner signs in afresh.
    let (fresh, _) = london.sign_in("marco@example.com").await;
    assert_eq!(london.get("/v1/accounts", &fresh).await.status(), 200);
    let sessions: Value = london
        .get("/v1/auth/sessions", &fresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"].as_array().unwrap().len(), 1, "{sessions}");
    let events = events_with(
        &london,
        &fresh,
        &[
            "impossible_travel",
            "account_quarantined",
            "quarantine_lifted",
        ],
    )
    .await;
    assert_eq!(
        find(&events, "impossible_travel")["location"],
        "Changchun, CN"
    );
    let page = outbox(&server, "").await;
    let items = protection_items(&page);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "account_quarantined");
    assert_eq!(items[0]["user_id"], me["user_id"]);
    assert_eq!(items[0]["data"]["reason"], "impossible_travel");
    assert_eq!(items[0]["data"]["location"], "Changchun, CN");
    let unknown = operator("nobody@example.com");
    assert_eq!(unknown.status.code(), Some(1));
}

#[tokio::test]
async fn impossible_travel_on_sqlite() {
    impossible_travel_quarantines_until_an_operator_lifts_it(
        protected_server(Database::Sqlite, &[]),
        None,
    )
    .await;
}

#[tokio::test]
async fn impossible_travel_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    impossible_travel_quarantines_until_an_operator_lifts_it(
        protected_server(Database::Postgres(url.clone()), &[]),
        Some(url),
    )
    .await;
}

/// Password, then the second factor at `path` with `code`: the access token and cookie.
async fn mfa_sign_in(
    browser: &Browser<'_>,
    email: &str,
    path: &str,
    code: &str,
) -> (String, String) {
    let challenge: Value = browser.login(email).await.json().await.unwrap();
    let ticket = challenge["mfa_ticket"].as_str().unwrap().to_owned();
    let field = if path.ends_with("recovery") {
        "recovery_code"
    } else {
        "code"
    };
    let answer = browser
        .post(path, json!({"mfa_ticket": ticket, field: code}))
        .await;
    assert_eq!(answer.status(), 200);
    let cookie = refresh_cookie(&answer).unwrap();
    let body: Value = answer.json().await.unwrap();
    (body["access_token"].as_str().unwrap().to_owned(), cookie)
}

#[tokio::test]
async fn a_hijacked_refresh_on_sqlite() {
    hijacked_refresh_quarantines_and_a_second_factor_lifts_it(protected_server(
        Database::Sqlite,
        &[],
    ))
    .await;
}

#[tokio::test]
async fn a_hijacked_refresh_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    hijacked_refresh_quarantines_and_a_second_factor_lifts_it(protected_server(
        Database::Postgres(url),
        &[],
    ))
    .await;
}

async fn hijacked_refresh_quarantines_and_a_second_factor_lifts_it(server: TestServer) {
    let owner = Browser::new(&server, FIREFOX, LONDON);
    owner.register("nina@example.com").await;
    let (token, _) = owner.sign_in("nina@example.com").await;
    let (secret, recovery) = enrol_totp(&Api::new(&server), &token).await;
    let (_, cookie) = mfa_sign_in(
        &owner,
        "nina@example.com",
        "/v1/auth/mfa/recovery",
        &recovery[0],
    )
    .await;

    // The stolen cookie replayed from another browser family and OS, same address.
    let thief = Browser::new(&server, CHROME_WINDOWS, LONDON);
    assert_eq!(
        code(thief.refresh(&cookie).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        owner.refresh(&cookie).await.status(),
        401,
        "the session is dead"
    );
    // The owner's second factor (here a recovery code) lifts the hold.
    let (lifted, _) = mfa_sign_in(
        &owner,
        "nina@example.com",
        "/v1/auth/mfa/recovery",
        &recovery[1],
    )
    .await;
    assert_eq!(
        code(owner.get("/v1/accounts", &lifted).await).await,
        (200, String::new())
    );
    let events = events_with(
        &owner,
        &lifted,
        &[
            "session_hijack_suspected",
            "account_quarantined",
            "quarantine_lifted",
        ],
    )
    .await;
    assert_eq!(
        find(&events, "session_hijack_suspected")["user_agent"],
        CHROME_WINDOWS
    );

    // London → Changchun within seconds on an account with a second factor: the session
    // dies, the account is held, and a TOTP sign-in lifts it.
    let changchun = owner.at(CHANGCHUN);
    assert_eq!(changchun.get("/v1/me", &lifted).await.status(), 401);
    assert_eq!(owner.get("/v1/me", &lifted).await.status(), 401, "killed");
    let totp = code_at(&secret, now() + 30);
    let (again, _) = mfa_sign_in(&changchun, "nina@example.com", "/v1/auth/mfa/totp", &totp).await;
    let me: Value = changchun.get("/v1/me", &again).await.json().await.unwrap();
    assert_eq!(me["status"], "active");

    // The outbox: drained a page at a time, in order — the factor added, two quarantines and
    // the sign-in from a new country — then acknowledged and never served again.
    let mut drained = Vec::new();
    let mut query = "?limit=1".to_owned();
    loop {
        let page = outbox(&server, &query).await;
        drained.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=1&after={cursor}"),
            None => break,
        }
    }
    // Registration's verification mails are the lifecycle's (tests in lifecycle.rs).
    drained.retain(|n| n["kind"] != "verify_email");
    let drained_kinds: Vec<&str> = drained
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        drained_kinds,
        [
            "mfa_changed",
            "account_quarantined",
            "account_quarantined",
            "new_device"
        ]
    );
    assert_eq!(drained[0]["data"]["change"], "mfa_totp_enabled");
    let ids: Vec<i64> = drained
        .iter()
        .map(|n| n["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert_eq!(drained[3]["data"]["location"], "Changchun, CN");
    let last = ids[3].to_string();
    let ack = server
        .service_client("payments")
        .post(format!("{}/internal/v1/outbox/ack", server.internal_url))
        .json(&json!({"up_to": last}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 204);
    assert_eq!(
        outbox(&server, "").await["items"].as_array().unwrap().len(),
        0
    );
    let bad = server
        .service_client("payments")
        .get(format!(
            "{}/internal/v1/outbox?after=not-a-cursor",
            server.internal_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(code(bad).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn the_outbox_needs_its_scope() {
    let server = TestServer::start(binary(), Database::Sqlite, &[]);
    let response = server
        .service_client("payments")
        .get(format!("{}/internal/v1/outbox", server.internal_url))
        .send()
        .await
        .unwrap();
    assert_eq!(code(response).await, (403, "forbidden".into()));
}

#[tokio::test]
async fn blocked_countries_are_refused_before_anything_else() {
    let server = protected_server(
        Database::Sqlite,
        &[("STRONGROOM__PROTECTION__BLOCKED_COUNTRIES", "[\"CN\"]")],
    );
    let blocked = Browser::new(&server, FIREFOX, CHANGCHUN);
    let response = blocked
        .post("/v1/auth/register", json!({"email": "x"}))
        .await;
    assert_eq!(code(response).await, (403, "geo_blocked".into()));
    assert_eq!(
        code(blocked.get("/", "none").await).await,
        (403, "geo_blocked".into())
    );
    let allowed = Browser::new(&server, FIREFOX, LONDON);
    allowed.register("olga@example.com").await;
    let metrics = crate::metrics_text(&server).await;
    assert!(
        metrics.contains("strongroom_geo_blocked_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("strongroom_geoip_degraded 0"), "{metrics}");
}

#[tokio::test]
async fn an_ipv6_64_is_one_client_and_spoofed_forwarded_headers_change_nothing() {
    let server = protected_server(Database::Sqlite, &[]);
    let owner = Browser::new(&server, FIREFOX, LONDON);
    owner.register("pia@example.com").await;
    // Rotating addresses inside one /64 spends one budget.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let ip: &'static str = Box::leak(format!("2001:db8:1:2::{:x}", i + 1).into_boxed_str());
        let attacker = Browser::new(&server, FIREFOX, ip);
        let answer = attacker
            .post(
                "/v1/auth/login",
                json!({"email": "pia@example.com", "password": "wrong password here"}),
            )
            .await;
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // A client's own `Forwarded: for=Changchun` through a proxy configured for
    // X-Forwarded-For changes nothing: no impossible travel.
    let (token, _) = owner.sign_in("pia@example.com").await;
    let spoofed = owner
        .request(reqwest::Method::GET, "/v1/accounts")
        .bearer_auth(&token)
        .header("forwarded", format!("for={CHANGCHUN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 200);
    assert_eq!(owner.get("/v1/accounts", &token).await.status(), 200);
}

#[test]
fn an_unreadable_geoip_database_is_a_configuration_error() {
    let server = TestServer::start(binary(), Database::Sqlite, &[]);
    let config = server.config_path();
    let output = std::process::Command::new(binary())
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("STRONGROOM__PROTECTION__GEOIP_DB", "/nonexistent/city.mmdb")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("protection.geoip_db"));
}

/// The `__Host-strongroom_device` cookie a sign-in answer sets, if any.
fn device_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("__Host-strongroom_device="))
        .map(|rest| {
            assert!(
                rest.contains("HttpOnly")
                    && rest.contains("Secure")
                    && rest.contains("SameSite=Strict")
            );
            rest.split(';').next().unwrap_or_default().to_owned()
        })
}

#[tokio::test]
async fn a_password_spray_never_locks_the_owner_out_on_sqlite() {
    password_spray_never_locks_the_owner_out(protected_server(Database::Sqlite, &[])).await;
}

#[tokio::test]
async fn a_password_spray_never_locks_the_owner_out_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    password_spray_never_locks_the_owner_out(protected_server(Database::Postgres(url), &[])).await;
}

async fn password_spray_never_locks_the_owner_out(server: TestServer) {
    // 10 attacker addresses in one /64 and 10 in different /64s spray 300 wrong passwords at
    // one account; the owner, on a browser that signed in before, gets in on the first try.
    let owner = Browser::new(&server, FIREFOX, LONDON);
    owner.register("rosa@example.com").await;
    let first = owner.login("rosa@example.com").await;
    assert_eq!(first.status(), 200);
    let device = device_cookie(&first).expect("a device cookie on the first sign-in");
    assert!(
        !device.contains("rosa"),
        "no personal data in the device cookie"
    );

    // A forged or foreign device cookie is ignored, never an error.
    let forged = owner
        .request(reqwest::Method::POST, "/v1/auth/login")
        .header(
            "cookie",
            "__Host-strongroom_device=v1.AAAAAAAAAAAAAAAAAAAAAA.AAAA",
        )
        .json(&json!({"email": "rosa@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    assert!(
        device_cookie(&forged).is_some(),
        "a forged cookie is replaced"
    );
    let metrics = crate::metrics_text(&server).await;
    assert!(
        metrics.contains("strongroom_device_cookie_invalid_total 1"),
        "{metrics}"
    );

    let attackers: Vec<String> = (1..=10)
        .map(|i| format!("2001:db8:aa:bb::{i:x}"))
        .chain((1..=10).map(|i| format!("2001:db8:{i:x}::1")))
        .collect();
    let answers = spray(&server, &attackers, 300).await;
    assert!(
        answers
            .iter()
            .all(|(status, _)| [401, 429, 503].contains(status)),
        "{answers:?}"
    );
    let refused = |ceiling: &str| {
        answers
            .iter()
            .filter(|(s, limit)| *s == 429 && limit == ceiling)
            .count()
    };
    assert!(
        refused("10") >= 150,
        "per (account, client) budgets refused {}",
        refused("10")
    );
    assert!(
        refused("100") >= 1,
        "the account-wide ceiling was reached: {answers:?}"
    );

    // The owner, on the browser that signed in before, while another burst is under way.
    let more = tokio::spawn(spray_owned(
        server.client(),
        server.public_url.clone(),
        attackers,
        40,
    ));
    let started = std::time::Instant::now();
    let owner_login = owner
        .request(reqwest::Method::POST, "/v1/auth/login")
        .header("cookie", format!("__Host-strongroom_device={device}"))
        .json(&json!({"email": "rosa@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        owner_login.status(),
        200,
        "the owner got in on the first try"
    );
    assert!(
        device_cookie(&owner_login).is_none(),
        "a known browser keeps its cookie"
    );
    // Not held back by the account-wide wait (up to 3 s) the attackers meet.
    assert!(
        took < std::time::Duration::from_millis(2500),
        "the owner waited {took:?}"
    );
    more.await.unwrap();
}

/// `total` wrong-password attempts at rosa's account spread over `addresses`, eight at a
/// time: each answer's status and `RateLimit-Limit`.
async fn spray(server: &TestServer, addresses: &[String], total: usize) -> Vec<(u16, String)> {
    spray_owned(
        server.client(),
        server.public_url.clone(),
        addresses.to_vec(),
        total,
    )
    .await
}

async fn spray_owned(
    client: reqwest::Client,
    base: String,
    addresses: Vec<String>,
    total: usize,
) -> Vec<(u16, String)> {
    let url = format!("{base}/v1/auth/login");
    let mut answers = Vec::with_capacity(total);
    for round in (0..total).collect::<Vec<_>>().chunks(8) {
        let mut requests = tokio::task::JoinSet::new();
        for i in round {
            let request = client
                .post(&url)
                .header("user-agent", CHROME_WINDOWS)
                .header("x-forwarded-for", &addresses[i % addresses.len()])
                .json(&json!({"email": "rosa@example.com", "password": "not the password at all"}))
                .send();
            requests.spawn(request);
        }
        while let Some(answer) = requests.join_next().await {
            let response = answer.unwrap().unwrap();
            let limit = response
                .headers()
                .get("ratelimit-limit")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            answers.push((response.status().as_u16(), limit));
        }
    }
    answers
}

#[tokio::test]
async fn a_new_kind_of_device_is_announced_on_sqlite() {
    new_kind_of_device_is_announced(protected_server(Database::Sqlite, &[])).await;
}

#[tokio::test]
async fn a_new_kind_of_device_is_announced_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    new_kind_of_device_is_announced(protected_server(Database::Postgres(url), &[])).await;
}

async fn new_kind_of_device_is_announced(server: TestServer) {
    let home = Browser::new(&server, FIREFOX, LONDON);
    home.register("sven@example.com").await;
    let (token, _) = home.sign_in("sven@example.com").await;
    // The same kind again, and the very first sign-in: nothing to announce.
    home.sign_in("sven@example.com").await;
    let other_browser = Browser::new(&server, CHROME_WINDOWS, LONDON);
    other_browser.sign_in("sven@example.com").await;
    other_browser.sign_in("sven@example.com").await;
    let events = events_with(&home, &token, &["new_device"]).await;
    let new_devices: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "new_device")
        .collect();
    assert_eq!(new_devices.len(), 1, "{events:?}");
    assert_eq!(new_devices[0]["location"], "London, GB");
    let page = outbox(&server, "").await;
    let items = protection_items(&page);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "new_device");
    assert_eq!(items[0]["data"]["device"], "Chrome on Windows 10");
    assert_eq!(items[0]["data"]["location"], "London, GB");
}
