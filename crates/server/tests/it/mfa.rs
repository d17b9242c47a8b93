//! TOTP and recovery codes through real HTTPS: enrolment, one-time codes (the setup code
//! included), ±1 step only, MFA tickets, recovery codes, and step-up (RFC 9470).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::identity::{Api, PASSWORD, code, decode_part};
use crate::sqlite_server;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn code_at(secret: &str, time: u64) -> String {
    identity::totp::code_at_base32(secret, time).unwrap()
}

/// Registers, logs in, enrols and confirms TOTP. Returns (password token, secret, recovery codes).
pub async fn enrolled_user(api: &Api, email: &str) -> (String, String, Vec<String>) {
    assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    let (token, _) = api.login(email).await;
    let (secret, recovery) = enrol_totp(api, &token).await;
    (token, secret, recovery)
}

/// Enrols and confirms TOTP for the signed-in user of `token` (a fresh sign-in). Returns
/// (secret, recovery codes).
pub async fn enrol_totp(api: &Api, token: &str) -> (String, Vec<String>) {
    let enrolment: Value = api
        .client
        .post(format!("{}/v1/mfa/totp/enroll", api.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    assert!(
        enrolment["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Strongroom:")
    );
    let wrong = api
        .client
        .post(format!("{}/v1/mfa/totp/confirm", api.base))
        .bearer_auth(token)
        .json(&json!({"code": "000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(wrong).await, (401, "invalid_code".into()));
    let confirmed: Value = api
        .client
        .post(format!("{}/v1/mfa/totp/confirm", api.base))
        .bearer_auth(token)
        .json(&json!({"code": code_at(&secret, now())}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recovery: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let me: Value = api.get("/v1/me", token).await.json().await.unwrap();
    assert_eq!(me["mfa"]["totp"], true);
    (secret, recovery)
}

/// Steps the session of `token` up with the TOTP code of time `at`; the `acr=mfa` token.
pub async fn step_up_at(api: &Api, token: &str, secret: &str, at: u64) -> String {
    let stepped = api
        .client
        .post(format!("{}/v1/auth/step-up/totp", api.base))
        .bearer_auth(token)
        .json(&json!({"code": code_at(secret, at)}))
        .send()
        .await
        .unwrap();
    assert_eq!(stepped.status(), 200);
    stepped.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn ticket(api: &Api, email: &str) -> String {
    let response = api.login_from(email, PASSWORD, "192.0.2.50").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "a cookie before the second factor"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mfa_required"], true);
    assert_eq!(body["methods"], json!(["totp"]));
    assert!(body.get("access_token").is_none());
    body["mfa_ticket"].as_str().unwrap().to_owned()
}

async fn second_factor_login(server: TestServer) {
    let api = Api::new(&server);
    let (_, secret, recovery) = enrolled_user(&api, "olga@example.com").await;
    let setup_time = now();

    let mfa_ticket = ticket(&api, "olga@example.com").await;
    // The ticket is not a bearer token.
    assert_eq!(
        code(api.get("/v1/me", &mfa_ticket).await).await,
        (401, "invalid_token".into())
    );
    let try_code = |ticket: String, totp: String| {
        api.client
            .post(format!("{}/v1/auth/mfa/totp", api.base))
            .json(&json!({"mfa_ticket": ticket, "code": totp}))
            .send()
    };
    // The setup code was spent by the confirmation; ±2 steps are outside the window.
    let setup_code = code_at(&secret, setup_time);
    assert_eq!(
        code(try_code(mfa_ticket.clone(), setup_code).await.unwrap()).await,
        (401, "invalid_code".into())
    );
    for drift in [setup_time - 60, setup_time + 60] {
        let drifted = code_at(&secret, drift);
        assert_eq!(
            code(try_code(mfa_ticket.clone(), drifted).await.unwrap()).await,
            (401, "invalid_code".into())
        );
    }
    let next = code_at(&secret, setup_time + 30);
    let accepted = try_code(mfa_ticket.clone(), next.clone()).await.unwrap();
    assert_eq!(accepted.status(), 200);
    assert!(accepted.headers().get("set-cookie").is_some());
    let token = accepted.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = decode_part(&token, 1);
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    // The ticket is single-use, and so is the code.
    assert_eq!(
        code(try_code(mfa_ticket, next.clone()).await.unwrap()).await,
        (401, "invalid_code".into())
    );
    let fresh_ticket = ticket(&api, "olga@example.com").await;
    assert_eq!(
        code(try_code(fresh_ticket.clone(), next).await.unwrap()).await,
        (401, "invalid_code".into())
    );

    // Recovery codes: each works once, in any typing.
    let use_recovery = |ticket: String, recovery: String| {
        api.client
            .post(format!("{}/v1/auth/mfa/recovery", api.base))
            .json(&json!({"mfa_ticket": ticket, "recovery_code": recovery}))
            .send()
    };
    let typed = recovery[3].to_uppercase().replace('-', " ");
    let recovered = use_recovery(fresh_ticket, typed).await.unwrap();
    assert_eq!(recovered.status(), 200);
    let again = ticket(&api, "olga@example.com").await;
    assert_eq!(
        code(
            use_recovery(again.clone(), recovery[3].clone())
                .await
                .unwrap()
        )
        .await,
        (401, "invalid_code".into())
    );
    assert_eq!(
        use_recovery(again, recovery[4].clone())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        code(
            use_recovery("bogus-ticket".into(), recovery[5].clone())
                .await
                .unwrap()
        )
        .await,
        (401, "invalid_code".into())
    );
}

#[tokio::test]
async fn second_factor_login_on_sqlite() {
    second_factor_login(sqlite_server(&[])).await;
}

#[tokio::test]
async fn second_factor_login_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    second_factor_login(TestServer::start(
        crate::binary(),
        Database::Postgres(url),
        &[],
    ))
    .await;
}

#[tokio::test]
async fn step_up_with_totp_raises_acr_and_guards_sensitive_changes() {
    // Re-enrolling a second factor needs a fresh MFA; a TOTP step-up provides it.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    let (pwd_token, secret, _) = enrolled_user(&api, "paul@example.com").await;
    let setup_time = now();
    assert_eq!(decode_part(&pwd_token, 1)["acr"], "pwd");

    let enroll = |token: String| {
        api.client
            .post(format!("{}/v1/mfa/totp/enroll", api.base))
            .bearer_auth(token)
            .send()
    };
    let refused = enroll(pwd_token.clone()).await.unwrap();
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=300"
    );
    assert_eq!(code(refused).await, (401, "step_up_required".into()));

    let step_up = |totp: String| {
        api.client
            .post(format!("{}/v1/auth/step-up/totp", api.base))
            .bearer_auth(&pwd_token)
            .json(&json!({"code": totp}))
            .send()
    };
    assert_eq!(
        code(step_up(code_at(&secret, setup_time)).await.unwrap()).await,
        (401, "invalid_code".into())
    );
    let stepped = step_up(code_at(&secret, setup_time + 30)).await.unwrap();
    assert_eq!(stepped.status(), 200);
    let mfa_token = stepped.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = decode_part(&mfa_token, 1);
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["sid"], decode_part(&pwd_token, 1)["sid"]);
    assert!(claims["auth_time"].as_u64().unwrap() + 5 >= now());
    assert_eq!(enroll(mfa_token).await.unwrap().status(), 200);
    let events: Value = api
        .get("/v1/me/security-events", &pwd_token)
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
    assert!(
        kinds.contains(&"mfa_totp_enabled") && kinds.contains(&"step_up"),
        "{kinds:?}"
    );
}
