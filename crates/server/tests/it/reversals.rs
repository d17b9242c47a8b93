//! Reversals (issue #19) through real HTTPS on SQLite and on two PostgreSQL instances: a
//! reversal takes a movement back, linked both ways; a transfer is reversed once, also when
//! ten requests race on two instances; a reversal that would overdraw is refused (and that
//! refusal is its key's answer); a frozen account's money is not taken back until it is
//! unfrozen; a reversal is not reversible; above `ledger.four_eyes_amount` it waits for a second admin; and
//! `ledger verify` accepts the result.

use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::admin::{admin_post, grant_role, staff};
use crate::identity::{Api, PASSWORD};
use crate::ledger::{balance, open_account, transfer, verify};
use crate::products::{answer, movement};

/// The scopes the `payments` service needs here.
const SCOPES: (&str, &str) = (
    "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
    r#"["ledger:deposit", "ledger:read", "ledger:freeze", "ledger:reverse"]"#,
);
const FOUR_EYES: (&str, &str) = ("STRONGROOM__LEDGER__FOUR_EYES_AMOUNT", "5000");

async fn reverse(server: &TestServer, id: &str, key: &str, reason: &str) -> (u16, bool, Value) {
    let response = server
        .service_client("payments")
        .post(format!(
            "{}/internal/v1/transfers/{id}/reverse",
            server.internal_url
        ))
        .header("idempotency-key", key)
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// Registers `email` with an EUR account: (token, account).
async fn customer(api: &Api, email: &str) -> (String, String) {
    assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    let (token, _) = api.login(email).await;
    let account = open_account(api, &token, "EUR").await;
    (token, account)
}

/// Freezes or unfreezes `account` as the `payments` service (scope `ledger:freeze`).
async fn set_frozen(server: &TestServer, account: &str, frozen: bool) {
    let action = if frozen { "freeze" } else { "unfreeze" };
    let response = server
        .service_client("payments")
        .post(format!(
            "{}/internal/v1/accounts/{account}/{action}",
            server.internal_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{action}");
}

async fn send(api: &Api, token: &str, from: &str, to: &str, amount: i64, key: &str) -> String {
    let body =
        json!({"from_account_id": from, "to_account_id": to, "amount": amount, "currency": "EUR"});
    let (status, _, receipt) = answer(transfer(api, token, Some(key), body).await).await;
    assert_eq!(status, 201, "{receipt}");
    receipt["id"].as_str().unwrap().to_owned()
}

async fn reversals_behave(first: &TestServer, second: &TestServer) {
    let (api, other) = (Api::new(first), Api::new(second));
    let (ada_token, ada) = customer(&api, "ada@example.com").await;
    let (bo_token, bo) = customer(&other, "bo@example.com").await;
    let (status, _, _) =
        answer(movement(first, "deposits", &ada, 1_000, "d-1", "bank-1").await).await;
    assert_eq!(status, 201);
    let paid = send(&api, &ada_token, &ada, &bo, 300, "t-1").await;

    // The reversal moves the same amount back, names the original, and the original names it.
    let (status, replayed, reversal) = reverse(first, &paid, "r-1", "disputed").await;
    assert_eq!((status, replayed), (201, false), "{reversal}");
    assert_eq!(
        (
            reversal["from_account_id"].as_str(),
            reversal["to_account_id"].as_str()
        ),
        (Some(bo.as_str()), Some(ada.as_str()))
    );
    assert_eq!(
        (reversal["amount"].as_i64(), reversal["reverses"].as_str()),
        (Some(300), Some(paid.as_str()))
    );
    assert_eq!(reversal["memo"], "disputed");
    let reversal_id = reversal["id"].as_str().unwrap().to_owned();
    assert_eq!(balance(&api, &ada_token, &ada).await, 1_000);
    assert_eq!(balance(&other, &bo_token, &bo).await, 0);
    let original: Value = api
        .get(&format!("/v1/transfers/{paid}"), &ada_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(original["reversed_by"], reversal_id.as_str());
    let shown: Value = other
        .get(&format!("/v1/transfers/{reversal_id}"), &bo_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["reverses"], paid.as_str());

    // Its key answers it again; any other request to reverse it is refused, naming it.
    let (status, replayed, again) = reverse(second, &paid, "r-1", "disputed").await;
    assert_eq!(
        (status, replayed, again["id"].as_str()),
        (201, true, Some(reversal_id.as_str()))
    );
    let (status, _, twice) = reverse(second, &paid, "r-2", "disputed again").await;
    assert_eq!(
        (status, twice["code"].as_str()),
        (409, Some("already_reversed")),
        "{twice}"
    );
    assert_eq!(twice["reversal_id"], reversal_id.as_str());
    let (status, _, problem) = reverse(first, &reversal_id, "r-3", "undo").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("not_reversible"))
    );
    let (status, _, problem) = reverse(first, "no-such-transfer", "r-4", "x").await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    let (status, _, problem) = reverse(first, &paid, "r-5", "").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("reason"))
    );

    // A reversal that would overdraw its source is refused, and that is its key's answer.
    let second_payment = send(&api, &ada_token, &ada, &bo, 500, "t-2").await;
    send(&other, &bo_token, &bo, &ada, 400, "t-3").await;
    let (status, _, refusal) = reverse(first, &second_payment, "r-6", "chargeback").await;
    assert_eq!(
        (status, refusal["code"].as_str()),
        (422, Some("insufficient_funds"))
    );
    // The account is frozen, then funded: the reversal still waits for the unfreeze.
    set_frozen(second, &bo, true).await;
    let (status, _, _) =
        answer(movement(second, "deposits", &bo, 1_000, "d-2", "bank-2").await).await;
    assert_eq!(status, 201);
    let (status, replayed, _) = reverse(second, &second_payment, "r-6", "chargeback").await;
    assert_eq!((status, replayed), (422, true), "the first answer stands");
    // A frozen account's money does not move on one service's say, reversal or not.
    let (status, _, frozen) = reverse(second, &second_payment, "r-7", "chargeback").await;
    assert_eq!(
        (status, frozen["code"].as_str()),
        (422, Some("account_frozen"))
    );
    set_frozen(first, &bo, false).await;
    let (status, _, taken_back) = reverse(second, &second_payment, "r-8", "chargeback").await;
    assert_eq!(status, 201, "{taken_back}");
    assert_eq!(balance(&other, &bo_token, &bo).await, 600);

    // Ten services' retries racing on both instances: one reversal.
    let third = send(&api, &ada_token, &ada, &bo, 50, "t-4").await;
    let attempts = (0..10).map(|i| {
        let server = if i % 2 == 0 { first } else { second };
        let third = third.clone();
        async move { reverse(server, &third, &format!("race-{i}"), "duplicate charge").await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let posted: Vec<&Value> = answers
        .iter()
        .filter(|(s, _, _)| *s == 201)
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(posted.len(), 1, "{answers:?}");
    for (status, _, body) in &answers {
        assert!(
            *status == 201 || (*status == 409 && body["reversal_id"] == posted[0]["id"]),
            "{answers:?}"
        );
    }
    assert_eq!(
        balance(&api, &ada_token, &ada).await,
        1_000 - 500 + 400 + 500
    );
}

/// Above `ledger.four_eyes_amount` a reversal waits for an admin, and posts once approved.
async fn large_reversals_wait_for_approval(server: &TestServer) {
    let api = Api::new(server);
    let (_, alice) = staff(&api, "alice@example.com").await;
    let (dee_token, dee_fresh) = staff(&api, "dee@example.com").await;
    grant_role(server, "alice@example.com", "admin");
    grant_role(server, "dee@example.com", "admin");
    let (cy_token, cy) = customer(&api, "cy@example.com").await;
    let dee = open_account(&api, &dee_token, "EUR").await;
    let (status, _, _) =
        answer(movement(server, "deposits", &cy, 9_000, "d-9", "bank-9").await).await;
    assert_eq!(status, 201);
    let big = send(&api, &cy_token, &cy, &dee, 6_000, "t-9").await;
    let (status, _, held) = reverse(server, &big, "big-1", "fraud").await;
    assert_eq!(status, 202, "{held}");
    let approval = held["approval_id"].as_str().unwrap().to_owned();
    let (status, _, again) = reverse(server, &big, "big-1", "fraud").await;
    assert_eq!(
        (status, again["approval_id"].as_str()),
        (202, Some(approval.as_str()))
    );
    assert_eq!(
        balance(&api, &dee_token, &dee).await,
        6_000,
        "nothing moves before approval"
    );
    // Dee, an admin, is paid by the transfer: she may not approve taking it back.
    let own = admin_post(
        &api,
        &format!("/v1/admin/approvals/{approval}/approve"),
        &dee_fresh,
        None,
    )
    .await;
    assert_eq!(
        crate::identity::code(own).await,
        (403, "same_approver".into())
    );
    let approved = admin_post(
        &api,
        &format!("/v1/admin/approvals/{approval}/approve"),
        &alice,
        None,
    )
    .await;
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(balance(&api, &dee_token, &dee).await, 0);
    assert_eq!(balance(&api, &cy_token, &cy).await, 9_000);
    let (status, _, retried) = reverse(server, &big, "big-1", "fraud").await;
    assert_eq!(
        (status, retried["status"].as_str()),
        (202, Some("approved")),
        "its retry finds the approval: {retried}"
    );
    // Nor may she approve the unfreeze of her own account.
    let frozen = admin_post(
        &api,
        &format!("/v1/admin/accounts/{dee}/freeze"),
        &alice,
        None,
    )
    .await;
    assert_eq!(frozen.status(), 204);
    let unfreeze = admin_post(
        &api,
        &format!("/v1/admin/accounts/{dee}/unfreeze"),
        &alice,
        None,
    )
    .await;
    let unfreeze: Value = unfreeze.json().await.unwrap();
    let unfreeze_id = unfreeze["approval_id"].as_str().unwrap();
    let own = admin_post(
        &api,
        &format!("/v1/admin/approvals/{unfreeze_id}/approve"),
        &dee_fresh,
        None,
    )
    .await;
    assert_eq!(
        crate::identity::code(own).await,
        (403, "same_approver".into())
    );
    let (status, _, twice) = reverse(server, &big, "big-2", "fraud").await;
    assert_eq!(
        (status, twice["reversal_id"].as_str()),
        (409, approved["transfer_id"].as_str())
    );
}

#[tokio::test]
async fn reversals_take_money_back_once_on_sqlite() {
    let server = crate::sqlite_server(&[SCOPES, FOUR_EYES]);
    reversals_behave(&server, &server).await;
    large_reversals_wait_for_approval(&server).await;
    let verified = verify(&server, &[]);
    assert!(verified.status.success(), "{verified:?}");
}

#[tokio::test]
async fn reversals_take_money_back_once_across_two_postgresql_instances() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let first = TestServer::start(
        crate::binary(),
        Database::Postgres(url.clone()),
        &[SCOPES, FOUR_EYES],
    );
    let second = first.replica(Database::Postgres(url.clone()), &[SCOPES, FOUR_EYES]);
    reversals_behave(&first, &second).await;
    let verified = verify(&first, &env);
    assert!(verified.status.success(), "{verified:?}");
}
