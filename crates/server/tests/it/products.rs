//! The ledger for products (issue #19), through real HTTPS on SQLite and PostgreSQL: the
//! currencies and their minor units; an external reference posts once per service and kind,
//! even when two instances race with it under different idempotency keys; and the first answer
//! to a key, a refusal included, is the answer to every retry.

use reqwest::Response;
use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::identity::{Api, PASSWORD};
use crate::ledger::{balance, open_account, transfer, verify};

/// A deposit or withdrawal (`movement`) from the `payments` service with `external_ref`.
pub(crate) async fn movement(
    server: &TestServer,
    movement: &str,
    account: &str,
    amount: i64,
    key: &str,
    external_ref: &str,
) -> Response {
    server
        .service_client("payments")
        .post(format!("{}/internal/v1/{movement}", server.internal_url))
        .header("idempotency-key", key)
        .json(&json!({"account_id": account, "amount": amount, "currency": "EUR", "external_ref": external_ref}))
        .send()
        .await
        .unwrap()
}

/// The status, whether it was a replay, and the body.
pub(crate) async fn answer(response: Response) -> (u16, bool, Value) {
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|value| value == "true");
    (status, replayed, response.json().await.unwrap())
}

async fn references_and_refusals_answer_once(first: &TestServer, second: &TestServer) {
    let (api, other) = (Api::new(first), Api::new(second));
    assert_eq!(
        api.register("ada@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(api.register("bo@example.com", PASSWORD).await.status(), 201);
    let (ada_token, _) = api.login("ada@example.com").await;
    let (bo_token, _) = other.login("bo@example.com").await;
    let ada = open_account(&api, &ada_token, "EUR").await;
    let bo = open_account(&other, &bo_token, "EUR").await;

    // The retrying bank integration: the same credit under a fresh key is refused, naming
    // the original, and credited once.
    let (status, _, original) =
        answer(movement(first, "deposits", &ada, 500, "d-1", "bank-1").await).await;
    assert_eq!(status, 201, "{original}");
    let original_id = original["id"].as_str().unwrap();
    let (status, replayed, problem) =
        answer(movement(second, "deposits", &ada, 500, "d-2", "bank-1").await).await;
    assert_eq!((status, replayed), (409, false), "{problem}");
    assert_eq!(problem["code"], "duplicate_external_ref");
    assert_eq!(problem["original_id"], original_id);
    // That refusal is the key's answer from now on.
    let (status, replayed, again) =
        answer(movement(first, "deposits", &ada, 500, "d-2", "bank-1").await).await;
    assert_eq!((status, replayed), (409, true), "{again}");
    assert_eq!(again["original_id"], original_id);
    assert_eq!(balance(&api, &ada_token, &ada).await, 500);
    // References are per kind: a withdrawal may carry the bank's same reference.
    let (status, _, body) =
        answer(movement(second, "withdrawals", &ada, 100, "w-1", "bank-1").await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(balance(&api, &ada_token, &ada).await, 400);

    // A refused transfer replayed after the account was funded still answers its refusal.
    let big =
        json!({"from_account_id": ada, "to_account_id": bo, "amount": 1_000, "currency": "EUR"});
    let (status, replayed, refusal) =
        answer(transfer(&api, &ada_token, Some("t-1"), big.clone()).await).await;
    assert_eq!((status, replayed), (422, false), "{refusal}");
    assert_eq!(refusal["code"], "insufficient_funds");
    let (status, _, _) =
        answer(movement(first, "deposits", &ada, 5_000, "d-3", "bank-3").await).await;
    assert_eq!(status, 201);
    let (status, replayed, refusal) = answer(
        transfer(
            &other,
            &ada_token_on(&other).await,
            Some("t-1"),
            big.clone(),
        )
        .await,
    )
    .await;
    assert_eq!((status, replayed), (422, true), "{refusal}");
    assert_eq!(refusal["code"], "insufficient_funds");
    assert_eq!(balance(&api, &ada_token, &ada).await, 5_400);
    // Another request under that key is still a reused key; a new key posts.
    let mut smaller = big.clone();
    smaller["amount"] = json!(999);
    let (status, _, reused) = answer(transfer(&api, &ada_token, Some("t-1"), smaller).await).await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let mut rent = big.clone();
    rent["memo"] = json!("rent");
    let (status, _, _) = answer(transfer(&api, &ada_token, Some("t-2"), rent).await).await;
    assert_eq!(status, 201);
    assert_eq!(balance(&api, &ada_token, &ada).await, 4_400);
    history_reads_like_a_statement(&api, &ada_token, &ada, &bo, &bo_token, &other).await;

    // Twenty deliveries of one credit, each under its own key, split across the instances:
    // one posts, every other names it.
    let bo_account = bo.as_str();
    let attempts = (0..20).map(|i| {
        let server = if i % 2 == 0 { first } else { second };
        async move {
            answer(
                movement(
                    server,
                    "deposits",
                    bo_account,
                    70,
                    &format!("race-{i}"),
                    "bank-race",
                )
                .await,
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let posted: Vec<&Value> = answers
        .iter()
        .filter(|(s, _, _)| *s == 201)
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(posted.len(), 1, "{answers:?}");
    let winner = &posted[0]["id"];
    for (status, _, body) in &answers {
        assert!(
            *status == 201 || (*status == 409 && body["original_id"] == *winner),
            "{answers:?}"
        );
    }
    assert_eq!(balance(&other, &bo_token, &bo).await, 1_070);
    transfer_lists_are_the_callers(&api, &ada_token, &ada, &other, &bo_token, &bo).await;
    events_follow_commit_order(first, second, &ada_token, &ada, &bo).await;
}

/// The scopes the `payments` service needs here.
const SCOPES: (&str, &str) = (
    "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
    r#"["ledger:deposit", "ledger:withdraw", "ledger:read", "ledger:freeze", "ledger:events"]"#,
);

/// `GET /internal/v1/events?{query}` as the `payments` service: the status and body.
async fn events(server: &TestServer, query: &str) -> (u16, Value) {
    let response = server
        .service_client("payments")
        .get(format!(
            "{}/internal/v1/events?{query}",
            server.internal_url
        ))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Every event from the start, read in pages of 7.
pub(crate) async fn all_events(server: &TestServer) -> Vec<Value> {
    let (mut after, mut all) = (0, Vec::new());
    loop {
        let (status, page) = events(server, &format!("after={after}&limit=7")).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            assert_eq!(page["next_after"], after);
            return all;
        }
        after = page["next_after"].as_i64().unwrap();
        all.extend(items);
    }
}

/// Thirty transfers racing on both instances, a freeze and an unfreeze: the stream holds
/// every posting once, in the order the ledger chained them, and nothing refused.
async fn events_follow_commit_order(
    first: &TestServer,
    second: &TestServer,
    ada_token: &str,
    ada: &str,
    bo: &str,
) {
    let (api, other) = (Api::new(first), Api::new(second));
    let other_token = ada_token_on(&other).await;
    let body = json!({"from_account_id": ada, "to_account_id": bo, "amount": 1, "currency": "EUR"});
    let racing = (0..30).map(|i| {
        let (api, token) = if i % 2 == 0 {
            (&api, ada_token)
        } else {
            (&other, other_token.as_str())
        };
        let body = body.clone();
        async move {
            transfer(api, token, Some(&format!("ev-{i}")), body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(racing).await;
    assert!(statuses.iter().all(|status| *status == 201), "{statuses:?}");
    for action in ["freeze", "unfreeze"] {
        let changed = first
            .service_client("payments")
            .post(format!(
                "{}/internal/v1/accounts/{ada}/{action}",
                first.internal_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
    }
    let stream = all_events(second).await;
    let ids: Vec<i64> = stream
        .iter()
        .map(|event| event["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    // Ada's postings in the stream, in the order of her entries (the chain's order).
    let (_, list) = transfers(&api, ada_token, "order=asc&limit=200").await;
    let chained: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let streamed: Vec<&str> = stream
        .iter()
        .filter(|event| event["type"] == "transfer_posted")
        .map(|event| &event["transfer"])
        .filter(|t| t["from_account_id"] == ada || t["to_account_id"] == ada)
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, chained);
    assert_eq!(chained.len(), 34, "4 before the race and 30 in it");
    // Bo's deposit is there too; nothing refused is; the freeze and unfreeze come last.
    let posted = stream
        .iter()
        .filter(|event| event["type"] == "transfer_posted")
        .count();
    assert_eq!(posted, 35);
    let tail: Vec<(&str, &str)> = stream[stream.len() - 2..]
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap(),
                event["account_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tail,
        vec![("account_frozen", ada), ("account_unfrozen", ada)]
    );
    let deposit = stream
        .iter()
        .find(|event| event["transfer"]["external_ref"] == "bank-3")
        .unwrap();
    assert_eq!(
        (
            deposit["transfer"]["kind"].as_str(),
            deposit["transfer"]["amount"].as_i64()
        ),
        (Some("deposit"), Some(5_000))
    );
    // Bad positions and sizes are refused, naming themselves.
    for (query, status) in [
        ("limit=0", 422),
        ("limit=1001", 422),
        ("after=-1", 422),
        ("from=3", 400),
    ] {
        assert_eq!(events(first, query).await.0, status, "{query}");
    }
}

/// `GET /v1/transfers?{query}` as the token's user: the status and body.
async fn transfers(api: &Api, token: &str, query: &str) -> (u16, Value) {
    let response = api.get(&format!("/v1/transfers?{query}"), token).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Each user's transfers, newest first, filtered and paged; never another user's.
async fn transfer_lists_are_the_callers(
    api: &Api,
    ada_token: &str,
    ada: &str,
    other: &Api,
    bo_token: &str,
    bo: &str,
) {
    let kinds = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                (
                    item["kind"].as_str().unwrap().to_owned(),
                    item["amount"].as_i64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let (status, all) = transfers(api, ada_token, "").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        kinds(&all),
        vec![
            ("transfer".into(), 1_000),
            ("deposit".into(), 5_000),
            ("withdrawal".into(), 100),
            ("deposit".into(), 500),
        ]
    );
    assert_eq!(all["items"][0]["memo"], "rent");
    assert_eq!(all["items"][1]["external_ref"], "bank-3");
    // Bo sees the transfer he received and his deposit, not Ada's movements.
    let (_, bos) = transfers(other, bo_token, "").await;
    assert_eq!(
        kinds(&bos),
        vec![("deposit".into(), 70), ("transfer".into(), 1_000)]
    );
    assert_eq!(bos["items"][1]["id"], all["items"][0]["id"]);
    // Filters and pages.
    let (_, deposits) = transfers(api, ada_token, "kind=deposit&order=asc").await;
    assert_eq!(
        kinds(&deposits),
        vec![("deposit".into(), 500), ("deposit".into(), 5_000)]
    );
    let (_, first) = transfers(api, ada_token, &format!("account_id={ada}&limit=1")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = transfers(
        api,
        ada_token,
        &format!("account_id={ada}&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(kinds(&second), vec![("deposit".into(), 5_000)]);
    let (_, empty) = transfers(api, ada_token, "until=2000-01-01T00:00:00Z").await;
    assert_eq!(kinds(&empty), vec![]);
    // Another user's account is not found; bad filters name themselves; Ada's cursor is
    // nobody else's.
    assert_eq!(
        transfers(api, ada_token, &format!("account_id={bo}"))
            .await
            .0,
        404
    );
    for (query, named) in [
        ("kind=refund", "kind"),
        ("order=newest", "order"),
        ("since=2026", "since"),
        ("to=x", "to"),
    ] {
        let (status, problem) = transfers(api, ada_token, query).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{query}: {problem}"
        );
    }
    assert_eq!(
        transfers(other, bo_token, &format!("cursor={cursor}"))
            .await
            .0,
        400
    );
}

/// A page of `account`'s entries with `query`: the status and body.
async fn entries(api: &Api, token: &str, account: &str, query: &str) -> (u16, Value) {
    let response = api
        .get(&format!("/v1/accounts/{account}/entries?{query}"), token)
        .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Ada's history newest first, each entry with its movement; filters and cursors.
async fn history_reads_like_a_statement(
    api: &Api,
    token: &str,
    ada: &str,
    bo: &str,
    bo_token: &str,
    other: &Api,
) {
    let (status, first) = entries(api, token, ada, "order=desc&limit=2").await;
    assert_eq!(status, 200, "{first}");
    let items = first["items"].as_array().unwrap();
    let summary = |item: &Value| {
        (
            item["kind"].as_str().unwrap().to_owned(),
            item["direction"].as_str().unwrap().to_owned(),
            item["amount"].as_i64().unwrap(),
            item["counterparty_account_id"].as_str().unwrap().to_owned(),
            item["memo"].as_str().map(str::to_owned),
            item["external_ref"].as_str().map(str::to_owned),
        )
    };
    let settlement = "settlement-EUR".to_owned();
    assert_eq!(
        items.iter().map(summary).collect::<Vec<_>>(),
        vec![
            (
                "transfer".into(),
                "debit".into(),
                1_000,
                bo.to_owned(),
                Some("rent".into()),
                None
            ),
            (
                "deposit".into(),
                "credit".into(),
                5_000,
                settlement.clone(),
                None,
                Some("bank-3".into())
            ),
        ]
    );
    // The cursor is the last entry's id, not a position in the global journal.
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_eq!(cursor, items[1]["id"].as_str().unwrap());
    let (_, second) = entries(
        api,
        token,
        ada,
        &format!("order=desc&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(
        second["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(summary)
            .collect::<Vec<_>>(),
        vec![
            (
                "withdrawal".into(),
                "debit".into(),
                100,
                settlement.clone(),
                None,
                Some("bank-1".into())
            ),
            (
                "deposit".into(),
                "credit".into(),
                500,
                settlement,
                None,
                Some("bank-1".into())
            ),
        ]
    );
    assert!(second["next_cursor"].is_null(), "{second}");
    // Oldest first stays the default; a window with nothing in it is an empty page.
    let (_, oldest) = entries(api, token, ada, "limit=1").await;
    assert_eq!(oldest["items"][0]["amount"], 500);
    let (status, empty) = entries(
        api,
        token,
        ada,
        "since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z",
    )
    .await;
    assert_eq!(
        (status, empty["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (_, recent) = entries(api, token, ada, "since=2000-01-01T00:00:00Z").await;
    assert_eq!(recent["items"].as_array().map(Vec::len), Some(4));
    // Bad input names the parameter; another account's entry is no cursor here.
    for (query, named) in [
        ("from=2026-01-01", "from"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("order=up", "order"),
        (
            "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            "since",
        ),
    ] {
        let (status, problem) = entries(api, token, ada, query).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{query}: {problem}"
        );
    }
    statements_add_up(api, token, ada).await;
    let (_, bos) = entries(other, bo_token, bo, "limit=1").await;
    let foreign = bos["items"][0]["id"].as_str().unwrap();
    let (status, _) = entries(api, token, ada, &format!("cursor={foreign}")).await;
    assert_eq!(status, 400);
}

/// `GET /v1/accounts/{account}/statement?{query}`: the response.
async fn statement(api: &Api, token: &str, account: &str, query: &str) -> Response {
    api.get(&format!("/v1/accounts/{account}/statement?{query}"), token)
        .await
}

/// Ada's statements: whole, cut by period, as CSV; opening + entries = closing every time.
async fn statements_add_up(api: &Api, token: &str, ada: &str) {
    let (_, all) = entries(api, token, ada, "").await;
    let at = |i: usize| all["items"][i]["created_at"].as_str().unwrap().to_owned();
    let whole: Value = statement(api, token, ada, "").await.json().await.unwrap();
    assert_eq!(
        (
            &whole["opening_balance"],
            &whole["closing_balance"],
            whole["entries"].as_array().map(Vec::len)
        ),
        (&json!(0), &json!(4_400), Some(4)),
        "{whole}"
    );
    assert_eq!(whole["entries"][3]["memo"], "rent");
    // From the withdrawal until (not including) the transfer: 500 - 100 + 5,000.
    let (from, to) = (at(1), at(3));
    let period: Value = statement(api, token, ada, &format!("from={from}&to={to}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &period["opening_balance"],
            &period["closing_balance"],
            period["entries"].as_array().map(Vec::len)
        ),
        (&json!(500), &json!(5_400), Some(2)),
        "{period}"
    );
    assert_eq!(
        (period["from"].as_str(), period["currency"].as_str()),
        (Some(from.as_str()), Some("EUR"))
    );
    // The same as CSV: a header, the opening, the entries, the closing.
    let csv = statement(api, token, ada, &format!("from={from}&format=csv")).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = csv.text().await.unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 6, "{text}");
    assert!(
        rows[0].starts_with("created_at,entry_id,transfer_id,kind,direction,amount"),
        "{text}"
    );
    assert!(
        rows[1].contains(",opening_balance,") && rows[1].ends_with(",EUR,500,,,"),
        "{text}"
    );
    assert!(
        rows[4].contains(",transfer,debit,1000,EUR,4400,") && rows[4].ends_with(",rent"),
        "{text}"
    );
    assert!(
        rows[5].contains(",closing_balance,") && rows[5].contains(",4400,"),
        "{text}"
    );
    for (query, named) in [
        ("format=pdf", "format"),
        ("from=monday", "from"),
        ("to=2026-02-30T00:00:00Z", "to"),
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("period=1", "period"),
    ] {
        let refused = statement(api, token, ada, query).await;
        assert_eq!(refused.status(), 400, "{query}");
        let problem: Value = refused.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{query}: {problem}"
        );
    }
}

/// Ada's token minted by the other instance (sessions are per instance, users shared).
async fn ada_token_on(api: &Api) -> String {
    api.login("ada@example.com").await.0
}

#[tokio::test]
async fn external_references_and_refusals_answer_once_on_sqlite() {
    let server = crate::sqlite_server(&[
        (
            "STRONGROOM__LEDGER__CURRENCIES",
            "[\"EUR\", \"JPY\", \"BHD\"]",
        ),
        SCOPES,
    ]);
    // The configured currencies with their minor units, for anyone (no token).
    let currencies: Value = server
        .client()
        .get(format!("{}/v1/currencies", server.public_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        currencies,
        json!([
            {"code": "EUR", "minor_units": 2},
            {"code": "JPY", "minor_units": 0},
            {"code": "BHD", "minor_units": 3}
        ])
    );
    references_and_refusals_answer_once(&server, &server).await;
    let verified = verify(&server, &[]);
    assert!(verified.status.success(), "{verified:?}");
}

#[tokio::test]
async fn external_references_and_refusals_answer_once_across_two_postgresql_instances() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let first = TestServer::start(crate::binary(), Database::Postgres(url.clone()), &[SCOPES]);
    let second = first.replica(Database::Postgres(url.clone()), &[SCOPES]);
    references_and_refusals_answer_once(&first, &second).await;
    let verified = verify(&first, &env);
    assert!(verified.status.success(), "{verified:?}");
}
