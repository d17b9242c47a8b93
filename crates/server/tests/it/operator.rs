//! Operator accounts (issue #19) through real HTTPS on SQLite and PostgreSQL: a service opens
//! named accounts for fees and revenue; a payment and its fee post as one atomic batch, or
//! neither does; rebates and reversals take money back out; an operator account never goes
//! negative; and `ledger verify` accepts the result (every currency still nets to zero).

use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::batch::{batch, results, transfer};
use crate::identity::{Api, PASSWORD};
use crate::ledger::{balance, open_account, verify};
use crate::products::{answer, movement};

const SCOPES: (&str, &str) = (
    "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
    r#"["ledger:deposit", "ledger:read", "ledger:batch", "ledger:admin", "ledger:reverse"]"#,
);

const FOUR_EYES: (&str, &str) = ("STRONGROOM__LEDGER__FOUR_EYES_AMOUNT", "1000");

async fn open_operator(server: &TestServer, name: &str, currency: &str) -> (u16, Value) {
    let response = server
        .service_client("payments")
        .post(format!(
            "{}/internal/v1/operator-accounts",
            server.internal_url
        ))
        .json(&json!({"name": name, "currency": currency}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn operator_balance(server: &TestServer, id: &str) -> i64 {
    let body: Value = server
        .service_client("payments")
        .get(format!("{}/internal/v1/accounts/{id}", server.internal_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["name"], "fees", "{body}");
    body["balance"].as_i64().unwrap()
}

fn between(kind: &str, key: &str, from: &str, to: &str, amount: i64) -> Value {
    json!({"kind": kind, "idempotency_key": key, "from_account_id": from,
           "to_account_id": to, "amount": amount, "currency": "EUR"})
}

async fn operator_accounts_hold_fees(server: &TestServer) {
    let (status, fees) = open_operator(server, "fees", "EUR").await;
    assert_eq!(status, 201, "{fees}");
    assert_eq!(
        (fees["name"].as_str(), fees["balance"].as_i64()),
        (Some("fees"), Some(0))
    );
    let fees = fees["id"].as_str().unwrap().to_owned();
    // Opening it again answers the open account: a client that lost the answer learns its id.
    let (status, again) = open_operator(server, "fees", "EUR").await;
    assert_eq!((status, again["id"].as_str()), (200, Some(fees.as_str())));
    let (status, bad) = open_operator(server, "Fees!", "EUR").await;
    assert_eq!(
        (status, bad["errors"][0]["field"].as_str()),
        (422, Some("name"))
    );
    let (status, bad) = open_operator(server, "fees", "XXX").await;
    assert_eq!(
        (status, bad["errors"][0]["field"].as_str()),
        (422, Some("currency"))
    );

    let api = Api::new(server);
    for email in ["ada@example.com", "bo@example.com"] {
        assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    }
    let (ada_token, _) = api.login("ada@example.com").await;
    let (bo_token, _) = api.login("bo@example.com").await;
    let ada = open_account(&api, &ada_token, "EUR").await;
    let bo = open_account(&api, &bo_token, "EUR").await;
    let (status, _, _) =
        answer(movement(server, "deposits", &ada, 1_000, "d-1", "bank-1").await).await;
    assert_eq!(status, 201);

    // A payment and its fee: one atomic unit.
    let paid = json!({"atomic": true, "postings": [
        transfer("p-1", &ada, &bo, 500), between("fee", "f-1", &ada, &fees, 5)]});
    let (status, posted) = results(batch(server, &paid).await).await;
    assert_eq!(status, 201, "{posted:?}");
    let fee_id = posted[1].1.clone();
    assert_eq!(balance(&api, &ada_token, &ada).await, 495);
    assert_eq!(operator_balance(server, &fees).await, 5);
    // The fee would overdraw: neither the payment nor the fee moves.
    let short = json!({"atomic": true, "postings": [
        transfer("p-2", &ada, &bo, 400), between("fee", "f-2", &ada, &fees, 200)]});
    let refused = batch(server, &short).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(
        (problem["code"].as_str(), problem["index"].as_i64()),
        (Some("insufficient_funds"), Some(1))
    );
    assert_eq!(balance(&api, &ada_token, &ada).await, 495);
    assert_eq!(balance(&api, &bo_token, &bo).await, 500);

    // A fee goes only to an operator account, a rebate only comes from one.
    let misdirected = json!({"postings": [
        between("fee", "f-3", &ada, &bo, 1), between("rebate", "r-1", &bo, &ada, 1)]});
    let (_, answers) = results(batch(server, &misdirected).await).await;
    assert_eq!(
        answers,
        vec![
            ("refused".into(), "not_found".into()),
            ("refused".into(), "not_found".into())
        ]
    );
    // A rebate and a reversal take money back out; an operator account never goes negative.
    let rebates = json!({"postings": [
        between("rebate", "r-2", &fees, &bo, 2), between("rebate", "r-3", &fees, &bo, 100)]});
    let (_, answers) = results(batch(server, &rebates).await).await;
    assert_eq!(
        (answers[0].0.as_str(), answers[1].1.as_str()),
        ("posted", "insufficient_funds")
    );
    // Out of the operator's money above the four-eyes amount: not on one service's say.
    let (_, answers) = results(
        batch(
            server,
            &json!({"postings": [
        between("rebate", "r-4", &fees, &bo, 1_001), between("fee", "f-5", &ada, &fees, 1_001)]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        answers,
        vec![("refused".into(), "approval_required".into()); 2]
    );
    let reversed = server
        .service_client("payments")
        .post(format!(
            "{}/internal/v1/transfers/{fee_id}/reverse",
            server.internal_url
        ))
        .header("idempotency-key", "rev-1")
        .json(&json!({"reason": "fee waived"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reversed.status(), 422, "3 left of the 5 it took");
    let (_, answers) = results(
        batch(
            server,
            &json!({"postings": [
        between("fee", "f-4", &ada, &fees, 10)]}),
        )
        .await,
    )
    .await;
    assert_eq!(answers[0].0, "posted");
    let (status, _, reversal) = answer(
        server
            .service_client("payments")
            .post(format!(
                "{}/internal/v1/transfers/{fee_id}/reverse",
                server.internal_url
            ))
            .header("idempotency-key", "rev-2")
            .json(&json!({"reason": "fee waived"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{reversal}");
    assert_eq!(operator_balance(server, &fees).await, 5 - 2 + 10 - 5);
    assert_eq!(balance(&api, &ada_token, &ada).await, 495 - 10 + 5);
    // Customers see the fee in their transfer list, by its kind.
    let listed: Value = api
        .get(
            &format!("/v1/transfers?kind=fee&account_id={ada}"),
            &ada_token,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{listed}");
    assert!(items.iter().all(|item| item["kind"] == "fee"), "{listed}");
}

#[tokio::test]
async fn operator_accounts_take_fees_atomically_on_sqlite() {
    let server = crate::sqlite_server(&[SCOPES, FOUR_EYES]);
    operator_accounts_hold_fees(&server).await;
    let verified = verify(&server, &[]);
    assert!(verified.status.success(), "{verified:?}");
}

#[tokio::test]
async fn operator_accounts_take_fees_atomically_on_postgresql() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let server = TestServer::start(
        crate::binary(),
        Database::Postgres(url.clone()),
        &[SCOPES, FOUR_EYES],
    );
    operator_accounts_hold_fees(&server).await;
    let verified = verify(&server, &env);
    assert!(verified.status.success(), "{verified:?}");
}
