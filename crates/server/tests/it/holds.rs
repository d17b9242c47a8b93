//! Holds (two-phase postings, issue #19) through real HTTPS on SQLite and on two PostgreSQL
//! instances: a hold lowers `available` and not the balance; a capture posts one transfer of
//! at most the hold and releases the rest, once; voids and expiry release; holds and
//! transfers racing on one account never overdraw `available`; a hold expiring while it is
//! captured settles exactly once; a crash (kill -9) between hold and capture loses nothing,
//! also when the other PostgreSQL instance captures; and
//! `ledger verify` checks every hold against its capture.

use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::identity::{Api, PASSWORD};
use crate::ledger::{open_account, transfer, verify};
use crate::products::{all_events, answer, movement};

/// The scopes the `payments` service needs here.
const SCOPES: (&str, &str) = (
    "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
    r#"["ledger:deposit", "ledger:read", "ledger:hold", "ledger:events"]"#,
);

async fn service_post(server: &TestServer, path: &str, body: Option<Value>) -> Response {
    let request = server
        .service_client("payments")
        .post(format!("{}/internal/v1/{path}", server.internal_url));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

async fn hold(server: &TestServer, account: &str, amount: i64, secs: i64, key: &str) -> Response {
    let body = json!({"account_id": account, "amount": amount, "currency": "EUR",
        "expires_in_secs": secs, "idempotency_key": key});
    service_post(server, "holds", Some(body)).await
}

async fn capture(server: &TestServer, id: &str, amount: i64, to: &str) -> Response {
    let body = json!({"amount": amount, "to_account_id": to});
    service_post(server, &format!("holds/{id}/capture"), Some(body)).await
}

async fn void(server: &TestServer, id: &str) -> Response {
    service_post(server, &format!("holds/{id}/void"), None).await
}

async fn show_hold(server: &TestServer, id: &str) -> Value {
    let response = server
        .service_client("payments")
        .get(format!("{}/internal/v1/holds/{id}", server.internal_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `(balance, available)` of a customer account, as services read it.
async fn funds(server: &TestServer, account: &str) -> (i64, i64) {
    let body: Value = server
        .service_client("payments")
        .get(format!(
            "{}/internal/v1/accounts/{account}",
            server.internal_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        body["balance"].as_i64().unwrap(),
        body["available"].as_i64().unwrap(),
    )
}

/// A new customer with a funded EUR account: its id.
async fn funded(server: &TestServer, email: &str, amount: i64) -> String {
    let api = Api::new(server);
    assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    let (token, _) = api.login(email).await;
    let account = open_account(&api, &token, "EUR").await;
    if amount > 0 {
        let (status, _, body) = answer(
            movement(
                server,
                "deposits",
                &account,
                amount,
                &format!("fund-{email}"),
                email,
            )
            .await,
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    account
}

async fn holds_behave(first: &TestServer, second: &TestServer) {
    let ada = funded(first, "ada@example.com", 1_000).await;
    let bo = funded(second, "bo@example.com", 0).await;

    // A hold lowers what is available, not the balance; its key answers the same hold again.
    let (status, _, held) = answer(hold(first, &ada, 300, 600, "h-1").await).await;
    assert_eq!(status, 201, "{held}");
    assert_eq!(
        (held["status"].as_str(), held["amount"].as_i64()),
        (Some("held"), Some(300))
    );
    let hold_id = held["id"].as_str().unwrap().to_owned();
    assert_eq!(funds(second, &ada).await, (1_000, 700));
    let (status, replayed, again) = answer(hold(second, &ada, 300, 600, "h-1").await).await;
    assert_eq!((status, replayed, &again), (201, true, &held));
    let (status, _, reused) = answer(hold(first, &ada, 301, 600, "h-1").await).await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    // Nothing more than `available` can be held or sent, and the refusal is the key's answer.
    let (status, _, refusal) = answer(hold(first, &ada, 701, 600, "h-2").await).await;
    assert_eq!(
        (status, refusal["code"].as_str()),
        (422, Some("insufficient_funds"))
    );
    let (status, replayed, _) = answer(hold(second, &ada, 701, 600, "h-2").await).await;
    assert_eq!((status, replayed), (422, true));
    let api = Api::new(first);
    let (ada_token, _) = api.login("ada@example.com").await;
    let send = |amount: i64, key: &'static str| {
        let body = json!({"from_account_id": ada, "to_account_id": bo, "amount": amount, "currency": "EUR"});
        let (api, token) = (&api, &ada_token);
        async move { answer(transfer(api, token, Some(key), body).await).await }
    };
    let (status, _, refusal) = send(701, "t-1").await;
    assert_eq!(
        (status, refusal["code"].as_str()),
        (422, Some("insufficient_funds"))
    );
    assert_eq!(send(200, "t-2").await.0, 201);
    let customer_view: Value = api
        .get(&format!("/v1/accounts/{ada}"), &ada_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            customer_view["balance"].as_i64(),
            customer_view["available"].as_i64()
        ),
        (Some(800), Some(500))
    );

    // A capture takes at most the hold, posts one transfer and releases the rest, once.
    let (status, _, problem) = answer(capture(second, &hold_id, 301, &bo).await).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("capture_exceeds_hold"))
    );
    let (status, _, captured) = answer(capture(second, &hold_id, 250, &bo).await).await;
    assert_eq!(status, 201, "{captured}");
    assert_eq!(
        (
            captured["from_account_id"].as_str(),
            captured["amount"].as_i64()
        ),
        (Some(ada.as_str()), Some(250))
    );
    assert_eq!(funds(first, &ada).await, (550, 550));
    assert_eq!(funds(first, &bo).await, (450, 450));
    let (status, replayed, again) = answer(capture(first, &hold_id, 250, &bo).await).await;
    assert_eq!(
        (status, replayed, again["id"].as_str()),
        (201, true, captured["id"].as_str())
    );
    for closed in [
        capture(first, &hold_id, 10, &bo).await,
        void(second, &hold_id).await,
    ] {
        let (status, _, problem) = answer(closed).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("hold_closed")),
            "{problem}"
        );
    }
    let shown = show_hold(first, &hold_id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["captured_amount"].as_i64()),
        (Some("captured"), Some(250))
    );
    assert_eq!(shown["transfer_id"], captured["id"]);

    // A void releases; voiding again answers the voided hold; it can no longer be captured.
    let (_, _, second_hold) = answer(hold(second, &ada, 100, 600, "h-3").await).await;
    let second_id = second_hold["id"].as_str().unwrap().to_owned();
    assert_eq!(funds(first, &ada).await, (550, 450));
    for _ in 0..2 {
        let (status, _, voided) = answer(void(first, &second_id).await).await;
        assert_eq!(
            (status, voided["status"].as_str()),
            (200, Some("voided")),
            "{voided}"
        );
    }
    let (status, _, problem) = answer(capture(second, &second_id, 100, &bo).await).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("hold_closed"))
    );
    assert_eq!(funds(first, &ada).await, (550, 550));

    // An expired hold is released by the ledger, and cannot be captured.
    let (_, _, short) = answer(hold(first, &ada, 100, 1, "h-4").await).await;
    let short_id = short["id"].as_str().unwrap().to_owned();
    assert_eq!(funds(first, &ada).await, (550, 450));
    let mut status = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = show_hold(second, &short_id).await["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status != "held" {
            break;
        }
    }
    assert_eq!(status, "expired");
    assert_eq!(funds(second, &ada).await, (550, 550));
    let (code, _, problem) = answer(capture(first, &short_id, 50, &bo).await).await;
    assert_eq!((code, problem["code"].as_str()), (409, Some("hold_closed")));

    // Bad input: unknown fields, an expiry out of range, an unknown hold.
    let odd = json!({"account_id": ada, "amount": 1, "currency": "EUR", "expires_in_secs": 60,
        "idempotency_key": "h-5", "note": "x"});
    assert_eq!(service_post(first, "holds", Some(odd)).await.status(), 400);
    let (status, _, problem) = answer(hold(first, &ada, 1, 0, "h-6").await).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("validation_failed"))
    );
    assert_eq!(problem["errors"][0]["field"], "expires_in_secs");
    assert_eq!(capture(first, "no-such-hold", 1, &bo).await.status(), 404);
    assert_eq!(void(first, "no-such-hold").await.status(), 404);

    // The event stream tells services about each step, in order.
    let kinds: Vec<(String, Option<String>)> = all_events(first)
        .await
        .iter()
        .filter(|event| event["hold_id"].is_string())
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event["hold_id"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let expected = [
        ("hold_created", &hold_id),
        ("hold_captured", &hold_id),
        ("hold_created", &second_id),
        ("hold_voided", &second_id),
        ("hold_created", &short_id),
        ("hold_voided", &short_id),
    ];
    let expected: Vec<(String, Option<String>)> = expected
        .iter()
        .map(|(kind, id)| ((*kind).to_owned(), Some((*id).clone())))
        .collect();
    assert_eq!(kinds, expected);

    holds_and_transfers_race(first, second).await;
    expiry_races_capture(first, second, &bo).await;
}

/// Twenty holds and twenty transfers of 100, from both instances at once, on an account of
/// 1,000: exactly ten succeed, and nothing overdraws what is available.
async fn holds_and_transfers_race(first: &TestServer, second: &TestServer) {
    let carl = funded(first, "carl@example.com", 1_000).await;
    let dee = funded(second, "dee@example.com", 0).await;
    let (api, other) = (Api::new(first), Api::new(second));
    let tokens = [
        api.login("carl@example.com").await.0,
        other.login("carl@example.com").await.0,
    ];
    let apis = [&api, &other];
    let servers = [first, second];
    let holds = (0..20).map(|i| {
        let (carl, server) = (carl.clone(), servers[i % 2]);
        async move { answer(hold(server, &carl, 100, 600, &format!("race-h-{i}")).await).await }
    });
    let transfers = (0..20).map(|i| {
        let body = json!({"from_account_id": carl, "to_account_id": dee, "amount": 100, "currency": "EUR"});
        let (api, token) = (apis[i % 2], &tokens[i % 2]);
        async move { answer(transfer(api, token, Some(&format!("race-t-{i}")), body).await).await }
    });
    let (holds, transfers) = tokio::join!(
        futures_util::future::join_all(holds),
        futures_util::future::join_all(transfers)
    );
    let mut passed = [0_i64; 2];
    for (kind, answers) in [holds, transfers].iter().enumerate() {
        for (status, _, body) in answers {
            match status {
                201 => passed[kind] += 1,
                422 => assert_eq!(body["code"], "insufficient_funds", "{body}"),
                _ => panic!("unexpected answer {status}: {body}"),
            }
        }
    }
    assert_eq!(passed[0] + passed[1], 10, "{passed:?}");
    let (balance, available) = funds(second, &carl).await;
    assert_eq!((balance, available), (1_000 - 100 * passed[1], 0));
}

/// A hold captured around its expiry instant settles exactly once: captured (and debited) or
/// expired (and released), never both, never neither.
async fn expiry_races_capture(first: &TestServer, second: &TestServer, to: &str) {
    let eve = funded(first, "eve@example.com", 1_000).await;
    let mut balance = 1_000;
    for (round, wait_ms) in [900_u64, 980, 1_000, 1_020, 1_100].into_iter().enumerate() {
        let (status, _, held) =
            answer(hold(first, &eve, 100, 1, &format!("edge-{round}")).await).await;
        assert_eq!(status, 201, "{held}");
        let id = held["id"].as_str().unwrap().to_owned();
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        let (status, _, body) = answer(capture(second, &id, 100, to).await).await;
        // Let the sweep run, then look.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let shown = show_hold(first, &id).await;
        match status {
            201 => {
                assert_eq!(shown["status"], "captured", "{shown}");
                balance -= 100;
            }
            409 => {
                assert_eq!(body["code"], "hold_closed", "{body}");
                assert_eq!(shown["status"], "expired", "{shown}");
            }
            _ => panic!("unexpected answer {status}: {body}"),
        }
        assert_eq!(
            funds(second, &eve).await,
            (balance, balance),
            "round {round}"
        );
    }
}

/// A second service with `ledger:hold`, to show that holds are their placer's.
const CARDS: [(&str, &str); 2] = [
    ("STRONGROOM__SERVICES__CARDS__SUBJECT", "cards"),
    ("STRONGROOM__SERVICES__CARDS__SCOPES", r#"["ledger:hold"]"#),
];

/// Another service's holds look like no hold at all; a capture is money leaving a customer's
/// account, held to the withdrawal's four-eyes rule (`ledger.four_eyes_amount` is 500 here).
async fn holds_are_their_services(server: &TestServer) {
    let issued = crate::strongroom(&[
        "pki",
        "issue-client",
        "--config",
        server.config_path().to_str().unwrap(),
        "--ca-dir",
        server.ca_dir().to_str().unwrap(),
        "--name",
        "cards",
    ]);
    assert!(issued.status.success(), "{issued:?}");
    let hal = funded(server, "hal@example.com", 1_000).await;
    let (_, _, held) = answer(hold(server, &hal, 600, 600, "own-1").await).await;
    let id = held["id"].as_str().unwrap();
    let cards = server.service_client("cards");
    let base = format!("{}/internal/v1/holds/{id}", server.internal_url);
    let capture_body = json!({"amount": 1, "to_account_id": "settlement-EUR"});
    for request in [
        cards.get(&base),
        cards.post(format!("{base}/void")),
        cards.post(format!("{base}/capture")).json(&capture_body),
    ] {
        let (status, _, problem) = answer(request.send().await.unwrap()).await;
        assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    }
    assert_eq!(show_hold(server, id).await["status"], "held");
    let ivy = funded(server, "ivy@example.com", 0).await;
    for to in ["settlement-EUR", ivy.as_str()] {
        let (status, _, problem) = answer(capture(server, id, 501, to).await).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some("approval_required")),
            "a capture of more than the four-eyes amount, to {to}"
        );
    }
    let (status, _, captured) = answer(capture(server, id, 500, "settlement-EUR").await).await;
    assert_eq!(status, 201, "{captured}");
    assert_eq!(funds(server, &hal).await, (500, 500));
}

#[tokio::test]
async fn holds_reserve_capture_and_release_on_sqlite() {
    let server = crate::sqlite_server(&[
        SCOPES,
        CARDS[0],
        CARDS[1],
        ("STRONGROOM__LEDGER__FOUR_EYES_AMOUNT", "500"),
    ]);
    holds_behave(&server, &server).await;
    holds_are_their_services(&server).await;
    let verified = verify(&server, &[]);
    assert!(verified.status.success(), "{verified:?}");

    // A crash between hold and capture loses neither; a hold that fell due while the server
    // was down is released when it starts.
    let frank = funded(&server, "frank@example.com", 500).await;
    let gus = funded(&server, "gus@example.com", 0).await;
    let (_, _, long) = answer(hold(&server, &frank, 200, 600, "crash-1").await).await;
    let (_, _, short) = answer(hold(&server, &frank, 100, 1, "crash-2").await).await;
    assert_eq!(funds(&server, &frank).await, (500, 200));
    let dir = tokio::task::spawn_blocking(move || server.kill())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let server = TestServer::serve_in(crate::binary(), dir, Database::Sqlite, &[SCOPES]);
    let short_id = short["id"].as_str().unwrap();
    let mut status = String::new();
    for _ in 0..50 {
        status = show_hold(&server, short_id).await["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status != "held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "expired");
    let (code, _, captured) =
        answer(capture(&server, long["id"].as_str().unwrap(), 200, &gus).await).await;
    assert_eq!(code, 201, "{captured}");
    assert_eq!(funds(&server, &frank).await, (300, 300));
    assert_eq!(funds(&server, &gus).await, (200, 200));
    let verified = verify(&server, &[]);
    assert!(verified.status.success(), "{verified:?}");

    // Someone with the database voids an active hold behind the ledger's back, and lowers
    // `held` to match: the hold no longer agrees with its hash-chained audit records.
    let (_, _, tampered) = answer(hold(&server, &frank, 50, 600, "tamper").await).await;
    let tampered = tampered["id"].as_str().unwrap().to_owned();
    let sql = format!(
        "UPDATE holds SET status = 'voided', closed_at = 1 WHERE id = '{tampered}'; \
         UPDATE accounts SET held = held - 50 WHERE id = '{frank}';"
    );
    let out = std::process::Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(server.path("data/strongroom.db"))
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let verified = verify(&server, &[]);
    assert_eq!(verified.status.code(), Some(1), "{verified:?}");
    let said = String::from_utf8_lossy(&verified.stderr);
    assert!(said.contains(&format!("hold {tampered}")), "{said}");
}

#[tokio::test]
async fn holds_reserve_capture_and_release_across_two_postgresql_instances() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let first = TestServer::start(crate::binary(), Database::Postgres(url.clone()), &[SCOPES]);
    let second = first.replica(Database::Postgres(url.clone()), &[SCOPES]);
    holds_behave(&first, &second).await;
    // The instance that placed a hold crashes; the other captures it.
    let jo = funded(&first, "jo@example.com", 300).await;
    let kim = funded(&second, "kim@example.com", 0).await;
    let (_, _, held) = answer(hold(&first, &jo, 250, 600, "crash-pg").await).await;
    let id = held["id"].as_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || first.kill())
        .await
        .unwrap();
    let (status, _, captured) = answer(capture(&second, &id, 250, &kim).await).await;
    assert_eq!(status, 201, "{captured}");
    assert_eq!(funds(&second, &jo).await, (50, 50));
    assert_eq!(funds(&second, &kim).await, (250, 250));
    let verified = verify(&second, &env);
    assert!(verified.status.success(), "{verified:?}");
}
