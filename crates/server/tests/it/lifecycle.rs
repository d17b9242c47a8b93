//! The account lifecycle through real HTTPS, reading tokens from the notifications outbox as
//! the operator's mailer would: email verification, password reset (replay, expiry, a weak
//! password, MFA still asked afterwards), password change, email change, the no-dead-end rule
//! for users without a second factor, an MFA reset that needs two admins, the data export, and
//! closing an account (refused with money, then allowed, leaving no personal data behind).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::admin::{admin_post, cli, grant_role, staff};
use crate::binary;
use crate::identity::{Api, PASSWORD, code};
use crate::ledger::{deposit, open_account, transfer};
use crate::mfa::{enrol_totp, now, step_up_at};

const NEW_PASSWORD: &str = "a rather longer passphrase, 2026";

/// A server whose `payments` service may also read the outbox (as the mailer), and which
/// believes forwarding headers from loopback (so tests act from several client addresses).
fn lifecycle_server(database: Database) -> TestServer {
    lifecycle_server_with(database, &[])
}

fn lifecycle_server_with(database: Database, extra: &[(&str, &str)]) -> TestServer {
    let mut env = vec![
        ("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]"),
        (
            "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
            "[\"ledger:deposit\",\"ledger:withdraw\",\"ledger:read\",\"ledger:freeze\",\"notifications:read\"]",
        ),
    ];
    env.extend_from_slice(extra);
    TestServer::start(binary(), database, &env)
}

/// Every unacknowledged outbox item, oldest first.
async fn outbox_items(server: &TestServer) -> Vec<Value> {
    let page: Value = server
        .service_client("payments")
        .get(format!(
            "{}/internal/v1/outbox?limit=500",
            server.internal_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Every outbox item of `kind` addressed to `to`, oldest first (polled briefly: tokens for
/// `forgot` and registration are written off the response path).
async fn mails(server: &TestServer, kind: &str, to: &str, at_least: usize) -> Vec<Value> {
    for _ in 0..50 {
        let found: Vec<Value> = outbox_items(server)
            .await
            .iter()
            .filter(|item| item["kind"] == kind)
            .map(|item| item["data"].clone())
            .filter(|data| data["to"] == to)
            .collect();
        if found.len() >= at_least {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {at_least} {kind} notifications to {to}");
}

/// The token of the newest `kind` notification to `to`.
async fn token(server: &TestServer, kind: &str, to: &str, at_least: usize) -> String {
    let mails = mails(server, kind, to, at_least).await;
    mails.last().unwrap()["token"].as_str().unwrap().to_owned()
}

async fn post(api: &Api, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = api.client.post(format!("{}{path}", api.base)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn me(api: &Api, token: &str) -> Value {
    let response = api.get("/v1/me", token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn login_status(api: &Api, email: &str, password: &str) -> (u16, Value) {
    let response = api.login_from(email, password, "192.0.2.10").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn verification_reset_and_change_of_passwords() {
    let server = lifecycle_server(Database::Sqlite);
    let api = Api::new(&server);

    // Registration sends a verification token; /v1/me shows the address unverified until used.
    assert_eq!(
        api.register("ann@example.com", PASSWORD).await.status(),
        201
    );
    let (ann, _) = api.login("ann@example.com").await;
    let shown = me(&api, &ann).await;
    assert_eq!(shown["email_verified"], false);
    // The access log names the user of every bearer request.
    let ann_id = shown["user_id"].as_str().unwrap().to_owned();
    assert!(
        server
            .log()
            .contains(&format!("\"principal\":\"user:{ann_id}\"")),
        "the access log does not name the user"
    );
    let verify = token(&server, "verify_email", "ann@example.com", 1).await;
    for bad in ["not a token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let refused = post(&api, "/v1/auth/email/verify", None, json!({"token": bad})).await;
        assert_eq!(
            code(refused).await,
            (400, "invalid_verification_token".into())
        );
    }
    let verified = post(
        &api,
        "/v1/auth/email/verify",
        None,
        json!({"token": verify}),
    )
    .await;
    assert_eq!(verified.status(), 204);
    assert_eq!(me(&api, &ann).await["email_verified"], true);
    let replay = post(
        &api,
        "/v1/auth/email/verify",
        None,
        json!({"token": verify}),
    )
    .await;
    assert_eq!(
        code(replay).await,
        (400, "invalid_verification_token".into())
    );

    // Ann has a second factor. Forgot: the same 202 for her and for nobody; only she gets a
    // token, and a second request replaces the first.
    let (secret, _) = enrol_totp(&api, &ann).await;
    for email in ["ann@example.com", "nobody@example.com", "ann@example.com"] {
        let asked = post(
            &api,
            "/v1/auth/password/forgot",
            None,
            json!({"email": email}),
        )
        .await;
        assert_eq!(asked.status(), 202);
        assert_eq!(asked.text().await.unwrap(), "");
    }
    let resets = mails(&server, "password_reset", "ann@example.com", 2).await;
    assert_eq!(resets.len(), 2);
    assert!(
        mails(&server, "password_reset", "nobody@example.com", 0)
            .await
            .is_empty()
    );
    let first = resets[0]["token"].as_str().unwrap();
    let second = resets[1]["token"].as_str().unwrap();
    let replaced = post(
        &api,
        "/v1/auth/password/reset",
        None,
        json!({"token": first, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(code(replaced).await, (400, "invalid_reset_token".into()));

    // A weak password names its rule and uses nothing up.
    for (weak, rule) in [("short", "too_short"), ("password12345", "too_common")] {
        let refused = post(
            &api,
            "/v1/auth/password/reset",
            None,
            json!({"token": second, "new_password": weak}),
        )
        .await;
        assert_eq!(refused.status(), 422);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "weak_password");
        assert_eq!(
            body["errors"][0],
            json!({"field": "new_password", "code": rule})
        );
    }
    let reset = post(
        &api,
        "/v1/auth/password/reset",
        None,
        json!({"token": second, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(reset.status(), 204);
    let replay = post(
        &api,
        "/v1/auth/password/reset",
        None,
        json!({"token": second, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(code(replay).await, (400, "invalid_reset_token".into()));
    // Every session died; the old password is gone; the new one still asks for the factor.
    assert_eq!(api.get("/v1/me", &ann).await.status(), 401);
    assert_eq!(login_status(&api, "ann@example.com", PASSWORD).await.0, 401);
    let (status, answer) = login_status(&api, "ann@example.com", NEW_PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer["access_token"].is_null());

    // An expired token is refused like a used one, and changes nothing.
    let asked = post(
        &api,
        "/v1/auth/password/forgot",
        None,
        json!({"email": "ann@example.com"}),
    )
    .await;
    assert_eq!(asked.status(), 202);
    let third = token(&server, "password_reset", "ann@example.com", 3).await;
    let db = server.path("data/strongroom.db");
    let expired = Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(&db)
        .arg("UPDATE user_tokens SET expires_at = 1 WHERE purpose = 'password_reset'")
        .output()
        .unwrap();
    assert!(expired.status.success(), "{expired:?}");
    let late = post(
        &api,
        "/v1/auth/password/reset",
        None,
        json!({"token": third, "new_password": PASSWORD}),
    )
    .await;
    assert_eq!(code(late).await, (400, "invalid_reset_token".into()));
    assert_eq!(
        login_status(&api, "ann@example.com", NEW_PASSWORD).await.0,
        200
    );

    // Ann signs in with both factors (a fresh `acr=mfa`), so she may change her password.
    let ticket = answer["mfa_ticket"].as_str().unwrap();
    let signed_in = post(
        &api,
        "/v1/auth/mfa/totp",
        None,
        json!({"mfa_ticket": ticket, "code": crate::mfa::code_at(&secret, now() + 30)}),
    )
    .await;
    assert_eq!(signed_in.status(), 200);
    let ann_mfa: Value = signed_in.json().await.unwrap();
    let ann_mfa = ann_mfa["access_token"].as_str().unwrap().to_owned();
    let change = json!({"current_password": NEW_PASSWORD, "new_password": PASSWORD});
    // Bob has no factor: a password-only session changes it, with the current password.
    assert_eq!(
        api.register("bob@example.com", PASSWORD).await.status(),
        201
    );
    let (bob, _) = api.login("bob@example.com").await;
    let (bob_other, _) = api.login("bob@example.com").await;
    let wrong = post(
        &api,
        "/v1/me/password",
        Some(&bob),
        json!({"current_password": "not my password at all", "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(code(wrong).await, (401, "invalid_credentials".into()));
    let changed = post(
        &api,
        "/v1/me/password",
        Some(&bob),
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(changed.status(), 204);
    assert_eq!(api.get("/v1/me", &bob).await.status(), 200);
    assert_eq!(api.get("/v1/me", &bob_other).await.status(), 401);
    assert_eq!(
        login_status(&api, "bob@example.com", NEW_PASSWORD).await.0,
        200
    );
    let announced = outbox_items(&server).await;
    let kinds: Vec<&str> = announced
        .iter()
        .filter_map(|item| item["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "password_changed").count(),
        2,
        "{kinds:?}"
    );

    let changed = post(&api, "/v1/me/password", Some(&ann_mfa), change).await;
    assert_eq!(changed.status(), 204);
    // Bob (no factor) meets a step-up rule: 403 mfa_enrollment_required, never a dead end.
    let (_, signed_in) = login_status(&api, "bob@example.com", NEW_PASSWORD).await;
    let bob = signed_in["access_token"].as_str().unwrap().to_owned();
    for (method, path) in [("DELETE", "/v1/me"), ("GET", "/v1/me/export")] {
        let request = match method {
            "DELETE" => api.client.delete(format!("{}{path}", api.base)),
            _ => api.client.get(format!("{}{path}", api.base)),
        };
        let refused = request.bearer_auth(&bob).send().await.unwrap();
        assert_eq!(code(refused).await, (403, "mfa_enrollment_required".into()));
    }
    let account = open_account(&api, &bob, "EUR").await;
    assert_eq!(
        deposit(&server, &account, 500_000, "bob-1").await.status(),
        201
    );
    let other = open_account(&api, &ann_mfa, "EUR").await;
    let big = transfer(
        &api,
        &bob,
        Some("big-1"),
        json!({"from_account_id": account,
        "to_account_id": other, "amount": 200_000, "currency": "EUR"}),
    )
    .await;
    assert_eq!(code(big).await, (403, "mfa_enrollment_required".into()));

    // Floods: a fourth request for one address within minutes is 429, known or not — also
    // when spelt with look-alike (full-width) characters that name the same address.
    for (attempt, email) in [
        "flood@example.com",
        "FLOOD@example.com",
        "\u{ff46}lood@example.com",
        "flood\u{ff20}example.com",
    ]
    .into_iter()
    .enumerate()
    {
        let asked = post(
            &api,
            "/v1/auth/password/forgot",
            None,
            json!({ "email": email }),
        )
        .await;
        let expected = if attempt < 3 { 202 } else { 429 };
        assert_eq!(asked.status(), expected, "attempt {attempt}");
    }
}

/// Forgot answers known and unknown addresses in the same time: medians of alternating
/// requests (each side first in half the pairs), each address asked once (so no throttle is
/// met).
#[tokio::test]
async fn forgot_takes_as_long_for_known_and_unknown_addresses() {
    const SAMPLES: usize = 41;
    let server = lifecycle_server(Database::Sqlite);
    let api = Api::new(&server);
    for i in 0..SAMPLES {
        let registered = api.post("/v1/auth/register",
            json!({"email": format!("known{i}@example.com"), "password": PASSWORD, "display_name": "Known"}),
            &format!("198.51.100.{}", i + 1)).await;
        assert_eq!(registered.status(), 201);
    }
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..SAMPLES {
        let mut pair = [
            (format!("known{i}@example.com"), &mut known),
            (format!("unknown{i}@example.com"), &mut unknown),
        ];
        // Each side goes first half the time, so neither pays more of whatever the first
        // request of a pair meets (a woken connection, a scheduler's time slice).
        if i % 2 == 1 {
            pair.reverse();
        }
        for (email, times) in pair {
            let started = Instant::now();
            let asked = api
                .post(
                    "/v1/auth/password/forgot",
                    json!({"email": email}),
                    &format!("203.0.113.{}", i + 1),
                )
                .await;
            times.push(started.elapsed());
            assert_eq!(asked.status(), 202);
        }
    }
    known.sort();
    unknown.sort();
    let ratio = known[SAMPLES / 2].as_secs_f64() / unknown[SAMPLES / 2].as_secs_f64();
    println!(
        "forgot median known {:?} unknown {:?} ratio {ratio:.3}",
        known[SAMPLES / 2],
        unknown[SAMPLES / 2]
    );
    assert!((0.8..=1.25).contains(&ratio), "known/unknown = {ratio}");
    assert_eq!(
        mails(&server, "password_reset", "known0@example.com", 1)
            .await
            .len(),
        1
    );
}

/// Carol changes her email, exports her data and closes her account: refused while it holds
/// money, then closed with nothing personal left in the database.
async fn email_change_export_and_closing(server: TestServer, dump: impl Fn(&TestServer) -> String) {
    let api = Api::new(&server);
    let (carol_pwd, carol) = staff(&api, "carol@example.com").await;
    assert_eq!(
        api.register("dave@example.com", PASSWORD).await.status(),
        201
    );
    let (dave, _) = api.login("dave@example.com").await;

    // Changing the address needs a step-up; a taken address answers the same and gets nothing.
    let stale = post(
        &api,
        "/v1/me/email",
        Some(&carol_pwd),
        json!({"new_email": "carol.new@example.com"}),
    )
    .await;
    assert_eq!(code(stale).await, (401, "step_up_required".into()));
    // So does changing the password of an account with a second factor.
    let stale = post(
        &api,
        "/v1/me/password",
        Some(&carol_pwd),
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(code(stale).await, (401, "step_up_required".into()));
    let taken = post(
        &api,
        "/v1/me/email",
        Some(&carol),
        json!({"new_email": "dave@example.com"}),
    )
    .await;
    assert_eq!(taken.status(), 202);
    // Carol sees what she would see for a free address: her event and the notice.
    let notices = mails(&server, "email_change_requested", "carol@example.com", 1).await;
    assert_eq!(notices.len(), 1);
    let events: Value = api
        .get("/v1/me/security-events", &carol)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events["items"][0]["kind"], "email_change_requested");
    let asked = post(
        &api,
        "/v1/me/email",
        Some(&carol),
        json!({"new_email": "Carol.New@example.com"}),
    )
    .await;
    assert_eq!(asked.status(), 202);
    let notices = mails(&server, "email_change_requested", "carol@example.com", 2).await;
    assert_eq!(notices.len(), 2);
    let verify = token(&server, "verify_email", "carol.new@example.com", 1).await;
    let dave_verifications = mails(&server, "verify_email", "dave@example.com", 1).await;
    assert_eq!(
        dave_verifications.len(),
        1,
        "only Dave's own registration mail"
    );
    // The old address signs in until the new one is verified, then only the new one does.
    assert_eq!(
        login_status(&api, "carol@example.com", PASSWORD).await.0,
        200
    );
    assert_eq!(
        login_status(&api, "carol.new@example.com", PASSWORD)
            .await
            .0,
        401
    );
    let verified = post(
        &api,
        "/v1/auth/email/verify",
        None,
        json!({"token": verify}),
    )
    .await;
    assert_eq!(verified.status(), 204);
    assert_eq!(
        login_status(&api, "carol@example.com", PASSWORD).await.0,
        401
    );
    assert_eq!(
        login_status(&api, "carol.new@example.com", PASSWORD)
            .await
            .0,
        200
    );
    assert_eq!(
        mails(&server, "email_changed", "carol@example.com", 1)
            .await
            .len(),
        1
    );
    let shown = me(&api, &carol).await;
    assert_eq!(
        (shown["email"].as_str(), shown["email_verified"].as_bool()),
        (Some("carol.new@example.com"), Some(true))
    );

    // Her data: a profile, an account with money.
    let profile = json!({"legal_name": "Caroline Quennell-Smythe", "date_of_birth": "1979-03-02",
        "national_id": "ZX 12 34 56 Q", "address": {"line1": "4 Privet Drive",
        "city": "Little Whinging", "postal_code": "GU1 2AB", "country": "GB"}});
    let put = api
        .client
        .put(format!("{}/v1/me/profile", api.base))
        .bearer_auth(&carol)
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let account = open_account(&api, &carol, "EUR").await;
    let davids = open_account(&api, &dave, "EUR").await;
    assert_eq!(
        deposit(&server, &account, 700, "carol-1").await.status(),
        201
    );

    // The export: a password-only token steps up first; then everything, decrypted.
    let stale = api.get("/v1/me/export", &carol_pwd).await;
    assert_eq!(code(stale).await.1, "step_up_required");
    let export: Value = api.get("/v1/me/export", &carol).await.json().await.unwrap();
    assert_eq!(export["user"]["email"], "carol.new@example.com");
    assert_eq!(export["profile"]["legal_name"], "Caroline Quennell-Smythe");
    assert_eq!(export["profile"]["address"]["city"], "Little Whinging");
    assert!(!export["sessions"].as_array().unwrap().is_empty());
    let kinds: Vec<&str> = export["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"email_changed") && kinds.contains(&"registered"),
        "{kinds:?}"
    );
    assert_eq!(export["accounts"][0]["account"]["id"], account.as_str());
    assert_eq!(export["accounts"][0]["entries"][0]["amount"], 700);
    assert_eq!(export["truncated"], false);

    // Closing: refused while the account holds money; allowed once it is empty.
    let closing = |token: &str| {
        api.client
            .delete(format!("{}/v1/me", api.base))
            .bearer_auth(token.to_owned())
            .send()
    };
    assert_eq!(
        code(closing(&carol).await.unwrap()).await,
        (409, "balance_not_zero".into())
    );
    assert_eq!(me(&api, &carol).await["status"], "active");
    let emptied = transfer(
        &api,
        &carol,
        Some("empty-1"),
        json!({"from_account_id": account,
        "to_account_id": davids, "amount": 700, "currency": "EUR"}),
    )
    .await;
    assert_eq!(emptied.status(), 201);
    let closed = closing(&carol).await.unwrap();
    assert_eq!(closed.status(), 204);
    assert!(
        closed.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(api.get("/v1/me", &carol).await.status(), 401);
    assert_eq!(
        login_status(&api, "carol.new@example.com", PASSWORD)
            .await
            .0,
        401
    );
    // Her ledger account takes no more money; the history stays and verifies.
    assert_eq!(deposit(&server, &account, 5, "carol-2").await.status(), 404);
    // And nobody reopens it by freezing or unfreezing it.
    for action in ["freeze", "unfreeze"] {
        let reopened = server
            .service_client("payments")
            .post(format!(
                "{}/internal/v1/accounts/{account}/{action}",
                server.internal_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(reopened.status(), 404, "{action}");
    }
    assert_eq!(deposit(&server, &account, 5, "carol-3").await.status(), 404);
    for command in [["ledger", "verify"], ["audit", "verify"]] {
        let out = cli(&server, &command);
        assert!(out.status.success(), "{command:?}: {out:?}");
    }
    // She is told at the address the account had; once the mailer has acknowledged that
    // notice, nothing personal of hers is left.
    assert_eq!(
        mails(&server, "account_closed", "carol.new@example.com", 1)
            .await
            .len(),
        1
    );
    let last = outbox_items(&server).await.last().unwrap()["id"].clone();
    let acked = server
        .service_client("payments")
        .post(format!("{}/internal/v1/outbox/ack", server.internal_url))
        .json(&json!({ "up_to": last }))
        .send()
        .await
        .unwrap();
    assert_eq!(acked.status(), 204);
    const PERSONAL: [&str; 7] = [
        "carol.new@example.com",
        "carol@example.com",
        "Caroline",
        "Quennell",
        "ZX 12 34 56 Q",
        "Privet",
        "Little Whinging",
    ];
    // The log is emptied off the response path after the acknowledgement: a few seconds.
    let mut text = dump(&server);
    for _ in 0..50 {
        if !PERSONAL.iter().any(|personal| text.contains(personal)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = dump(&server);
    }
    for personal in PERSONAL {
        assert!(
            !text.contains(personal),
            "{personal} is still in the database"
        );
    }
    assert!(text.contains(&account), "the ledger history stays");
    // The address is free again.
    assert_eq!(
        api.register("carol.new@example.com", PASSWORD)
            .await
            .status(),
        201
    );
    assert_eq!(
        login_status(&api, "carol.new@example.com", PASSWORD)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn email_change_export_and_closing_on_sqlite() {
    let server = lifecycle_server(Database::Sqlite);
    email_change_export_and_closing(server, |server| {
        // A checkpoint first: the dump must see what the WAL holds.
        let out = Command::new("sqlite3")
            .args(["-cmd", ".timeout 5000"])
            .arg(server.path("data/strongroom.db"))
            .arg(".dump")
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        for file in ["data/strongroom.db", "data/strongroom.db-wal"] {
            if let Ok(bytes) = std::fs::read(server.path(file)) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        text
    })
    .await;
}

#[tokio::test]
async fn email_change_export_and_closing_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("lifecycle");
    let server = lifecycle_server(Database::Postgres(url));
    email_change_export_and_closing(server, move |_| cluster.dump("lifecycle")).await;
}

#[tokio::test]
async fn an_mfa_reset_needs_two_admins_and_removes_every_factor() {
    let server = lifecycle_server(Database::Sqlite);
    let api = Api::new(&server);
    let (_, alice) = staff(&api, "alice@example.com").await;
    let (_, carol) = staff(&api, "carol@example.com").await;
    grant_role(&server, "alice@example.com", "admin");
    grant_role(&server, "carol@example.com", "admin");
    assert_eq!(
        api.register("eve@example.com", PASSWORD).await.status(),
        201
    );
    let (eve, _) = api.login("eve@example.com").await;
    let eve_id = me(&api, &eve).await["user_id"].as_str().unwrap().to_owned();
    // Nothing to reset yet.
    let nothing = admin_post(
        &api,
        &format!("/v1/admin/users/{eve_id}/reset-mfa"),
        &alice,
        None,
    )
    .await;
    assert_eq!(nothing.status(), 422);
    let (secret, _) = enrol_totp(&api, &eve).await;
    let eve_mfa = step_up_at(&api, &eve, &secret, now() + 30).await;

    let filed = admin_post(
        &api,
        &format!("/v1/admin/users/{eve_id}/reset-mfa"),
        &alice,
        None,
    )
    .await;
    assert_eq!(filed.status(), 202);
    let approval = filed.json::<Value>().await.unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nothing happens until a second admin approves.
    assert_eq!(me(&api, &eve_mfa).await["mfa"]["totp"], true);
    let own = admin_post(
        &api,
        &format!("/v1/admin/approvals/{approval}/approve"),
        &alice,
        None,
    )
    .await;
    assert_eq!(code(own).await, (403, "same_approver".into()));
    let approved = admin_post(
        &api,
        &format!("/v1/admin/approvals/{approval}/approve"),
        &carol,
        None,
    )
    .await;
    assert_eq!(approved.status(), 200);
    // Every session died; the next sign-in needs no factor; Eve was told.
    assert_eq!(api.get("/v1/me", &eve_mfa).await.status(), 401);
    let (eve, _) = api.login("eve@example.com").await;
    let shown = me(&api, &eve).await;
    assert_eq!(shown["mfa"], json!({"totp": false, "webauthn": false}));
    assert!(
        outbox_items(&server)
            .await
            .iter()
            .any(|item| item["kind"] == "mfa_changed"
                && item["user_id"] == eve_id.as_str()
                && item["data"]["change"] == "mfa_reset")
    );
    let audit = cli(&server, &["audit", "verify"]);
    assert!(audit.status.success(), "{audit:?}");
}

#[tokio::test]
async fn with_verified_email_required_money_leaves_only_verified_accounts() {
    let server = lifecycle_server_with(
        Database::Sqlite,
        &[("STRONGROOM__AUTH__REQUIRE_VERIFIED_EMAIL", "true")],
    );
    let api = Api::new(&server);
    assert_eq!(
        api.register("una@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        api.register("vic@example.com", PASSWORD).await.status(),
        201
    );
    let (una, _) = api.login("una@example.com").await;
    let (vic, _) = api.login("vic@example.com").await;
    let account = open_account(&api, &una, "EUR").await;
    let vics = open_account(&api, &vic, "EUR").await;
    // Money comes in; it does not go out until Una proves her address.
    assert_eq!(deposit(&server, &account, 900, "una-1").await.status(), 201);
    let body = json!({"from_account_id": account, "to_account_id": vics, "amount": 100, "currency": "EUR"});
    let refused = transfer(&api, &una, Some("una-t1"), body.clone()).await;
    assert_eq!(code(refused).await, (403, "email_unverified".into()));
    let withdrawal = server
        .service_client("payments")
        .post(format!("{}/internal/v1/withdrawals", server.internal_url))
        .header("idempotency-key", "una-w1")
        .json(&json!({"account_id": account, "amount": 100, "currency": "EUR", "external_ref": "bank-una-w1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(withdrawal).await, (403, "email_unverified".into()));
    // A lost mail: she asks for another with her own address (no step-up needed).
    let again = post(
        &api,
        "/v1/me/email",
        Some(&una),
        json!({"new_email": "una@example.com"}),
    )
    .await;
    assert_eq!(again.status(), 202);
    let verify = token(&server, "verify_email", "una@example.com", 2).await;
    let verified = post(
        &api,
        "/v1/auth/email/verify",
        None,
        json!({"token": verify}),
    )
    .await;
    assert_eq!(verified.status(), 204);
    let sent = transfer(&api, &una, Some("una-t1"), body).await;
    assert_eq!(sent.status(), 201);
}

#[tokio::test]
async fn a_sign_in_that_upgrades_an_old_password_hash_still_signs_in() {
    // The session guard compares the hash the sign-in verified: after a rehash with current
    // parameters it must compare the new one.
    use argon2::password_hash::PasswordHasher as _;
    let server = lifecycle_server(Database::Sqlite);
    let api = Api::new(&server);
    assert_eq!(
        api.register("old@example.com", PASSWORD).await.status(),
        201
    );
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8 * 1024, 1, 1, None).unwrap(),
    );
    let old = weak.hash_password(PASSWORD.as_bytes()).unwrap().to_string();
    let db = server.path("data/strongroom.db");
    let sql = |statement: &str| {
        let out = Command::new("sqlite3")
            .args(["-cmd", ".timeout 5000"])
            .arg(&db)
            .arg(statement)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    sql(&format!(
        "UPDATE users SET password_hash = '{old}' WHERE email = 'old@example.com'"
    ));
    for attempt in 0..2 {
        let (status, body) = login_status(&api, "old@example.com", PASSWORD).await;
        assert_eq!(status, 200, "attempt {attempt}: {body}");
        assert!(
            body["access_token"].is_string(),
            "attempt {attempt}: {body}"
        );
    }
    let stored = sql("SELECT password_hash FROM users WHERE email = 'old@example.com'");
    assert!(stored.contains("m=19456"), "not rehashed: {stored}");
}
