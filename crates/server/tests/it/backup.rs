//! Backups through the real CLI: taken while transfers run, verified, restored into a new
//! directory (or an empty PostgreSQL database) that serves every transfer acknowledged before
//! the backup began; a flipped byte, a cut file, two swapped chunks and a foreign KEK are each
//! refused by `backup verify`, and a restore onto a running server or over a store is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use test_support::{Database, PgCluster, TestServer, free_port, init_dir};

use crate::identity::{Api, PASSWORD};
use crate::ledger::{deposit, open_account};

/// Runs the CLI with `args`, the server's public address pinned to a free port unless given.
fn cli(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(crate::binary());
    command.args(args).arg("--config").arg(config).env(
        "STRONGROOM__SERVER__PUBLIC_ADDR",
        format!("127.0.0.1:{}", free_port()),
    );
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The offsets of each chunk's length prefix in a backup file.
fn chunk_offsets(file: &[u8]) -> Vec<usize> {
    let header_len = u32::from_be_bytes(file[8..12].try_into().unwrap()) as usize;
    let mut at = 12 + header_len;
    let mut offsets = Vec::new();
    while at < file.len() {
        offsets.push(at);
        at += 4 + u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    }
    offsets
}

/// Each way of damaging `backup` is refused by `backup verify`, naming the problem.
fn damaged_backups_are_refused(config: &Path, backup: &Path, work: &Path) {
    let file = std::fs::read(backup).unwrap();
    let offsets = chunk_offsets(&file);
    assert!(offsets.len() >= 3, "a backup of several chunks");
    let mut flipped = file.clone();
    flipped[offsets[1] + 50] ^= 0x01;
    let cut = file[..offsets[offsets.len() - 1]].to_vec();
    let (a, b) = (offsets[0]..offsets[1], offsets[1]..offsets[2]);
    let mut swapped = file[..offsets[0]].to_vec();
    swapped.extend_from_slice(&file[b]);
    swapped.extend_from_slice(&file[a]);
    swapped.extend_from_slice(&file[offsets[2]..]);
    for (name, bytes, says) in [
        ("flipped", flipped, "does not authenticate"),
        ("cut", cut, "truncated"),
        ("swapped", swapped, "does not authenticate"),
    ] {
        let path = work.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = cli(
            config,
            &["backup", "verify", "--from", path.to_str().unwrap()],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert!(text(&out).contains(says), "{name}: {}", text(&out));
    }
}

#[tokio::test]
async fn a_backup_taken_while_money_moves_restores_every_acknowledged_transfer() {
    let server = crate::sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("bea@example.com", PASSWORD).await.status(),
        201
    );
    let (bea, _) = api.login("bea@example.com").await;
    let account = open_account(&api, &bea, "EUR").await;
    // Enough history for a backup of several chunks.
    for n in 0..40 {
        assert_eq!(
            deposit(&server, &account, 1_000, &format!("seed-{n}"))
                .await
                .status(),
            201
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let (url, client, account) = (
            server.internal_url.clone(),
            server.service_client("payments"),
            account.clone(),
        );
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let response = client
                    .post(format!("{url}/internal/v1/deposits"))
                    .header("idempotency-key", format!("load-{n}"))
                    .json(&json!({"account_id": account, "amount": 100, "currency": "EUR", "external_ref": format!("bank-load-{n}")}))
                    .send()
                    .await
                    .unwrap();
                if response.status() == 201 {
                    let body: Value = response.json().await.unwrap();
                    acknowledged.push(body["id"].as_str().unwrap().to_owned());
                }
            }
            acknowledged
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("strongroom.backup");
    let config = server.config_path();
    let before_backup = {
        // Everything acknowledged up to here must be in the backup.
        let balance = crate::ledger::balance(&api, &bea, &account).await;
        let (config, backup) = (config.clone(), backup.clone());
        let out = tokio::task::spawn_blocking(move || {
            cli(&config, &["backup", "--out", backup.to_str().unwrap()], &[])
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("needs KEK local version 1"),
            "{}",
            text(&out)
        );
        balance
    };
    stop.store(true, Ordering::SeqCst);
    let acknowledged = load.await.unwrap();
    assert!(!acknowledged.is_empty());

    let verified = cli(
        &config,
        &["backup", "verify", "--from", backup.to_str().unwrap()],
        &[],
    );
    assert!(verified.status.success(), "{}", text(&verified));
    // Progress is drawn only on a terminal: scripts see the report and nothing else.
    assert!(verified.stderr.is_empty(), "{}", text(&verified));
    for says in ["backup intact", "ledger verified", "audit log verified"] {
        assert!(text(&verified).contains(says), "{}", text(&verified));
    }
    damaged_backups_are_refused(&config, &backup, work.path());

    // A configuration with another KEK cannot open it.
    let stranger = tempfile::tempdir().unwrap();
    let _ca = init_dir(crate::binary(), stranger.path());
    let foreign = cli(
        &stranger.path().join("strongroom.toml"),
        &["backup", "verify", "--from", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(foreign.status.code(), Some(1), "{}", text(&foreign));
    assert!(
        text(&foreign).contains("cannot unwrap"),
        "{}",
        text(&foreign)
    );

    // Restoring onto the running server, or over its store, is refused and changes nothing.
    let running = cli(
        &config,
        &["restore", "--from", backup.to_str().unwrap(), "--force"],
        &[(
            "STRONGROOM__SERVER__PUBLIC_ADDR",
            &TestServer::addr(&server.public_url),
        )],
    );
    assert_eq!(running.status.code(), Some(2), "{}", text(&running));
    assert!(
        text(&running).contains("stop it before restoring"),
        "{}",
        text(&running)
    );
    let over = cli(
        &config,
        &["restore", "--from", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(over.status.code(), Some(2), "{}", text(&over));

    // Restore into a new directory (the same keys, no data), then serve it.
    let restored_dir = tempfile::Builder::new()
        .prefix("strongroom-it-")
        .tempdir()
        .unwrap();
    copy_without_data(server.dir.path(), restored_dir.path());
    // A log left from a store deleted by hand would be replayed onto the restored file: it
    // needs --force, and then it is gone.
    let stale = restored_dir.path().join("data/strongroom.db-wal");
    std::fs::write(&stale, b"frames of another database").unwrap();
    let refused = cli(
        &restored_dir.path().join("strongroom.toml"),
        &["restore", "--from", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let restored = cli(
        &restored_dir.path().join("strongroom.toml"),
        &["restore", "--from", backup.to_str().unwrap(), "--force"],
        &[],
    );
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(
        text(&restored).contains("restored: sqlite store"),
        "{}",
        text(&restored)
    );
    let copy = TestServer::serve_in(crate::binary(), restored_dir, Database::Sqlite, &[]);
    let copy_api = Api::new(&copy);
    let (bea_again, _) = copy_api.login("bea@example.com").await;
    let restored_balance = crate::ledger::balance(&copy_api, &bea_again, &account).await;
    assert!(
        restored_balance >= before_backup,
        "{restored_balance} < {before_backup}"
    );
    assert!(restored_balance <= before_backup + 100 * acknowledged.len() as i64);
}

/// Copies an initialised directory (configuration, keys, PKI) but not its data.
fn copy_without_data(from: &Path, to: &Path) {
    for entry in walk(from) {
        let relative = entry.strip_prefix(from).unwrap();
        if relative.starts_with("data") || relative.ends_with("server.log") {
            continue;
        }
        let target = to.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&entry, &target).unwrap();
        }
    }
    std::fs::create_dir_all(to.join("data")).unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        found.push(path.clone());
        if path.is_dir() {
            found.extend(walk(&path));
        }
    }
    found
}

#[tokio::test]
async fn postgres_backups_go_through_pg_dump_and_restore_into_an_empty_database() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("live");
    let server = TestServer::start(crate::binary(), Database::Postgres(url.clone()), &[]);
    let api = Api::new(&server);
    assert_eq!(api.register("cy@example.com", PASSWORD).await.status(), 201);
    let (cy, _) = api.login("cy@example.com").await;
    let account = open_account(&api, &cy, "EUR").await;
    for n in 0..5 {
        assert_eq!(
            deposit(&server, &account, 700, &format!("pg-{n}"))
                .await
                .status(),
            201
        );
    }
    let config = server.config_path();
    let live = [("STRONGROOM__DATABASE__URL", url.as_str())];
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("pg.backup");
    let taken = cli(
        &config,
        &["backup", "--out", backup.to_str().unwrap()],
        &live,
    );
    assert!(taken.status.success(), "{}", text(&taken));
    assert!(text(&taken).contains("postgres store"), "{}", text(&taken));
    let verified = cli(
        &config,
        &["backup", "verify", "--from", backup.to_str().unwrap()],
        &live,
    );
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("PostgreSQL archive readable"),
        "{}",
        text(&verified)
    );
    let mut flipped = std::fs::read(&backup).unwrap();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    let bad = work.path().join("flipped");
    std::fs::write(&bad, flipped).unwrap();
    let refused = cli(
        &config,
        &["backup", "verify", "--from", bad.to_str().unwrap()],
        &live,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));

    // Not over a database with data; into an empty one, then verified there.
    let over = cli(
        &config,
        &["restore", "--from", backup.to_str().unwrap()],
        &live,
    );
    assert_eq!(over.status.code(), Some(2), "{}", text(&over));
    let empty = cluster.create_database("restored");
    let target = [("STRONGROOM__DATABASE__URL", empty.as_str())];
    let restored = cli(
        &config,
        &["restore", "--from", backup.to_str().unwrap()],
        &target,
    );
    assert!(restored.status.success(), "{}", text(&restored));
    for says in [
        "restored: postgres store",
        "ledger verified",
        "audit log verified",
    ] {
        assert!(text(&restored).contains(says), "{}", text(&restored));
    }
    let copy = server.replica(Database::Postgres(empty), &[]);
    let copy_api = Api::new(&copy);
    let (cy_again, _) = copy_api.login("cy@example.com").await;
    assert_eq!(
        crate::ledger::balance(&copy_api, &cy_again, &account).await,
        3_500
    );
}

#[tokio::test]
async fn sigterm_under_load_keeps_every_acknowledged_transfer_and_signs_a_last_checkpoint() {
    // A long checkpoint interval: only the one signed at shutdown can cover the last postings.
    let server = crate::sqlite_server(&[("STRONGROOM__AUDIT__CHECKPOINT_SECS", "3600")]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("dee@example.com", PASSWORD).await.status(),
        201
    );
    let (dee, _) = api.login("dee@example.com").await;
    let account = open_account(&api, &dee, "EUR").await;
    let (url, client) = (
        server.internal_url.clone(),
        server.service_client("payments"),
    );
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (url, client, account) = (url.clone(), client.clone(), account.clone());
            tokio::spawn(async move {
                let mut acknowledged = 0_i64;
                for n in 0.. {
                    let sent = client
                        .post(format!("{url}/internal/v1/deposits"))
                        .header("idempotency-key", format!("term-{worker}-{n}"))
                        .json(&json!({"account_id": account, "amount": 100, "currency": "EUR", "external_ref": format!("term-{worker}-{n}")}))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 201 => acknowledged += 1,
                        // Refused while stopping (503) or the connection closed: stop here.
                        _ => return acknowledged,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    // SIGTERM, from a blocking thread so this runtime keeps serving the clients' connections.
    let dir = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("\"stopped\""), "not a graceful stop: {log}");
    let mut acknowledged = 0;
    for worker in workers {
        acknowledged += worker.await.unwrap();
    }
    assert!(acknowledged > 0);
    assert!(
        !dir.path().join("data/strongroom.db-wal").exists()
            || std::fs::metadata(dir.path().join("data/strongroom.db-wal"))
                .unwrap()
                .len()
                == 0,
        "the log was checkpointed at shutdown"
    );
    let db = dir.path().join("data/strongroom.db");
    let query = |sql: &str| {
        let out = Command::new("sqlite3").arg(&db).arg(sql).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        query("SELECT MAX(ledger_seq) FROM audit_checkpoints"),
        query("SELECT seq FROM ledger_head"),
        "the last signed checkpoint covers every posting"
    );
    let server = TestServer::serve_in(crate::binary(), dir, Database::Sqlite, &[]);
    let api = Api::new(&server);
    let (dee, _) = api.login("dee@example.com").await;
    let balance = crate::ledger::balance(&api, &dee, &account).await;
    assert!(
        balance >= 100 * acknowledged,
        "{balance} < {}",
        100 * acknowledged
    );
    let verified = cli(&server.config_path(), &["audit", "verify"], &[]);
    assert!(verified.status.success(), "{}", text(&verified));
}
