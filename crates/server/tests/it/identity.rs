//! Identity through real HTTPS: registration, login without enumeration, tokens and forged
//! tokens, refresh rotation with grace and reuse detection, sessions, CSRF, throttles.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::{binary, sqlite_server};

pub const PASSWORD: &str = "correct horse battery staple";

/// A server whose forwarding headers are believed from loopback, so tests can act from
/// several client addresses.
pub fn proxied_server(database: Database) -> TestServer {
    TestServer::start(
        binary(),
        database,
        &[("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]")],
    )
}

pub struct Api {
    pub client: Client,
    pub base: String,
}

impl Api {
    pub fn new(server: &TestServer) -> Api {
        Api {
            client: server.client(),
            base: server.public_url.clone(),
        }
    }

    pub async fn post(&self, path: &str, body: Value, ip: &str) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post(
            "/v1/auth/register",
            json!({"email": email, "password": password, "display_name": "Test User"}),
            "192.0.2.1",
        )
        .await
    }

    pub async fn login_from(&self, email: &str, password: &str, ip: &str) -> Response {
        self.post(
            "/v1/auth/login",
            json!({"email": email, "password": password}),
            ip,
        )
        .await
    }

    /// Logs in and returns (access token, refresh cookie value).
    pub async fn login(&self, email: &str) -> (String, String) {
        let response = self.login_from(email, PASSWORD, "192.0.2.10").await;
        assert_eq!(response.status(), 200);
        let cookie = refresh_cookie(&response).expect("refresh cookie");
        let body: Value = response.json().await.unwrap();
        (body["access_token"].as_str().unwrap().to_owned(), cookie)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn refresh(&self, cookie: &str) -> Response {
        self.client
            .post(format!("{}/v1/auth/refresh", self.base))
            .header("cookie", format!("__Host-strongroom_rt={cookie}"))
            .send()
            .await
            .unwrap()
    }
}

pub fn refresh_cookie(response: &Response) -> Option<String> {
    let header = response
        .headers()
        .get("set-cookie")?
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in [
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(
            header.contains(attribute),
            "{attribute} missing from {header}"
        );
    }
    let value = header
        .strip_prefix("__Host-strongroom_rt=")?
        .split(';')
        .next()?
        .to_owned();
    (!value.is_empty()).then_some(value)
}

pub async fn code(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

async fn registration_and_login(server: TestServer) {
    let api = Api::new(&server);
    let created = api.register("  Carol@Example.COM ", PASSWORD).await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    let user_id = body["user_id"].as_str().unwrap().to_owned();

    // A second registration of the same (differently spelled) email looks the same and
    // creates nothing: the original password still works, the new one does not.
    let again = api
        .register("carol@example.com", "another fine passphrase 42")
        .await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert!(again["user_id"].is_string());
    assert_eq!(
        code(
            api.login_from(
                "carol@example.com",
                "another fine passphrase 42",
                "192.0.2.2"
            )
            .await
        )
        .await,
        (401, "invalid_credentials".into())
    );

    let (token, _) = api.login("CAROL@example.com").await;
    let me: Value = api.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["user_id"], user_id.as_str());
    assert_eq!(me["email"], "carol@example.com");
    assert_eq!(me["roles"], json!(["customer"]));
    assert_eq!(me["mfa"], json!({"totp": false, "webauthn": false}));

    let events: Value = api
        .get("/v1/me/security-events", &token)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|kind| **kind == "registered").count(),
        1,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"login") && kinds.contains(&"login_failed"),
        "{kinds:?}"
    );

    // Only the display name may change; privilege fields are unknown fields.
    let patch = |body: Value| {
        api.client
            .patch(format!("{}/v1/me", api.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let renamed: Value = patch(json!({"display_name": "Carol C."}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["display_name"], "Carol C.");
    for field in ["roles", "status", "is_admin", "balance", "email"] {
        let response = patch(json!({"display_name": "x", field: "admin"}))
            .await
            .unwrap();
        assert_eq!(
            code(response).await,
            (400, "unknown_field".into()),
            "{field}"
        );
    }
    assert_eq!(
        code(patch(json!({"display_name": ""})).await.unwrap()).await,
        (422, "validation_failed".into())
    );
}

#[tokio::test]
async fn registration_and_login_on_sqlite() {
    // Accounts are created once per normalised email, and only the display name is editable.
    registration_and_login(proxied_server(Database::Sqlite)).await;
}

#[tokio::test]
async fn registration_and_login_on_postgres() {
    // The same on PostgreSQL.
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    registration_and_login(proxied_server(Database::Postgres(url))).await;
}

#[tokio::test]
async fn weak_passwords_and_bad_fields_are_refused_before_anything_is_stored() {
    // NIST 800-63B: short, long and common passwords get 422 weak_password.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    for password in [
        "short",
        "password1234",
        "qwertyuiop123456",
        &"x".repeat(300),
    ] {
        assert_eq!(
            code(api.register("dave@example.com", password).await).await,
            (422, "weak_password".into()),
            "{password}"
        );
    }
    let response = api.register("not an email", PASSWORD).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "email");
    for hostile in ["\u{0}\u{1}\u{7f}", &"a".repeat(1_000_000)] {
        let response = api
            .post(
                "/v1/auth/register",
                json!({"email": hostile, "password": hostile, "display_name": hostile}),
                "192.0.2.1",
            )
            .await;
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let raw = api
        .client
        .post(format!("{}/v1/auth/register", api.base))
        .header("content-type", "application/json")
        .body(r#"{"email":"\udc00@example.com","password":"correct horse battery staple","display_name":"x"}"#)
        .send()
        .await
        .unwrap();
    assert!(raw.status().is_client_error());
    // Nothing was created: the first valid registration's login works, Dave never existed.
    assert_eq!(
        code(
            api.login_from("dave@example.com", PASSWORD, "192.0.2.3")
                .await
        )
        .await,
        (401, "invalid_credentials".into())
    );
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn login_reveals_nothing_about_which_emails_exist() {
    // Same body and similar time for a wrong password and an unknown email.
    let server = proxied_server(Database::Sqlite);
    let api = Api::new(&server);
    assert_eq!(
        api.register("erin@example.com", PASSWORD).await.status(),
        201
    );
    let strip = |mut body: Value| {
        body.as_object_mut().unwrap().remove("request_id");
        body
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    let (mut known_body, mut unknown_body) = (Value::Null, Value::Null);
    for round in 0..8 {
        let ip = format!("198.51.100.{round}");
        let started = Instant::now();
        let response = api
            .login_from("erin@example.com", "wrong horse battery staple", &ip)
            .await;
        known.push(started.elapsed());
        assert_eq!(response.status(), 401);
        known_body = strip(response.json().await.unwrap());
        let started = Instant::now();
        let response = api
            .login_from(
                &format!("nobody{round}@example.com"),
                "wrong horse battery staple",
                &ip,
            )
            .await;
        unknown.push(started.elapsed());
        assert_eq!(response.status(), 401);
        unknown_body = strip(response.json().await.unwrap());
    }
    assert_eq!(known_body, unknown_body);
    let ratio = median(known).as_secs_f64() / median(unknown).as_secs_f64();
    assert!((0.5..=2.0).contains(&ratio), "timing ratio {ratio}");
}

pub fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn token_audiences_are_configured_and_a_renamed_one_keeps_old_tokens_valid() {
    // A deployment renames its audience: new tokens carry the first configured value, tokens
    // minted under the old name (still listed) keep working, and any other audience is refused.
    let server = sqlite_server(&[(
        "STRONGROOM__SERVER__AUDIENCES",
        "[\"payments-api\", \"strongroom\"]",
    )]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("aud@example.com", PASSWORD).await.status(),
        201
    );
    let (token, _) = api.login("aud@example.com").await;
    let claims = decode_part(&token, 1);
    assert_eq!(claims["aud"], "payments-api");
    assert_eq!(api.get("/v1/me", &token).await.status(), 200);

    let own_pem = std::fs::read(server.path("keys/signing.ed25519")).unwrap();
    let header = decode_part(&token, 0);
    let sign = |audience: &str| {
        let mut claims = claims.clone();
        claims["aud"] = json!(audience);
        let mut jwt_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        jwt_header.typ = Some("at+jwt".into());
        jwt_header.kid = header["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &jwt_header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_pem(&own_pem).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(api.get("/v1/me", &sign("strongroom")).await.status(), 200);
    assert_eq!(api.get("/v1/me", &sign("reports-api")).await.status(), 401);
}

#[tokio::test]
async fn forged_and_tampered_access_tokens_are_rejected() {
    // Every way of minting or altering a token without the server's key, or with the key but
    // the wrong claims, gets 401 invalid_token with the RFC 6750 challenge.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("frank@example.com", PASSWORD).await.status(),
        201
    );
    let (token, _) = api.login("frank@example.com").await;
    assert_eq!(api.get("/v1/me", &token).await.status(), 200);

    let header = decode_part(&token, 0);
    let claims = decode_part(&token, 1);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    let jwks: Value = api
        .client
        .get(format!("{}/.well-known/jwks.json", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
    let signature = token.split('.').nth(2).unwrap();
    let with = |header: &Value, claims: &Value, signature: &str| {
        format!(
            "{}.{}.{signature}",
            encode_part(header),
            encode_part(claims)
        )
    };
    let mut forged: Vec<(&str, String)> = Vec::new();

    let mut none = header.clone();
    none["alg"] = json!("none");
    forged.push(("alg none", with(&none, &claims, "")));
    forged.push((
        "stripped signature",
        format!(
            "{}.{}.",
            token.split('.').next().unwrap(),
            token.split('.').nth(1).unwrap()
        ),
    ));
    let mut swapped = claims.clone();
    swapped["sub"] = json!("00000000-0000-7000-8000-000000000000");
    forged.push(("swapped sub", with(&header, &swapped, signature)));
    let mut extended = claims.clone();
    extended["exp"] = json!(claims["exp"].as_u64().unwrap() + 86_400);
    forged.push(("extended exp", with(&header, &extended, signature)));
    let mut upgraded = claims.clone();
    upgraded["acr"] = json!("mfa");
    forged.push(("upgraded acr", with(&header, &upgraded, signature)));
    let mut admin = claims.clone();
    admin["roles"] = json!(["admin"]);
    forged.push(("upgraded roles", with(&header, &admin, signature)));
    for (name, kid) in [
        ("unknown kid", json!("AAAAAAAAAAAAAAAA")),
        ("kid path trick", json!("../../keys/signing.ed25519")),
        ("kid null", Value::Null),
    ] {
        let mut tricked = header.clone();
        tricked["kid"] = kid;
        forged.push((name, with(&tricked, &claims, signature)));
    }
    let mut jwk_header = header.clone();
    jwk_header["jwk"] = jwks["keys"][0].clone();
    forged.push(("embedded jwk", with(&jwk_header, &claims, signature)));

    // HS256 keyed with the public key (algorithm confusion).
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.typ = Some("at+jwt".into());
    hs_header.kid = header["kid"].as_str().map(str::to_owned);
    let hs = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    forged.push(("HS256 with the public key", hs));

    // A foreign Ed25519 key claiming our kid.
    let other = tempfile::tempdir().unwrap();
    let _other_ca = test_support::init_dir(crate::binary(), other.path());
    let foreign_pem = std::fs::read(other.path().join("keys/signing.ed25519")).unwrap();
    let sign = |pem: &[u8], typ: &str, claims: &Value| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.typ = Some(typ.into());
        header.kid = jwks["keys"][0]["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_ed_pem(pem).unwrap(),
        )
        .unwrap()
    };
    forged.push(("foreign key", sign(&foreign_pem, "at+jwt", &claims)));

    // Our own key with wrong claims: the verifier must check more than the signature.
    let own_pem = std::fs::read(server.path("keys/signing.ed25519")).unwrap();
    forged.push(("typ JWT", sign(&own_pem, "JWT", &claims)));
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    forged.push(("wrong iss", sign(&own_pem, "at+jwt", &wrong_iss)));
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    forged.push(("wrong aud", sign(&own_pem, "at+jwt", &wrong_aud)));
    let mut expired = claims.clone();
    expired["iat"] = json!(claims["iat"].as_u64().unwrap() - 2000);
    expired["exp"] = json!(claims["iat"].as_u64().unwrap() - 1100);
    forged.push(("expired", sign(&own_pem, "at+jwt", &expired)));
    let mut long_lived = claims.clone();
    long_lived["exp"] = json!(claims["iat"].as_u64().unwrap() + 86_400);
    forged.push((
        "lifetime over 15 minutes",
        sign(&own_pem, "at+jwt", &long_lived),
    ));
    let mut other_session = claims.clone();
    other_session["sid"] = json!("00000000-0000-7000-8000-000000000001");
    forged.push(("unknown session", sign(&own_pem, "at+jwt", &other_session)));
    let mut extra = claims.clone();
    extra["is_admin"] = json!(true);
    forged.push(("unknown claim", sign(&own_pem, "at+jwt", &extra)));
    forged.push(("garbage", "not.a.token".into()));
    forged.push(("huge", "a".repeat(10_000)));

    assert!(forged.len() >= 12);
    for (name, forged_token) in forged {
        let response = api
            .client
            .get(format!("{}/v1/me", api.base))
            .header("authorization", format!("Bearer {forged_token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{name} was accepted");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{name}"
        );
        assert_eq!(code(response).await.1, "invalid_token", "{name}");
    }
    let missing = api
        .client
        .get(format!("{}/v1/me", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(code(missing).await, (401, "invalid_token".into()));
    assert_eq!(
        api.get("/v1/me", &token).await.status(),
        200,
        "the genuine token still works"
    );
}

async fn refresh_rotation_and_reuse(server: TestServer) {
    let api = Api::new(&server);
    assert_eq!(
        api.register("grace@example.com", PASSWORD).await.status(),
        201
    );
    let (token, first) = api.login("grace@example.com").await;

    // Two simultaneous refreshes with the same cookie: both succeed with the same new pair.
    let (a, b) = tokio::join!(api.refresh(&first), api.refresh(&first));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let (cookie_a, cookie_b) = (refresh_cookie(&a).unwrap(), refresh_cookie(&b).unwrap());
    assert_eq!(
        cookie_a, cookie_b,
        "a concurrent refresh started a parallel chain"
    );
    assert_ne!(cookie_a, first);
    let body_a: Value = a.json().await.unwrap();
    let body_b: Value = b.json().await.unwrap();
    assert_eq!(body_a["access_token"], body_b["access_token"]);
    assert_eq!(body_a["token_type"], "Bearer");
    assert!(body_a["expires_in"].as_u64().unwrap() <= 900);

    // Rotate once more, then present the very first token: theft. The family and the session
    // die, including live access tokens.
    let third = api.refresh(&cookie_a).await;
    assert_eq!(third.status(), 200);
    let latest = refresh_cookie(&third).unwrap();
    let latest_access = third.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.get("/v1/me", &latest_access).await.status(), 200);
    assert_eq!(
        code(api.refresh(&first).await).await,
        (401, "refresh_token_reused".into())
    );
    assert_eq!(
        code(api.get("/v1/me", &latest_access).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        code(api.get("/v1/me", &token).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        code(api.refresh(&latest).await).await,
        (401, "invalid_refresh_token".into())
    );

    let (fresh, _) = api.login("grace@example.com").await;
    let events: Value = api
        .get("/v1/me/security-events", &fresh)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["kind"] == "refresh_token_reused")
    );
    assert_eq!(
        code(api.refresh("definitely-not-a-token").await).await,
        (401, "invalid_refresh_token".into())
    );
}

#[tokio::test]
async fn refresh_rotates_shares_one_pair_under_concurrency_and_kills_the_family_on_reuse_sqlite() {
    refresh_rotation_and_reuse(sqlite_server(&[])).await;
}

#[tokio::test]
async fn refresh_rotates_shares_one_pair_under_concurrency_and_kills_the_family_on_reuse_postgres()
{
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    refresh_rotation_and_reuse(TestServer::start(binary(), Database::Postgres(url), &[])).await;
}

#[tokio::test]
async fn logout_and_remote_revocation_stop_tokens_at_once() {
    // A killed session's access token must stop working immediately, not at expiry.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("heidi@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        api.register("ivan@example.com", PASSWORD).await.status(),
        201
    );
    let (laptop, _) = api.login("heidi@example.com").await;
    let (phone, phone_cookie) = api.login("heidi@example.com").await;
    let (ivan, _) = api.login("ivan@example.com").await;

    let sessions: Value = api
        .get("/v1/auth/sessions", &laptop)
        .await
        .json()
        .await
        .unwrap();
    let items = sessions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_id = decode_part(&phone, 1)["sid"].as_str().unwrap().to_owned();

    // Ivan cannot see or kill Heidi's session.
    let foreign = api
        .client
        .delete(format!("{}/v1/auth/sessions/{phone_id}", api.base))
        .bearer_auth(&ivan)
        .send()
        .await
        .unwrap();
    assert_eq!(code(foreign).await, (404, "not_found".into()));
    assert_eq!(api.get("/v1/me", &phone).await.status(), 200);

    let killed = api
        .client
        .delete(format!("{}/v1/auth/sessions/{phone_id}", api.base))
        .bearer_auth(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(killed.status(), 204);
    assert_eq!(
        code(api.get("/v1/me", &phone).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        code(api.refresh(&phone_cookie).await).await,
        (401, "invalid_refresh_token".into())
    );
    assert_eq!(api.get("/v1/me", &laptop).await.status(), 200);

    let logout = api
        .client
        .post(format!("{}/v1/auth/logout", api.base))
        .bearer_auth(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        code(api.get("/v1/me", &laptop).await).await,
        (401, "invalid_token".into())
    );
}

#[tokio::test]
async fn cookie_endpoints_refuse_foreign_origins() {
    // CSRF: a page on another origin must not be able to refresh or log the user out.
    let server = sqlite_server(&[(
        "STRONGROOM__SERVER__CORS_ALLOWED_ORIGINS",
        "[\"https://app.example.com\"]",
    )]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("judy@example.com", PASSWORD).await.status(),
        201
    );
    let (_, cookie) = api.login("judy@example.com").await;
    for path in ["/v1/auth/refresh", "/v1/auth/logout"] {
        let response = api
            .client
            .post(format!("{}{path}", api.base))
            .header("origin", "https://evil.example")
            .header("cookie", format!("__Host-strongroom_rt={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(response).await,
            (403, "csrf_rejected".into()),
            "{path}"
        );
    }
    let allowed = api
        .client
        .post(format!("{}/v1/auth/refresh", api.base))
        .header("origin", "https://app.example.com")
        .header("cookie", format!("__Host-strongroom_rt={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
}

#[tokio::test]
async fn an_attacker_hammering_an_account_cannot_lock_its_owner_out() {
    // 40 failed logins from one network get throttled; the owner, elsewhere, still gets in.
    let server = proxied_server(Database::Sqlite);
    let api = Api::new(&server);
    assert_eq!(
        api.register("mallory-target@example.com", PASSWORD)
            .await
            .status(),
        201
    );
    let mut limited = 0;
    for _ in 0..40 {
        let response = api
            .login_from(
                "mallory-target@example.com",
                "wrong horse battery staple",
                "203.0.113.66",
            )
            .await;
        match response.status().as_u16() {
            401 => {}
            429 => {
                let retry_after: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(retry_after >= 1);
                assert!(response.headers().get("ratelimit-limit").is_some());
                assert_eq!(code(response).await.1, "rate_limited");
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        limited >= 25,
        "only {limited} of 40 attempts were throttled"
    );
    // An operator sees the attack by throttle, counted once per refusal.
    let text = crate::metrics_text(&server).await;
    let counted: u64 = text
        .lines()
        .filter(|line| line.starts_with("strongroom_throttled_total{throttle=\"login_"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(counted, limited, "{text}");
    let owner = api
        .login_from("mallory-target@example.com", PASSWORD, "198.51.100.200")
        .await;
    assert_eq!(owner.status(), 200);
}

#[tokio::test]
async fn a_login_flood_gets_503_instead_of_an_unbounded_queue() {
    // The Argon2 pool is bounded: when it is full, callers are told to come back.
    let server = proxied_server(Database::Sqlite);
    let api = Api::new(&server);
    let attempts = (0..80).map(|i| {
        let api = &api;
        async move {
            api.login_from(
                &format!("flood{i}@example.com"),
                "wrong horse battery staple",
                &format!("10.9.{}.{}", i / 200, i % 200 + 1),
            )
            .await
        }
    });
    let responses = futures_util::future::join_all(attempts).await;
    let busy: Vec<&Response> = responses.iter().filter(|r| r.status() == 503).collect();
    assert!(!busy.is_empty(), "no request was refused by the full pool");
    assert!(
        busy.iter()
            .all(|r| r.headers().get("retry-after").is_some())
    );
    assert!(
        responses.iter().any(|r| r.status() == 401),
        "the pool refused everything"
    );
}

#[tokio::test]
async fn rotating_the_signing_key_keeps_old_tokens_valid_until_they_expire() {
    // Operators rotate keys without logging everyone out.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("kim@example.com", PASSWORD).await.status(),
        201
    );
    let (old_token, _) = api.login("kim@example.com").await;
    let old_kid = decode_part(&old_token, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = server.config_path();
    // Stop on a blocking thread so this runtime keeps answering the server's HTTP/2 GOAWAY.
    let dir = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();

    let rotated = crate::strongroom(&[
        "keys",
        "rotate-signing",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(rotated.status.success(), "{rotated:?}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("keys/signing.ed25519"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let server = TestServer::serve_in(binary(), dir, Database::Sqlite, &[]);
    let api = Api::new(&server);
    let jwks: Value = api
        .client
        .get(format!("{}/.well-known/jwks.json", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid.as_str()));
    assert_eq!(
        api.get("/v1/me", &old_token).await.status(),
        200,
        "old token no longer verifies"
    );
    let (new_token, _) = api.login("kim@example.com").await;
    let new_kid = decode_part(&new_token, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(api.get("/v1/me", &new_token).await.status(), 200);
}

#[tokio::test]
async fn a_refresh_token_reused_after_the_grace_window_revokes_the_family() {
    // The grace covers a concurrent refresh only: the same token presented 10 s later is theft.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("sybil@example.com", PASSWORD).await.status(),
        201
    );
    let (_, first) = api.login("sybil@example.com").await;
    let rotated = api.refresh(&first).await;
    assert_eq!(rotated.status(), 200);
    let second = refresh_cookie(&rotated).unwrap();
    let access = rotated.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    assert_eq!(
        code(api.refresh(&first).await).await,
        (401, "refresh_token_reused".into())
    );
    assert_eq!(
        code(api.get("/v1/me", &access).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        code(api.refresh(&second).await).await,
        (401, "invalid_refresh_token".into())
    );
}

#[tokio::test]
async fn refresh_families_end_at_their_absolute_lifetime() {
    // However often it is rotated, a family dies at its absolute lifetime (7 days by default;
    // 3 seconds here), and access tokens never outlive their session.
    let server = sqlite_server(&[("STRONGROOM__AUTH__REFRESH_FAMILY_TTL_SECS", "3")]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("tara@example.com", PASSWORD).await.status(),
        201
    );
    let response = api
        .login_from("tara@example.com", PASSWORD, "192.0.2.9")
        .await;
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("Max-Age=3") || set_cookie.contains("Max-Age=2"),
        "{set_cookie}"
    );
    let mut cookie = refresh_cookie(&response).unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(body["expires_in"].as_u64().unwrap() <= 3);
    let rotated = api.refresh(&cookie).await;
    assert_eq!(rotated.status(), 200);
    cookie = refresh_cookie(&rotated).unwrap();
    let access = rotated.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(
        code(api.refresh(&cookie).await).await,
        (401, "invalid_refresh_token".into())
    );
    assert_eq!(
        code(api.get("/v1/me", &access).await).await,
        (401, "invalid_token".into())
    );
}
