//! Roles, the admin API and four-eyes approvals through real HTTPS and the real CLI: the
//! bootstrap of admins, step-up on every admin call, containment at once (lock, freeze,
//! revoking a role), power granted or restored only by a second admin, a large withdrawal held
//! until approved and posted exactly once, an auditor who reads but cannot act, and an audit
//! chain that verifies afterwards.

use std::process::Output;

use serde_json::{Value, json};
use test_support::TestServer;

use crate::identity::{Api, PASSWORD, code};
use crate::ledger::{balance, deposit, open_account, transfer};
use crate::mfa::{enrol_totp, now, step_up_at};
use crate::sqlite_server;

pub fn cli(server: &TestServer, args: &[&str]) -> Output {
    std::process::Command::new(&server.binary)
        .args(args)
        .arg("--config")
        .arg(server.config_path())
        .output()
        .unwrap()
}

pub fn grant_role(server: &TestServer, email: &str, role: &str) {
    let out = cli(
        server,
        &["user", "grant-role", "--email", email, "--role", role],
    );
    assert!(out.status.success(), "{out:?}");
}

/// A user with a TOTP factor: (password-only token, `acr=mfa` token).
pub async fn staff(api: &Api, email: &str) -> (String, String) {
    assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    let (token, _) = api.login(email).await;
    let (secret, _) = enrol_totp(api, &token).await;
    // The enrolment used the current code; the next step's is still within the window.
    let fresh = step_up_at(api, &token, &secret, now() + 30).await;
    (token, fresh)
}

pub async fn admin_post(
    api: &Api,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = api
        .client
        .post(format!("{}{path}", api.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn user_id(api: &Api, admin: &str, email: &str) -> Value {
    let found = api
        .get(&format!("/v1/admin/users?email={email}"), admin)
        .await;
    assert_eq!(found.status(), 200);
    found.json().await.unwrap()
}

/// The `approval_id` of a 202 answer.
async fn approval_id(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["approval_id"].as_str().unwrap().to_owned()
}

/// The approval `id` as `GET /v1/admin/approvals?status=` lists it.
async fn listed_approval(api: &Api, admin: &str, status: &str, id: &str) -> Value {
    let listed: Value = api
        .get(&format!("/v1/admin/approvals?status={status}"), admin)
        .await
        .json()
        .await
        .unwrap();
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|approval| approval["id"] == id)
        .unwrap()
        .clone()
}

async fn withdraw(server: &TestServer, account: &str, amount: i64, key: &str) -> reqwest::Response {
    server
        .service_client("payments")
        .post(format!("{}/internal/v1/withdrawals", server.internal_url))
        .header("idempotency-key", key)
        .json(&json!({"account_id": account, "amount": amount, "currency": "EUR", "external_ref": format!("bank-{key}")}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn roles_step_up_containment_and_four_eyes_approvals() {
    let server = sqlite_server(&[
        ("STRONGROOM__LEDGER__FOUR_EYES_AMOUNT", "1000"),
        (
            "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
            r#"["ledger:deposit", "ledger:withdraw", "ledger:read", "ledger:events"]"#,
        ),
    ]);
    let api = Api::new(&server);
    let (alice_pwd, alice) = staff(&api, "alice@example.com").await;
    let (_, carol) = staff(&api, "carol@example.com").await;
    let (_, erin) = staff(&api, "erin@example.com").await;
    assert_eq!(
        api.register("bob@example.com", PASSWORD).await.status(),
        201
    );
    let (bob, _) = api.login("bob@example.com").await;

    // Without a role: 403, whatever the token.
    let denied = api
        .get("/v1/admin/users?email=bob@example.com", &alice)
        .await;
    assert_eq!(code(denied).await, (403, "forbidden".into()));
    // The operator bootstraps two admins and an auditor from the CLI.
    grant_role(&server, "alice@example.com", "admin");
    grant_role(&server, "carol@example.com", "admin");
    grant_role(&server, "erin@example.com", "auditor");
    let bad = cli(
        &server,
        &[
            "user",
            "grant-role",
            "--email",
            "alice@example.com",
            "--role",
            "root",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");

    // A password-only token is not enough for an admin call.
    let stale = api
        .get("/v1/admin/users?email=bob@example.com", &alice_pwd)
        .await;
    assert_eq!(
        stale.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=300"
    );
    assert_eq!(code(stale).await, (401, "step_up_required".into()));
    let bob_view = user_id(&api, &alice, "bob@example.com").await;
    let bob_id = bob_view["user_id"].as_str().unwrap().to_owned();
    assert_eq!(bob_view["status"], "active");
    assert_eq!(bob_view["roles"], json!(["customer"]));
    assert!(bob_view.get("legal_name").is_none() && bob_view.get("national_id").is_none());
    let unknown = api
        .get("/v1/admin/users?email=nobody@example.com", &alice)
        .await;
    assert_eq!(code(unknown).await, (404, "not_found".into()));

    // Lock: at once, every session of Bob dies and he cannot sign in.
    let locked = admin_post(
        &api,
        &format!("/v1/admin/users/{bob_id}/lock"),
        &alice,
        None,
    )
    .await;
    assert_eq!(locked.status(), 204);
    assert_eq!(
        code(api.get("/v1/me", &bob).await).await,
        (401, "invalid_token".into())
    );
    let login = api
        .login_from("bob@example.com", PASSWORD, "192.0.2.10")
        .await;
    assert_eq!(code(login).await, (401, "invalid_credentials".into()));
    let missing = admin_post(&api, "/v1/admin/users/no-such-user/lock", &alice, None).await;
    assert_eq!(code(missing).await, (404, "not_found".into()));

    // Unlock waits for a different admin; the requester cannot approve it.
    let pending = admin_post(
        &api,
        &format!("/v1/admin/users/{bob_id}/unlock"),
        &alice,
        None,
    )
    .await;
    assert_eq!(pending.status(), 202);
    let pending: Value = pending.json().await.unwrap();
    assert_eq!(pending["status"], "pending");
    let unlock_id = pending["approval_id"].as_str().unwrap().to_owned();
    let item = listed_approval(&api, &carol, "pending", &unlock_id).await;
    assert_eq!(item["action"], "unlock");
    assert_eq!(item["target"], format!("user:{bob_id}"));
    let same = admin_post(
        &api,
        &format!("/v1/admin/approvals/{unlock_id}/approve"),
        &alice,
        None,
    )
    .await;
    assert_eq!(code(same).await, (403, "same_approver".into()));
    let login = api
        .login_from("bob@example.com", PASSWORD, "192.0.2.10")
        .await;
    assert_eq!(login.status(), 401, "still locked until approved");
    let approved = admin_post(
        &api,
        &format!("/v1/admin/approvals/{unlock_id}/approve"),
        &carol,
        None,
    )
    .await;
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    let again = admin_post(
        &api,
        &format!("/v1/admin/approvals/{unlock_id}/approve"),
        &carol,
        None,
    )
    .await;
    assert_eq!(code(again).await, (409, "approval_closed".into()));
    let (bob, _) = api.login("bob@example.com").await;

    // Granting a role needs two admins too; revoking is at once.
    assert_eq!(
        api.register("dave@example.com", PASSWORD).await.status(),
        201
    );
    let dave_id = user_id(&api, &alice, "dave@example.com").await["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant = admin_post(
        &api,
        &format!("/v1/admin/users/{dave_id}/roles"),
        &alice,
        Some(json!({"role": "support", "action": "grant"})),
    )
    .await;
    assert_eq!(grant.status(), 202);
    let grant_id = approval_id(grant).await;
    assert_eq!(
        user_id(&api, &alice, "dave@example.com").await["roles"],
        json!(["customer"])
    );
    let rejected = admin_post(
        &api,
        &format!("/v1/admin/approvals/{grant_id}/reject"),
        &carol,
        None,
    )
    .await;
    assert_eq!(rejected.status(), 200);
    let late = admin_post(
        &api,
        &format!("/v1/admin/approvals/{grant_id}/approve"),
        &carol,
        None,
    )
    .await;
    assert_eq!(code(late).await, (409, "approval_closed".into()));
    let grant = admin_post(
        &api,
        &format!("/v1/admin/users/{dave_id}/roles"),
        &alice,
        Some(json!({"role": "support", "action": "grant"})),
    )
    .await;
    let grant_id = approval_id(grant).await;
    let approved = admin_post(
        &api,
        &format!("/v1/admin/approvals/{grant_id}/approve"),
        &carol,
        None,
    )
    .await;
    assert_eq!(approved.status(), 200);
    assert_eq!(
        user_id(&api, &alice, "dave@example.com").await["roles"],
        json!(["customer", "support"])
    );
    let revoke = admin_post(
        &api,
        &format!("/v1/admin/users/{dave_id}/roles"),
        &alice,
        Some(json!({"role": "support", "action": "revoke"})),
    )
    .await;
    assert_eq!(revoke.status(), 204);
    assert_eq!(
        user_id(&api, &alice, "dave@example.com").await["roles"],
        json!(["customer"])
    );
    let unknown_role = admin_post(
        &api,
        &format!("/v1/admin/users/{dave_id}/roles"),
        &alice,
        Some(json!({"role": "root", "action": "grant"})),
    )
    .await;
    assert_eq!(code(unknown_role).await, (422, "validation_failed".into()));
    let extra = admin_post(
        &api,
        &format!("/v1/admin/users/{dave_id}/roles"),
        &alice,
        Some(json!({"role": "admin", "action": "grant", "force": true})),
    )
    .await;
    assert_eq!(code(extra).await, (400, "unknown_field".into()));

    // Freeze at once; unfreeze after approval.
    let account = open_account(&api, &bob, "EUR").await;
    assert_eq!(
        deposit(&server, &account, 5_000, "adm-1").await.status(),
        201
    );
    let frozen = admin_post(
        &api,
        &format!("/v1/admin/accounts/{account}/freeze"),
        &alice,
        None,
    )
    .await;
    assert_eq!(frozen.status(), 204);
    assert_eq!(
        api.register("fay@example.com", PASSWORD).await.status(),
        201
    );
    let (fay, _) = api.login("fay@example.com").await;
    let fay_account = open_account(&api, &fay, "EUR").await;
    let body = json!({"from_account_id": account, "to_account_id": fay_account, "amount": 10, "currency": "EUR"});
    let refused = transfer(&api, &bob, Some("frozen-1"), body.clone()).await;
    assert_eq!(refused.status(), 422);
    let unfreeze = admin_post(
        &api,
        &format!("/v1/admin/accounts/{account}/unfreeze"),
        &alice,
        None,
    )
    .await;
    let unfreeze_id = approval_id(unfreeze).await;
    assert_eq!(
        admin_post(
            &api,
            &format!("/v1/admin/approvals/{unfreeze_id}/approve"),
            &carol,
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        transfer(&api, &bob, Some("frozen-2"), body).await.status(),
        201
    );
    // Services following the ledger's events saw the freeze and the approved unfreeze.
    let stream: serde_json::Value = server
        .service_client("payments")
        .get(format!(
            "{}/internal/v1/events?limit=1000",
            server.internal_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let changes: Vec<(&str, &str)> = stream["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] != "transfer_posted")
        .map(|event| {
            (
                event["type"].as_str().unwrap(),
                event["account_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("account_frozen", account.as_str()),
            ("account_unfrozen", account.as_str())
        ]
    );

    // A withdrawal above ledger.four_eyes_amount waits, and posts exactly once when approved.
    let held = withdraw(&server, &account, 2_000, "big-1").await;
    assert_eq!(held.status(), 202);
    let held: Value = held.json().await.unwrap();
    let withdrawal_id = held["approval_id"].as_str().unwrap().to_owned();
    let retry: Value = withdraw(&server, &account, 2_000, "big-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retry["approval_id"], withdrawal_id.as_str());
    assert_eq!(
        code(withdraw(&server, &account, 3_000, "big-1").await).await,
        (422, "idempotency_key_reused".into())
    );
    assert_eq!(balance(&api, &bob, &account).await, 4_990);
    let approve_path = format!("/v1/admin/approvals/{withdrawal_id}/approve");
    let first = admin_post(&api, &approve_path, &carol, None);
    let second = admin_post(&api, &approve_path, &alice, None);
    let (first, second) = tokio::join!(first, second);
    let statuses = [first.status().as_u16(), second.status().as_u16()];
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(balance(&api, &bob, &account).await, 2_990);
    let after: Value = withdraw(&server, &account, 2_000, "big-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["status"], "approved");
    assert_eq!(balance(&api, &bob, &account).await, 2_990);
    let small = withdraw(&server, &account, 1_000, "small-1").await;
    assert_eq!(small.status(), 201, "at the threshold it posts at once");

    // Approving a withdrawal the balance no longer covers: the ledger refuses, the approval
    // ends `failed`, nothing moves.
    let short: Value = withdraw(&server, &account, 5_000, "big-2")
        .await
        .json()
        .await
        .unwrap();
    let short_id = short["approval_id"].as_str().unwrap().to_owned();
    let item = listed_approval(&api, &carol, "pending", &short_id).await;
    assert_eq!(
        item["params"],
        json!({"account_id": account, "amount": 5_000, "currency": "EUR"})
    );
    let refused = admin_post(
        &api,
        &format!("/v1/admin/approvals/{short_id}/approve"),
        &carol,
        None,
    )
    .await;
    assert_eq!(code(refused).await, (422, "insufficient_funds".into()));
    let failed: Value = api
        .get("/v1/admin/approvals?status=failed", &carol)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["items"][0]["id"], short_id.as_str());
    assert_eq!(balance(&api, &bob, &account).await, 1_990);

    // Nobody approves power for themselves, support cannot lock staff, and a restore is filed
    // only for a target in the state it undoes.
    let grant: Value = admin_post(
        &api,
        &format!("/v1/admin/users/{dave_id}/roles"),
        &carol,
        Some(json!({"role": "admin", "action": "grant"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let grant_id = grant["approval_id"].as_str().unwrap().to_owned();
    grant_role(&server, "dave@example.com", "support");
    let (dave_pwd, _) = api.login("dave@example.com").await;
    let (dave_secret, _) = enrol_totp(&api, &dave_pwd).await;
    let dave = step_up_at(&api, &dave_pwd, &dave_secret, now() + 30).await;
    let staff_lock = admin_post(&api, &format!("/v1/admin/users/{bob_id}/lock"), &dave, None).await;
    assert_eq!(staff_lock.status(), 204, "support locks a customer");
    let alice_id = user_id(&api, &carol, "alice@example.com").await["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lock_admin = admin_post(
        &api,
        &format!("/v1/admin/users/{alice_id}/lock"),
        &dave,
        None,
    )
    .await;
    assert_eq!(code(lock_admin).await, (403, "forbidden".into()));
    grant_role(&server, "dave@example.com", "admin");
    let own = admin_post(
        &api,
        &format!("/v1/admin/approvals/{grant_id}/approve"),
        &dave,
        None,
    )
    .await;
    assert_eq!(code(own).await, (403, "same_approver".into()));
    let active = admin_post(
        &api,
        &format!("/v1/admin/accounts/{account}/unfreeze"),
        &alice,
        None,
    )
    .await;
    assert_eq!(code(active).await, (422, "validation_failed".into()));
    let unlocked_fay = user_id(&api, &alice, "fay@example.com").await["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let not_locked = admin_post(
        &api,
        &format!("/v1/admin/users/{unlocked_fay}/unlock"),
        &alice,
        None,
    )
    .await;
    assert_eq!(code(not_locked).await, (422, "validation_failed".into()));

    // The auditor reads the log (and that read is itself audited) but cannot act.
    let page = api.get("/v1/admin/audit?limit=200", &erin).await;
    assert_eq!(page.status(), 200);
    let page: Value = page.json().await.unwrap();
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for expected in [
        "cli.grant_role",
        "admin.lock",
        "approval.approve",
        "admin.unlock",
        "ledger.withdrawal",
        "security.login",
        "admin.role_revoke",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let text = page.to_string();
    assert!(
        !text.contains("bob@example.com"),
        "no personal data in the audit log"
    );
    let act = admin_post(&api, &format!("/v1/admin/users/{bob_id}/lock"), &erin, None).await;
    assert_eq!(code(act).await, (403, "forbidden".into()));
    let customer = api.get("/v1/admin/audit", &fay).await;
    assert_eq!(code(customer).await, (403, "forbidden".into()));
    let next: Value = api
        .get("/v1/admin/audit?limit=200", &erin)
        .await
        .json()
        .await
        .unwrap();
    let reads = next["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "admin.audit_read")
        .count();
    assert!(reads >= 1);

    // The whole session verifies, ledger and audit log.
    let verified = cli(&server, &["audit", "verify"]);
    assert!(verified.status.success(), "{verified:?}");
    let ledger = cli(&server, &["ledger", "verify"]);
    assert!(ledger.status.success(), "{ledger:?}");
}
