//! The ledger through real HTTPS on SQLite and PostgreSQL: accounts, deposits over mTLS,
//! transfers with idempotency, no overdraft under 50 concurrent transfers, BOLA, bad input,
//! step-up above the threshold, `ledger verify` and tamper detection.

use std::process::Command;

use reqwest::Response;
use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer};

use crate::identity::{Api, PASSWORD, code};

pub async fn open_account(api: &Api, token: &str, currency: &str) -> String {
    let response = api
        .client
        .post(format!("{}/v1/accounts", api.base))
        .bearer_auth(token)
        .json(&json!({"currency": currency}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["balance"], 0);
    body["id"].as_str().unwrap().to_owned()
}

pub async fn deposit(server: &TestServer, account: &str, amount: i64, key: &str) -> Response {
    server
        .service_client("payments")
        .post(format!("{}/internal/v1/deposits", server.internal_url))
        .header("idempotency-key", key)
        .json(&json!({"account_id": account, "amount": amount, "currency": "EUR", "external_ref": format!("bank-{key}")}))
        .send()
        .await
        .unwrap()
}

pub async fn transfer(api: &Api, token: &str, key: Option<&str>, body: Value) -> Response {
    let mut request = api
        .client
        .post(format!("{}/v1/transfers", api.base))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

pub async fn balance(api: &Api, token: &str, account: &str) -> i64 {
    let body: Value = api
        .get(&format!("/v1/accounts/{account}"), token)
        .await
        .json()
        .await
        .unwrap();
    body["balance"].as_i64().unwrap()
}

pub fn verify(server: &TestServer, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(&server.binary)
        .args(["ledger", "verify", "--config"])
        .arg(server.config_path())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

async fn ledger_end_to_end(server: TestServer, env: &[(&str, &str)]) -> TestServer {
    let api = Api::new(&server);
    assert_eq!(
        api.register("lena@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        api.register("milo@example.com", PASSWORD).await.status(),
        201
    );
    let (lena, _) = api.login("lena@example.com").await;
    let (milo, _) = api.login("milo@example.com").await;
    let lena_eur = open_account(&api, &lena, "EUR").await;
    let lena_usd = open_account(&api, &lena, "USD").await;
    let milo_eur = open_account(&api, &milo, "EUR").await;
    let again = api
        .client
        .post(format!("{}/v1/accounts", api.base))
        .bearer_auth(&lena)
        .json(&json!({"currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(again).await, (409, "account_exists".into()));
    let odd = api
        .client
        .post(format!("{}/v1/accounts", api.base))
        .bearer_auth(&lena)
        .json(&json!({"currency": "XYZ"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(odd).await, (422, "validation_failed".into()));

    // Deposits over mTLS, idempotent per service.
    let first = deposit(&server, &lena_eur, 1_000, "dep-1").await;
    assert_eq!(first.status(), 201);
    let first_body: Value = first.json().await.unwrap();
    let replayed = deposit(&server, &lena_eur, 1_000, "dep-1").await;
    assert_eq!(replayed.status(), 201);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap(), first_body);
    assert_eq!(
        code(deposit(&server, &lena_eur, 999, "dep-1").await).await,
        (422, "idempotency_key_reused".into())
    );
    assert_eq!(balance(&api, &lena, &lena_eur).await, 1_000);

    // Bad input moves nothing.
    let base = |amount: Value| json!({"from_account_id": lena_eur, "to_account_id": milo_eur, "amount": amount, "currency": "EUR"});
    assert_eq!(
        code(transfer(&api, &lena, None, base(json!(1))).await).await,
        (400, "idempotency_key_required".into())
    );
    for (amount, status) in [
        (json!(0), 422),
        (json!(-5), 422),
        (json!(1_000_000_000_000_001_i64), 422),
        (json!(1.5), 400),
        (json!("10"), 400),
        (json!(true), 400),
        (Value::Null, 400),
    ] {
        let response = transfer(
            &api,
            &lena,
            Some(&format!("bad-{amount}")),
            base(amount.clone()),
        )
        .await;
        assert_eq!(response.status(), status, "{amount}");
    }
    let same = json!({"from_account_id": lena_eur, "to_account_id": lena_eur, "amount": 1, "currency": "EUR"});
    assert_eq!(
        code(transfer(&api, &lena, Some("same"), same).await).await,
        (422, "same_account".into())
    );
    let mixed = json!({"from_account_id": lena_usd, "to_account_id": milo_eur, "amount": 1, "currency": "EUR"});
    assert_eq!(
        code(transfer(&api, &lena, Some("mixed"), mixed).await).await,
        (422, "currency_mismatch".into())
    );
    let theirs = json!({"from_account_id": milo_eur, "to_account_id": lena_eur, "amount": 1, "currency": "EUR"});
    assert_eq!(
        code(transfer(&api, &lena, Some("bola"), theirs).await).await,
        (404, "not_found".into())
    );
    let nowhere = json!({"from_account_id": lena_eur, "to_account_id": "acct-does-not-exist", "amount": 1, "currency": "EUR"});
    assert_eq!(
        code(transfer(&api, &lena, Some("nowhere"), nowhere).await).await,
        (404, "not_found".into())
    );
    assert_eq!(
        code(transfer(&api, &lena, Some("too-much"), base(json!(1_001))).await).await,
        (422, "insufficient_funds".into())
    );
    assert_eq!(balance(&api, &lena, &lena_eur).await, 1_000);

    // Double spend: 50 concurrent transfers of 100 against a balance that covers 10.
    let attempts = (0..50).map(|i| {
        let (api, lena, body) = (&api, &lena, base(json!(100)));
        async move {
            transfer(api, lena, Some(&format!("race-{i}")), body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        40,
        "{statuses:?}"
    );
    assert_eq!(balance(&api, &lena, &lena_eur).await, 0);
    assert_eq!(balance(&api, &milo, &milo_eur).await, 1_000);

    // Twenty concurrent requests with one key move money once.
    let back = json!({"from_account_id": milo_eur, "to_account_id": lena_eur, "amount": 70, "currency": "EUR"});
    let attempts = (0..20).map(|_| {
        let (api, milo, body) = (&api, &milo, back.clone());
        async move {
            transfer(api, milo, Some("one-key"), body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(balance(&api, &milo, &milo_eur).await, 930);
    assert_eq!(balance(&api, &lena, &lena_eur).await, 70);

    // Object-level authorization: another customer's objects do not exist for you.
    let milo_transfer: Value = transfer(&api, &milo, Some("one-key"), back)
        .await
        .json()
        .await
        .unwrap();
    let transfer_id = milo_transfer["id"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v1/transfers/{transfer_id}"), &lena)
            .await
            .status(),
        200,
        "lena is the payee"
    );
    assert_eq!(
        code(api.get(&format!("/v1/accounts/{milo_eur}"), &lena).await).await,
        (404, "not_found".into())
    );
    assert_eq!(
        code(
            api.get(&format!("/v1/accounts/{milo_eur}/entries"), &lena)
                .await
        )
        .await,
        (404, "not_found".into())
    );
    assert_eq!(
        api.register("nina@example.com", PASSWORD).await.status(),
        201
    );
    let (nina, _) = api.login("nina@example.com").await;
    assert_eq!(
        code(
            api.get(&format!("/v1/transfers/{transfer_id}"), &nina)
                .await
        )
        .await,
        (404, "not_found".into())
    );

    // History with balance_after and cursor pagination.
    let page: Value = api
        .get(&format!("/v1/accounts/{lena_eur}/entries?limit=5"), &lena)
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["direction"], "credit");
    assert_eq!(items[0]["balance_after"], 1_000);
    assert_eq!(items[1]["balance_after"], 900);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = api
        .get(
            &format!("/v1/accounts/{lena_eur}/entries?limit=200&cursor={cursor}"),
            &lena,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"].as_array().unwrap().len(), 7);
    assert!(next["next_cursor"].is_null());

    // A frozen account can still receive but cannot send; unfreezing restores it, and the
    // refused request's key stays free for the retry.
    let status_change = |action: &str, account: &str| {
        let client = server.service_client("payments");
        let url = format!(
            "{}/internal/v1/accounts/{account}/{action}",
            server.internal_url
        );
        async move { client.post(url).send().await.unwrap() }
    };
    let frozen: Value = status_change("freeze", &lena_eur)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(frozen["status"], "frozen");
    let out = json!({"from_account_id": lena_eur, "to_account_id": milo_eur, "amount": 1, "currency": "EUR"});
    assert_eq!(
        code(transfer(&api, &lena, Some("while-frozen"), out.clone()).await).await,
        (422, "account_frozen".into())
    );
    let into_frozen = deposit(&server, &lena_eur, 5, "dep-frozen").await;
    assert_eq!(into_frozen.status(), 201);
    let account: Value = api
        .get(&format!("/v1/accounts/{lena_eur}"), &lena)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (account["status"].as_str(), account["balance"].as_i64()),
        (Some("frozen"), Some(75))
    );
    assert_eq!(status_change("unfreeze", &lena_eur).await.status(), 200);
    // The refusal is that key's answer (issue #19): a retry replays it; a new key posts.
    let replayed = transfer(&api, &lena, Some("while-frozen"), out.clone()).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(code(replayed).await, (422, "account_frozen".into()));
    assert_eq!(
        transfer(&api, &lena, Some("after-unfreeze"), out)
            .await
            .status(),
        201
    );
    assert_eq!(balance(&api, &lena, &lena_eur).await, 74);
    for (action, account) in [("freeze", "settlement-EUR"), ("freeze", "acct-unknown")] {
        assert_eq!(
            code(status_change(action, account).await).await,
            (404, "not_found".into())
        );
    }

    let verified = verify(&server, env);
    assert!(verified.status.success(), "{verified:?}");
    assert!(
        String::from_utf8_lossy(&verified.stdout).contains("28 entries"),
        "{verified:?}"
    );
    server
}

/// The test service may freeze accounts here; by default it may not.
const FREEZE_SCOPE: (&str, &str) = (
    "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
    r#"["ledger:deposit", "ledger:withdraw", "ledger:read", "ledger:freeze"]"#,
);

#[tokio::test]
async fn ledger_on_sqlite() {
    ledger_end_to_end(crate::sqlite_server(&[FREEZE_SCOPE]), &[]).await;
    // Tampering with the SQLite file is covered by
    // `large_transfers_need_step_up_and_tampering_is_detected`.
}

#[tokio::test]
async fn ledger_on_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let server = ledger_end_to_end(
        TestServer::start(
            crate::binary(),
            Database::Postgres(url.clone()),
            &[FREEZE_SCOPE],
        ),
        &env,
    )
    .await;
    // With nobody else writing, batches went the one-round-trip way (migration 0021).
    let metrics = crate::metrics_text(&server).await;
    assert!(
        metrics.contains("strongroom_ledger_fast_batches_total{answer=\"posted\"}"),
        "{metrics}"
    );

    // The database itself refuses to change or delete an entry, even for its owner...
    for sql in [
        "UPDATE entries SET amount = 5 WHERE seq = 3",
        "DELETE FROM entries WHERE seq = 1",
        "UPDATE transfers SET amount = 5",
    ] {
        let refused = cluster.psql("strongroom", sql);
        assert!(!refused.status.success(), "{sql} was allowed");
    }
    assert!(verify(&server, &env).status.success());
    // ...and a superuser who disables the guard is caught by `ledger verify`.
    let tampered = cluster.psql(
        "strongroom",
        "ALTER TABLE entries DISABLE TRIGGER USER; UPDATE entries SET amount = 5 WHERE seq = 3;",
    );
    assert!(tampered.status.success(), "{tampered:?}");
    let caught = verify(&server, &env);
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    let message = String::from_utf8_lossy(&caught.stderr);
    assert!(message.contains("(seq 3)"), "{message}");
}

#[tokio::test]
async fn large_transfers_need_step_up_and_tampering_is_detected() {
    let server = crate::sqlite_server(&[("STRONGROOM__LEDGER__STEP_UP_AMOUNT", "500")]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("omar@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        api.register("pia@example.com", PASSWORD).await.status(),
        201
    );
    let (omar, _) = api.login("omar@example.com").await;
    let (pia, _) = api.login("pia@example.com").await;
    let omar_eur = open_account(&api, &omar, "EUR").await;
    let pia_eur = open_account(&api, &pia, "EUR").await;
    assert_eq!(
        deposit(&server, &omar_eur, 2_000, "big").await.status(),
        201
    );
    let large = json!({"from_account_id": omar_eur, "to_account_id": pia_eur, "amount": 501, "currency": "EUR"});
    // Without a second factor there is nothing to step up with: enrol one first.
    let refused = transfer(&api, &omar, Some("large"), large.clone()).await;
    assert_eq!(code(refused).await, (403, "mfa_enrollment_required".into()));
    // With one, a password-level session must step up (RFC 9470).
    crate::mfa::enrol_totp(&api, &omar).await;
    let refused = transfer(&api, &omar, Some("large"), large).await;
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=300"
    );
    assert_eq!(code(refused).await, (401, "step_up_required".into()));
    let small = json!({"from_account_id": omar_eur, "to_account_id": pia_eur, "amount": 500, "currency": "EUR"});
    assert_eq!(
        transfer(&api, &omar, Some("small"), small).await.status(),
        201
    );
    assert!(verify(&server, &[]).status.success());
    let freeze = server
        .service_client("payments")
        .post(format!(
            "{}/internal/v1/accounts/{omar_eur}/freeze",
            server.internal_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        freeze.status(),
        403,
        "freezing needs the ledger:freeze scope"
    );
    let problem: Value = freeze.json().await.unwrap();
    assert_eq!(problem["code"], "forbidden");
    assert_eq!(
        problem["detail"], "This service lacks the scope `ledger:freeze`.",
        "the operator learns which scope to grant"
    );

    // An intruder with file access rewrites an entry (after dropping the guard trigger).
    let db = server.path("data/strongroom.db");
    let output = Command::new("sqlite3")
        .arg(&db)
        .arg("DROP TRIGGER entries_are_immutable_update; UPDATE entries SET amount = 5 WHERE seq = 3;")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let tampered = verify(&server, &[]);
    assert_eq!(tampered.status.code(), Some(1));
    let message = String::from_utf8_lossy(&tampered.stderr);
    assert!(message.contains("(seq 3)"), "{message}");

    // Without dropping the trigger, the store itself refuses to change an entry.
    let blocked = Command::new("sqlite3")
        .arg(&db)
        .arg("DELETE FROM entries WHERE seq = 1;")
        .output()
        .unwrap();
    assert!(!blocked.status.success());
}

/// kill -9 while deposits are in flight: after restart the journal verifies and every
/// transfer the server acknowledged (201) is in the account's history exactly once.
async fn crash_under_load(server: TestServer, database: Database, env: &[(&str, &str)]) {
    let api = Api::new(&server);
    assert_eq!(
        api.register("quin@example.com", PASSWORD).await.status(),
        201
    );
    let (quin, _) = api.login("quin@example.com").await;
    let account = open_account(&api, &quin, "EUR").await;
    let client = server.service_client("payments");
    let url = format!("{}/internal/v1/deposits", server.internal_url);
    let workers = (0..16).map(|worker| {
        let (client, url, account) = (client.clone(), url.clone(), account.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..100_000 {
                let key = format!("crash-{worker}-{i}");
                let body = json!({"account_id": account, "amount": 1, "currency": "EUR", "external_ref": key});
                match client.post(&url).header("idempotency-key", &key).json(&body).send().await {
                    Ok(response) if response.status() == 201 => {
                        let posted: Value = response.json().await.unwrap_or(Value::Null);
                        if let Some(id) = posted["id"].as_str() {
                            acknowledged.push(id.to_owned());
                        }
                    }
                    _ => break,
                }
            }
            acknowledged
        })
    });
    let workers: Vec<_> = workers.collect();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let dir = tokio::task::spawn_blocking(move || server.kill())
        .await
        .unwrap();
    let mut acknowledged = Vec::new();
    for worker in workers {
        acknowledged.extend(worker.await.unwrap());
    }
    assert!(
        acknowledged.len() > 20,
        "only {} transfers before the crash",
        acknowledged.len()
    );

    let server = TestServer::serve_in(crate::binary(), dir, database, &[]);
    let verified = verify(&server, env);
    assert!(verified.status.success(), "{verified:?}");
    let api = Api::new(&server);
    let (quin, _) = api.login("quin@example.com").await;
    let mut history = std::collections::HashMap::new();
    let mut cursor = String::new();
    loop {
        let page: Value = api
            .get(
                &format!("/v1/accounts/{account}/entries?limit=200{cursor}"),
                &quin,
            )
            .await
            .json()
            .await
            .unwrap();
        for entry in page["items"].as_array().unwrap() {
            let transfer = entry["transfer_id"].as_str().unwrap().to_owned();
            *history.entry(transfer).or_insert(0) += 1;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    for id in &acknowledged {
        assert_eq!(
            history.get(id),
            Some(&1),
            "acknowledged transfer {id} lost or duplicated"
        );
    }
    assert!(history.len() >= acknowledged.len());
    assert!(history.values().all(|count| *count == 1));
    assert_eq!(
        balance(&api, &quin, &account).await,
        i64::try_from(history.len()).unwrap(),
        "the balance is the sum of the surviving deposits"
    );
}

#[tokio::test]
async fn a_crash_under_load_on_sqlite_loses_no_acknowledged_transfer() {
    crash_under_load(crate::sqlite_server(&[]), Database::Sqlite, &[]).await;
}

#[tokio::test]
async fn a_crash_under_load_on_postgres_loses_no_acknowledged_transfer() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let server = TestServer::start(crate::binary(), Database::Postgres(url.clone()), &[]);
    crash_under_load(server, Database::Postgres(url.clone()), &env).await;
}

#[tokio::test]
async fn two_instances_on_one_postgresql_database_never_overdraw() {
    // Each instance has its own writer and account cache; the chain-head lock and the cache
    // generation must keep them correct together.
    let cluster = PgCluster::start();
    let url = cluster.create_database("strongroom");
    let env = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let first = TestServer::start(crate::binary(), Database::Postgres(url.clone()), &[]);
    // Instances of one deployment share its keys (the audit key signs both heads).
    let second = first.replica(Database::Postgres(url.clone()), &[]);
    let (api_a, api_b) = (Api::new(&first), Api::new(&second));
    assert_eq!(
        api_a.register("rosa@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        api_a.register("sven@example.com", PASSWORD).await.status(),
        201
    );
    // Each instance mints its own sessions; the users and accounts are shared.
    let (rosa_a, _) = api_a.login("rosa@example.com").await;
    let (rosa_b, _) = api_b.login("rosa@example.com").await;
    let (sven_b, _) = api_b.login("sven@example.com").await;
    let rosa = open_account(&api_a, &rosa_a, "EUR").await;
    let sven = open_account(&api_b, &sven_b, "EUR").await;
    assert_eq!(deposit(&first, &rosa, 1_000, "two-1").await.status(), 201);

    // Warm both writers' caches with Rosa's balance, then race 50 transfers of 100 split
    // across the instances against a balance that covers 10.
    let warm =
        json!({"from_account_id": rosa, "to_account_id": sven, "amount": 1, "currency": "EUR"});
    assert_eq!(
        transfer(&api_a, &rosa_a, Some("warm-a"), warm.clone())
            .await
            .status(),
        201
    );
    assert_eq!(
        transfer(&api_b, &rosa_b, Some("warm-b"), warm)
            .await
            .status(),
        201
    );
    assert_eq!(deposit(&second, &rosa, 2, "two-2").await.status(), 201);
    assert_eq!(balance(&api_a, &rosa_a, &rosa).await, 1_000);
    let body =
        json!({"from_account_id": rosa, "to_account_id": sven, "amount": 100, "currency": "EUR"});
    let attempts = (0..50).map(|i| {
        let (api, token) = if i % 2 == 0 {
            (&api_a, &rosa_a)
        } else {
            (&api_b, &rosa_b)
        };
        let body = body.clone();
        async move {
            transfer(api, token, Some(&format!("split-{i}")), body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 422),
        "{statuses:?}"
    );
    assert_eq!(balance(&api_a, &rosa_a, &rosa).await, 0);
    assert_eq!(balance(&api_b, &rosa_b, &rosa).await, 0);
    assert_eq!(balance(&api_b, &sven_b, &sven).await, 1_002);
    let verified = verify(&first, &env);
    assert!(verified.status.success(), "{verified:?}");
}
