//! A service's batch of postings over mTLS on both stores: one result per posting in order,
//! refusals alone; an atomic batch that fails halfway moves nothing; replays answer the same;
//! malformed, oversized and unauthorised batches post nothing.

use reqwest::Response;
use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::identity::{Api, PASSWORD, code};
use crate::ledger::{balance, open_account};

const BATCH_SCOPES: (&str, &str) = (
    "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
    r#"["ledger:deposit", "ledger:withdraw", "ledger:read", "ledger:batch"]"#,
);

pub(crate) async fn batch(server: &TestServer, body: &Value) -> Response {
    server
        .service_client("payments")
        .post(format!(
            "{}/internal/v1/transfers/batch",
            server.internal_url
        ))
        .json(body)
        .send()
        .await
        .unwrap()
}

pub(crate) fn transfer(key: &str, from: &str, to: &str, amount: i64) -> Value {
    json!({"kind": "transfer", "idempotency_key": key, "from_account_id": from,
           "to_account_id": to, "amount": amount, "currency": "EUR", "memo": "batch"})
}

fn movement(kind: &str, key: &str, account: &str, amount: i64) -> Value {
    json!({"kind": kind, "idempotency_key": key, "account_id": account, "amount": amount,
           "currency": "EUR", "external_ref": format!("ref-{key}")})
}

/// (status, [(result status, id or code)]).
pub(crate) async fn results(response: Response) -> (u16, Vec<(String, String)>) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let results = body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {body}"))
        .iter()
        .enumerate()
        .map(|(index, result)| {
            assert_eq!(result["index"], index);
            let status = result["status"].as_str().unwrap().to_owned();
            let detail = if status == "posted" {
                result["id"].as_str().unwrap().to_owned()
            } else {
                result["code"].as_str().unwrap().to_owned()
            };
            (status, detail)
        })
        .collect();
    (status, results)
}

async fn batches_end_to_end(server: &TestServer) {
    let api = Api::new(server);
    for email in ["bea@example.com", "bo@example.com"] {
        assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    }
    let (bea, _) = api.login("bea@example.com").await;
    let (bo, _) = api.login("bo@example.com").await;
    let a = open_account(&api, &bea, "EUR").await;
    let b = open_account(&api, &bo, "EUR").await;

    // Decided in order: the deposit funds the transfer after it; an overdraft, an unknown
    // account and a key repeated inside the batch are refused alone.
    let postings = json!({"postings": [
        movement("deposit", "b1", &a, 1_000),
        transfer("b2", &a, &b, 300),
        transfer("b3", &a, &b, 5_000),
        movement("withdrawal", "b4", &b, 100),
        transfer("b5", &a, "no-such-account", 1),
        transfer("b2", &a, &b, 300),
    ]});
    let (status, first) = results(batch(server, &postings).await).await;
    assert_eq!(status, 200);
    let statuses: Vec<(&str, &str)> = first
        .iter()
        .map(|(status, detail)| (status.as_str(), detail.as_str()))
        .collect();
    assert_eq!(statuses[0].0, "posted");
    assert_eq!(statuses[1].0, "posted");
    assert_eq!(statuses[2], ("refused", "insufficient_funds"));
    assert_eq!(statuses[3].0, "posted");
    assert_eq!(statuses[4], ("refused", "not_found"));
    assert_eq!(statuses[5], ("refused", "request_in_progress"));
    assert_eq!(balance(&api, &bea, &a).await, 700);
    assert_eq!(balance(&api, &bo, &b).await, 200);
    // A posted transfer is an ordinary transfer: its parties see it.
    let seen = api.get(&format!("/v1/transfers/{}", first[1].1), &bo).await;
    assert_eq!(seen.status(), 200);

    // The same batch again moves nothing more: posted ones answer their original ids.
    let (_, replayed) = results(batch(server, &postings).await).await;
    assert_eq!(replayed[0], first[0]);
    assert_eq!(replayed[1], first[1]);
    assert_eq!(replayed[3], first[3]);
    assert_eq!(replayed[2], first[2]);
    // The repeated key now finds the first posting done: its answer, not "in progress".
    assert_eq!(replayed[5], first[1]);
    assert_eq!(balance(&api, &bea, &a).await, 700);

    // Atomic, failing halfway: nothing moves, the answer names the posting and its reason.
    let failing = json!({"atomic": true, "postings": [
        transfer("c1", &a, &b, 100),
        transfer("c2", &a, &b, 10_000),
        movement("deposit", "c3", &b, 50),
    ]});
    let refused = batch(server, &failing).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "insufficient_funds");
    assert_eq!(problem["index"], 1);
    assert_eq!(balance(&api, &bea, &a).await, 700);
    assert_eq!(balance(&api, &bo, &b).await, 200);
    // Its keys were not kept: the payment and its fee, retried as one unit, post together.
    let fixed = json!({"atomic": true, "postings": [
        transfer("c1", &a, &b, 100),
        transfer("c2", &a, &b, 600),
        movement("deposit", "c3", &b, 50),
    ]});
    let (status, posted) = results(batch(server, &fixed).await).await;
    assert_eq!(status, 201);
    assert!(
        posted.iter().all(|(status, _)| status == "posted"),
        "{posted:?}"
    );
    assert_eq!(balance(&api, &bea, &a).await, 0);
    assert_eq!(balance(&api, &bo, &b).await, 950);

    // Malformed or invalid: 400 or 422 naming the posting, and nothing posted.
    let zero = batch(
        server,
        &json!({"postings": [
        movement("deposit", "d1", &a, 10), movement("deposit", "d2", &a, 0)]}),
    )
    .await;
    assert_eq!(zero.status(), 422);
    let problem: Value = zero.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "postings[1].amount");
    let mut string_amount = movement("deposit", "d3", &a, 10);
    string_amount["amount"] = json!("10");
    let malformed = batch(
        server,
        &json!({"postings": [movement("deposit", "d1", &a, 10), string_amount]}),
    )
    .await;
    assert_eq!(malformed.status(), 400);
    let problem: Value = malformed.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("postings[1].amount"),
        "{problem}"
    );
    let mut extra = movement("deposit", "d4", &a, 10);
    extra["to_account_id"] = json!(b);
    let (status, code_) = code(batch(server, &json!({"postings": [extra]})).await).await;
    assert_eq!((status, code_.as_str()), (422, "validation_failed"));
    let mut unknown = movement("deposit", "d5", &a, 10);
    unknown["fee_waived"] = json!(true);
    let (status, code_) = code(batch(server, &json!({"postings": [unknown]})).await).await;
    assert_eq!((status, code_.as_str()), (400, "unknown_field"));
    assert_eq!(balance(&api, &bea, &a).await, 0);

    // One posting over the bound (a body over the usual 1 MiB): 413, nothing posted.
    let many: Vec<Value> = (0..=8_000)
        .map(|i| movement("deposit", &format!("e{i}"), &a, 1))
        .collect();
    let (status, code_) = code(batch(server, &json!({"postings": many})).await).await;
    assert_eq!((status, code_.as_str()), (413, "batch_too_large"));
    assert_eq!(balance(&api, &bea, &a).await, 0);
    // A full batch posts, every posting in order.
    let full: Vec<Value> = (0..8_000)
        .map(|i| movement("deposit", &format!("f{i}"), &a, 1))
        .collect();
    let (status, posted) =
        results(batch(server, &json!({"atomic": true, "postings": full})).await).await;
    assert_eq!(status, 201);
    assert_eq!(posted.len(), 8_000);
    assert_eq!(balance(&api, &bea, &a).await, 8_000);
}

#[tokio::test]
async fn batches_on_sqlite() {
    let server = crate::sqlite_server(&[BATCH_SCOPES]);
    batches_end_to_end(&server).await;
    let verified = crate::ledger::verify(&server, &[]);
    assert!(verified.status.success(), "{verified:?}");

    // A service without the scope is told which one it lacks, oversized or not.
    let unscoped = crate::sqlite_server(&[]);
    let refused = batch(&unscoped, &json!({"postings": []})).await;
    assert_eq!(refused.status(), 403);
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("ledger:batch"),
        "{problem}"
    );
}

#[tokio::test]
async fn batches_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let server = TestServer::start(
        crate::binary(),
        Database::Postgres(url.clone()),
        &[BATCH_SCOPES],
    );
    batches_end_to_end(&server).await;
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let verified = crate::ledger::verify(&server, &env);
    assert!(verified.status.success(), "{verified:?}");
}
