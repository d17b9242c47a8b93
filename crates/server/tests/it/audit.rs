//! The audit log as an intruder meets it: after a realistic session the chain and every signed
//! checkpoint verify, `audit export` writes one JSON object per record, and an intruder who
//! holds the database file — dropping the triggers, rewriting an audit record, a transfer row
//! or an entry, recomputing every hash after it and deleting the checkpoints — is caught by
//! `audit verify --anchor` with a checkpoint kept outside the database. Without the anchor
//! such a rewrite passes; that is what the anchor is for, and the test says so.

use std::path::{Path, PathBuf};
use std::process::Output;

use ledger::audit::{AuditFacts, audit_hash};
use serde_json::{Value, json};
use sqlx::{Connection, Row, SqliteConnection};

use crate::admin::{admin_post, grant_role, staff};
use crate::identity::{Api, PASSWORD};
use crate::ledger::{deposit, open_account, transfer};
use crate::sqlite_server;

fn run(binary: &Path, config: &Path, db: &Path, args: &[&str]) -> Output {
    std::process::Command::new(binary)
        .args(args)
        .arg("--config")
        .arg(config)
        .env(
            "STRONGROOM__DATABASE__URL",
            format!("sqlite://{}", db.display()),
        )
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn open(db: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap()
}

/// What an intruder with the file does first: the immutability triggers go.
async fn drop_triggers(connection: &mut SqliteConnection) {
    for statement in [
        "DROP TRIGGER audit_log_is_immutable_update",
        "DROP TRIGGER audit_checkpoints_are_immutable_delete",
        "DROP TRIGGER entries_are_immutable_update",
        "DROP TRIGGER transfers_are_immutable_update",
    ] {
        sqlx::query(statement)
            .execute(&mut *connection)
            .await
            .unwrap();
    }
}

/// Rewrites the audit record at `seq` (its outcome) and recomputes every hash after it, the
/// head included: the chain is consistent again.
async fn rewrite_audit(connection: &mut SqliteConnection, seq: i64) {
    sqlx::query("UPDATE audit_log SET outcome = 'failure' WHERE seq = $1")
        .bind(seq)
        .execute(&mut *connection)
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, action, target, outcome, request_id, ip, details, \
         prev_hash FROM audit_log WHERE seq >= $1 ORDER BY seq",
    )
    .bind(seq)
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let mut previous: Vec<u8> = rows[0].get("prev_hash");
    for row in &rows {
        let text = |name: &str| -> String { row.get(name) };
        let (kind, actor, action, target, outcome, request, ip, details) = (
            text("actor_kind"),
            text("actor_id"),
            text("action"),
            text("target"),
            text("outcome"),
            text("request_id"),
            text("ip"),
            text("details"),
        );
        let seq: i64 = row.get("seq");
        let hash = audit_hash(
            &previous,
            &AuditFacts {
                seq,
                at: row.get("at"),
                actor_kind: &kind,
                actor_id: &actor,
                action: &action,
                target: &target,
                outcome: &outcome,
                request_id: &request,
                ip: &ip,
                details: &details,
            },
        );
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&previous)
            .bind(&hash)
            .bind(seq)
            .execute(&mut *connection)
            .await
            .unwrap();
        previous = hash;
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&previous)
        .execute(&mut *connection)
        .await
        .unwrap();
}

/// Changes a transfer's memo and recomputes every entry hash from that transfer's first entry
/// on, the head included.
async fn rewrite_transfer(connection: &mut SqliteConnection, transfer_id: &str) {
    sqlx::query("UPDATE transfers SET memo = 'rewritten' WHERE id = $1")
        .bind(transfer_id)
        .execute(&mut *connection)
        .await
        .unwrap();
    let from: i64 = sqlx::query_scalar("SELECT MIN(seq) FROM entries WHERE transfer_id = $1")
        .bind(transfer_id)
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT e.seq, e.id, e.transfer_id, e.account_id, e.direction, e.amount, e.balance_after, \
         e.currency, e.created_at, e.prev_hash, t.kind, t.from_account_id, t.to_account_id, \
         t.amount AS t_amount, t.currency AS t_currency, t.memo, t.external_ref, t.initiated_by, \
         t.created_at AS t_created_at FROM entries AS e JOIN transfers AS t ON t.id = e.transfer_id \
         WHERE e.seq >= $1 ORDER BY e.seq",
    )
    .bind(from)
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let mut previous: Vec<u8> = rows[0].get("prev_hash");
    for row in &rows {
        let text = |name: &str| -> String { row.get(name) };
        let optional = |name: &str| -> Option<String> { row.get(name) };
        let (id, transfer, account, direction, currency) = (
            text("id"),
            text("transfer_id"),
            text("account_id"),
            text("direction"),
            text("currency"),
        );
        let (kind, t_from, t_to, t_currency, initiated) = (
            text("kind"),
            text("from_account_id"),
            text("to_account_id"),
            text("t_currency"),
            text("initiated_by"),
        );
        let (memo, external) = (optional("memo"), optional("external_ref"));
        let seq: i64 = row.get("seq");
        let facts = ledger::EntryFacts {
            seq,
            id: &id,
            transfer_id: &transfer,
            account_id: &account,
            direction: ledger::Direction::parse(&direction).unwrap(),
            amount: row.get("amount"),
            balance_after: row.get("balance_after"),
            currency: &currency,
            created_at: row.get("created_at"),
            transfer: Some(ledger::TransferFacts {
                kind: &kind,
                from_account_id: &t_from,
                to_account_id: &t_to,
                amount: row.get("t_amount"),
                currency: &t_currency,
                memo: memo.as_deref(),
                external_ref: external.as_deref(),
                initiated_by: &initiated,
                created_at: row.get("t_created_at"),
                reverses: None,
            }),
        };
        let hash = ledger::entry_hash(&previous, &facts);
        sqlx::query("UPDATE entries SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&previous)
            .bind(&hash)
            .bind(seq)
            .execute(&mut *connection)
            .await
            .unwrap();
        previous = hash;
    }
    sqlx::query("UPDATE ledger_head SET hash = $1 WHERE id = 1")
        .bind(&previous)
        .execute(&mut *connection)
        .await
        .unwrap();
}

async fn delete_checkpoints(connection: &mut SqliteConnection) {
    sqlx::query("DELETE FROM audit_checkpoints")
        .execute(&mut *connection)
        .await
        .unwrap();
}

/// A copy of the stopped server's database for one attack.
fn copy_of(db: &Path, name: &str) -> PathBuf {
    let copy = db.with_file_name(format!("{name}.db"));
    std::fs::copy(db, &copy).unwrap();
    copy
}

#[tokio::test]
async fn an_anchor_catches_a_rewritten_audit_record_transfer_row_or_entry() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    // A realistic session: sign-ins, money moving, an admin action.
    let (_, admin) = staff(&api, "ada@example.com").await;
    grant_role(&server, "ada@example.com", "admin");
    for email in ["ben@example.com", "cy@example.com"] {
        assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    }
    let (ben, _) = api.login("ben@example.com").await;
    let (cy, _) = api.login("cy@example.com").await;
    let ben_account = open_account(&api, &ben, "EUR").await;
    let cy_account = open_account(&api, &cy, "EUR").await;
    assert_eq!(
        deposit(&server, &ben_account, 900, "aud-1").await.status(),
        201
    );
    let paid = transfer(
        &api,
        &ben,
        Some("aud-2"),
        json!({"from_account_id": ben_account, "to_account_id": cy_account, "amount": 250, "currency": "EUR", "memo": "rent"}),
    )
    .await;
    assert_eq!(paid.status(), 201);
    let paid: Value = paid.json().await.unwrap();
    let transfer_id = paid["id"].as_str().unwrap().to_owned();
    let cy_id = api
        .get("/v1/admin/users?email=cy@example.com", &admin)
        .await
        .json::<Value>()
        .await
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lock = admin_post(&api, &format!("/v1/admin/users/{cy_id}/lock"), &admin, None).await;
    assert_eq!(lock.status(), 204);

    let config = server.config_path();
    let binary = server.binary.clone();
    let live_db = server.dir.path().join("data/strongroom.db");
    let anchor = server.dir.path().join("anchor.json");
    let written = run(
        &binary,
        &config,
        &live_db,
        &["audit", "checkpoint", "--out", anchor.to_str().unwrap()],
    );
    assert!(written.status.success(), "{written:?}");
    let again = run(
        &binary,
        &config,
        &live_db,
        &["audit", "checkpoint", "--out", anchor.to_str().unwrap()],
    );
    assert!(
        !again.status.success(),
        "an existing anchor is never overwritten"
    );

    // Export: one JSON object per record, stable field names, no personal data.
    let exported = run(&binary, &config, &live_db, &["audit", "export"]);
    assert!(exported.status.success(), "{exported:?}");
    let lines: Vec<Value> = stdout(&exported)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= 8, "{lines:?}");
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], json!(index + 1));
        for field in [
            "at",
            "action",
            "target",
            "outcome",
            "request_id",
            "ip",
            "details",
            "hash",
            "prev_hash",
        ] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
        assert!(line["actor"]["kind"].is_string() && line["actor"]["id"].is_string());
    }
    let posted = lines
        .iter()
        .find(|line| line["target"] == format!("transfer:{transfer_id}"))
        .unwrap();
    assert_eq!(posted["action"], "ledger.transfer");
    assert_eq!(posted["details"]["amount"], 250);
    assert!(!stdout(&exported).contains("example.com"));
    let future = run(
        &binary,
        &config,
        &live_db,
        &["audit", "export", "--since", "2999-01-01T00:00:00Z"],
    );
    assert!(
        future.status.success() && stdout(&future).is_empty(),
        "{future:?}"
    );
    let bad = run(
        &binary,
        &config,
        &live_db,
        &["audit", "export", "--since", "yesterday"],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(stderr(&bad).contains("--since"), "{bad:?}");

    let dir = server.stop();
    let db = dir.path().join("data/strongroom.db");
    let anchor_arg = anchor.to_str().unwrap();
    let sound = run(
        &binary,
        &config,
        &db,
        &["audit", "verify", "--anchor", anchor_arg],
    );
    assert!(sound.status.success(), "{sound:?}");
    assert!(stdout(&sound).contains("holds"), "{sound:?}");
    assert!(
        run(&binary, &config, &db, &["ledger", "verify"])
            .status
            .success()
    );
    let grant_seq = lines
        .iter()
        .find(|line| line["action"] == "cli.grant_role")
        .unwrap()["seq"]
        .as_i64()
        .unwrap();

    // 1. An audit record rewritten and the chain recomputed: the stored checkpoints catch it.
    let copy = copy_of(&db, "audit-kept");
    let mut connection = open(&copy).await;
    drop_triggers(&mut connection).await;
    rewrite_audit(&mut connection, grant_seq).await;
    connection.close().await.unwrap();
    let caught = run(&binary, &config, &copy, &["audit", "verify"]);
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    assert!(stderr(&caught).contains("checkpoint"), "{caught:?}");

    // ... and with the checkpoints deleted too, only the anchor catches it.
    let copy = copy_of(&db, "audit-gone");
    let mut connection = open(&copy).await;
    drop_triggers(&mut connection).await;
    rewrite_audit(&mut connection, grant_seq).await;
    delete_checkpoints(&mut connection).await;
    connection.close().await.unwrap();
    let unnoticed = run(&binary, &config, &copy, &["audit", "verify"]);
    assert!(
        unnoticed.status.success(),
        "without an anchor a full rewrite verifies: {unnoticed:?}"
    );
    let caught = run(
        &binary,
        &config,
        &copy,
        &["audit", "verify", "--anchor", anchor_arg],
    );
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    assert!(
        stderr(&caught).contains(&format!("audit record seq {grant_seq}"))
            || stderr(&caught).contains("the anchor"),
        "{caught:?}"
    );

    // 2. A transfer row changed: its entries' hashes cover it.
    let copy = copy_of(&db, "transfer-row");
    let mut connection = open(&copy).await;
    drop_triggers(&mut connection).await;
    sqlx::query("UPDATE transfers SET memo = 'rewritten' WHERE id = $1")
        .bind(&transfer_id)
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let caught = run(&binary, &config, &copy, &["ledger", "verify"]);
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    assert!(stderr(&caught).contains("transfer row"), "{caught:?}");

    // 3. The same with every entry hash recomputed and the checkpoints deleted: the ledger
    // replays, and the anchor names the first rewritten entry.
    let copy = copy_of(&db, "entries");
    let mut connection = open(&copy).await;
    drop_triggers(&mut connection).await;
    rewrite_transfer(&mut connection, &transfer_id).await;
    delete_checkpoints(&mut connection).await;
    connection.close().await.unwrap();
    let unnoticed = run(&binary, &config, &copy, &["ledger", "verify"]);
    assert!(unnoticed.status.success(), "{unnoticed:?}");
    let caught = run(
        &binary,
        &config,
        &copy,
        &["audit", "verify", "--anchor", anchor_arg],
    );
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    assert!(stderr(&caught).contains("entry "), "{caught:?}");
    assert!(stderr(&caught).contains("the anchor"), "{caught:?}");

    // 4. A forged anchor (its signature no longer matches) is refused.
    let mut forged: Value =
        serde_json::from_str(&std::fs::read_to_string(&anchor).unwrap()).unwrap();
    forged["ledger_seq"] = json!(1);
    let forged_path = dir.path().join("forged.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let refused = run(
        &binary,
        &config,
        &db,
        &["audit", "verify", "--anchor", forged_path.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(stderr(&refused).contains("signature"), "{refused:?}");

    // A key operation at the command line is audited with actor `operator`.
    let rotated = run(&binary, &config, &db, &["keys", "rotate-signing"]);
    assert!(rotated.status.success(), "{rotated:?}");
    let exported = run(&binary, &config, &db, &["audit", "export"]);
    let last: Value = serde_json::from_str(stdout(&exported).lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "cli.keys_rotate_signing");
    assert_eq!(last["actor"]["kind"], "operator");
    assert_eq!(last["outcome"], "success");
    assert!(
        run(
            &binary,
            &config,
            &db,
            &["audit", "verify", "--anchor", anchor_arg]
        )
        .status
        .success()
    );
}

#[tokio::test]
async fn on_postgresql_the_runtime_role_cannot_rewrite_history() {
    use test_support::{Database, PgCluster, TestServer, init_dir};

    let cluster = PgCluster::start();
    cluster.create_database("bank");
    let roles = cluster.psql(
        "bank",
        "CREATE ROLE bank_owner LOGIN; CREATE ROLE bank_app LOGIN; \
         ALTER DATABASE bank OWNER TO bank_owner; ALTER SCHEMA public OWNER TO bank_owner;",
    );
    assert!(roles.status.success(), "{roles:?}");
    let superuser = cluster.url("bank");
    let owner_url = superuser.replacen("postgres@", "bank_owner@", 1);
    let app_url = superuser.replacen("postgres@", "bank_app@", 1);
    let dir = tempfile::Builder::new()
        .prefix("strongroom-it-")
        .tempdir()
        .unwrap();
    let ca_dir = init_dir(crate::binary(), dir.path());
    let config = dir.path().join("strongroom.toml");
    let env = [
        ("STRONGROOM__DATABASE__URL", app_url.as_str()),
        ("STRONGROOM__DATABASE__MIGRATE_URL", owner_url.as_str()),
    ];
    let cli = |args: &[&str]| {
        std::process::Command::new(crate::binary())
            .args(args)
            .arg("--config")
            .arg(&config)
            .envs(env)
            .output()
            .unwrap()
    };
    let migrated = cli(&["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(
        stdout(&migrated).contains("runtime role bank_app"),
        "{migrated:?}"
    );

    let server = TestServer::serve_in_with_ca(
        crate::binary(),
        dir,
        ca_dir,
        Database::Postgres(app_url.clone()),
        &[("STRONGROOM__DATABASE__MIGRATE_URL", owner_url.as_str())],
    );
    let api = Api::new(&server);
    assert_eq!(
        api.register("pia@example.com", PASSWORD).await.status(),
        201
    );
    let (pia, _) = api.login("pia@example.com").await;
    let account = open_account(&api, &pia, "EUR").await;
    assert_eq!(deposit(&server, &account, 700, "pg-1").await.status(), 201);
    // The second posting takes the writer's one-round-trip function, as the runtime role.
    assert_eq!(deposit(&server, &account, 300, "pg-2").await.status(), 201);

    // The runtime role's own attempts to rewrite history fail.
    let mut app = sqlx::PgConnection::connect(&app_url).await.unwrap();
    for attack in [
        "UPDATE entries SET amount = 1",
        "DELETE FROM entries",
        "UPDATE transfers SET memo = 'x'",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET outcome = 'failure'",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_log",
        "ALTER TABLE entries DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_log_is_immutable ON audit_log",
        "DROP TABLE audit_log",
        "CREATE TABLE shadow (id INT)",
        "DELETE FROM _sqlx_migrations",
        "DROP FUNCTION strongroom_ledger_post_batch",
        "CREATE OR REPLACE FUNCTION strongroom_ledger_write_batch() RETURNS bigint \
         LANGUAGE sql AS 'SELECT 0::bigint'",
    ] {
        let error = sqlx::query(attack).execute(&mut app).await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("permission denied") || text.contains("must be owner"),
            "{attack}: {text}"
        );
    }
    app.close().await.unwrap();
    let stale = cli(&["ledger", "verify"]);
    assert!(stale.status.success(), "{stale:?}");

    // A superuser can rewrite anything; verification still notices.
    let rewrite = cluster.psql(
        "bank",
        "ALTER TABLE transfers DISABLE TRIGGER ALL; UPDATE transfers SET memo = 'rewritten'; \
         ALTER TABLE audit_log DISABLE TRIGGER ALL; \
         UPDATE audit_log SET outcome = 'failure' WHERE seq = 1;",
    );
    assert!(rewrite.status.success(), "{rewrite:?}");
    let caught = cli(&["ledger", "verify"]);
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    assert!(stderr(&caught).contains("transfer row"), "{caught:?}");
    let caught = cli(&["audit", "verify"]);
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    assert!(stderr(&caught).contains("audit record seq 1"), "{caught:?}");
    drop(server);
}
