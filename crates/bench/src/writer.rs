//! `bench --writer-only`: the ledger writer alone, in this process: no HTTP, no TLS, no
//! tokens. The store's share of a posting's cost, measured where the server's own figures
//! cannot separate it: concurrent callers each posting one transfer at a time (the group
//! commit forms the batches, as it does for the HTTP path), and services' batches of
//! `rows::BATCH_LEN` (the batch endpoint's path). The CPU figure is this process's: the writer
//! thread, SQLite when embedded, and the tasks that build the requests (a few µs of it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ledger::batch::{IdempotencyRecord, PostingRequest};
use ledger::{Money, PostingKind};
use secrecy::SecretString;
use store::{AccountRecord, DatabaseLocation, LedgerWriter, PostingOutcome, Store, UserRecord};
use test_support::PgCluster;

use crate::rows::{BATCH_CLIENTS, BATCH_LEN, Cpu, per_transfer};

/// How often the WAL is checkpointed beside the writer, as the server's job does
/// (`app::jobs::WAL_CHECKPOINT_INTERVAL`).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Postings built so far: the time order of their ids.
static ORDER: AtomicU64 = AtomicU64::new(0);
/// When every posting says it was made (2026-12-24, milliseconds since the epoch).
const CREATED_AT: i64 = 1_798_070_400_000;

pub const HEADER: &str = "| store | workload (writer only, closed loop) | postings/s | process CPU µs per posting | PostgreSQL CPU µs per posting |";

/// A posting of `amount` between two of the accounts, as the HTTP path builds one.
fn posting(worker: usize, n: u64, from: usize, to: usize) -> PostingRequest {
    // Ids of UUID length that grow with time, like the server's UUIDv7; keys as random as a
    // client's.
    let order = ORDER.fetch_add(1, Ordering::Relaxed);
    let id = |part: u8| format!("{order:016x}-{worker:04x}-{part:x}{n:013x}");
    let key = format!(
        "{:016x}{:016x}",
        (n ^ ((worker as u64) << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        n.wrapping_mul(0xbf58_476d_1ce4_e5b9)
    );
    let transfer_id = id(0);
    let body = format!(
        r#"{{"id":"{transfer_id}","status":"posted","from_account_id":"a{from}","to_account_id":"a{to}","amount":1,"currency":"EUR","memo":null,"created_at":"2026-11-29T12:00:00.000Z"}}"#
    );
    PostingRequest {
        kind: PostingKind::Transfer,
        transfer_id,
        debit_entry_id: id(1),
        credit_entry_id: id(2),
        from_account_id: format!("a{from}"),
        to_account_id: format!("a{to}"),
        amount: Money::new(1).unwrap(),
        currency: "EUR".into(),
        memo: None,
        external_ref: None,
        initiated_by: format!("user:u{from}"),
        source_owner: Some(format!("u{from}")),
        reverses: None,
        created_at: CREATED_AT,
        idempotency: IdempotencyRecord {
            scope: format!("user:u{from}"),
            key,
            request_hash: vec![7; 32],
            response_body: body,
        },
        request_id: format!("req-{worker}-{n}"),
        ip: "192.0.2.7".into(),
    }
}

/// A migrated store with `accounts` funded customer accounts `a0..`, each its own user's.
async fn funded(store: &Store, accounts: usize) -> LedgerWriter {
    store.migrate().await.unwrap();
    store
        .ensure_settlement_accounts(&["EUR".into()], 1)
        .await
        .unwrap();
    let writer = LedgerWriter::start(store.clone()).unwrap();
    for i in 0..accounts {
        let user = UserRecord {
            id: format!("u{i}"),
            email: format!("writer{i}@example.com"),
            display_name: "Bench".into(),
            password_hash: "unused".into(),
            roles: "customer".into(),
            status: "active".into(),
            created_at: 1,
            email_verified_at: None,
        };
        store.create_user(&user).await.unwrap();
        let account = AccountRecord {
            id: format!("a{i}"),
            user_id: Some(format!("u{i}")),
            kind: "customer".into(),
            currency: "EUR".into(),
            balance: 0,
            held: 0,
            status: "active".into(),
            created_at: 1,
            name: None,
        };
        assert!(store.create_account(&account).await.unwrap());
        let mut fund = posting(usize::MAX >> 48, i as u64, i, i);
        fund.kind = PostingKind::Deposit;
        fund.from_account_id = "settlement-EUR".into();
        fund.initiated_by = "service:bench".into();
        fund.source_owner = None;
        fund.idempotency.scope = "service:bench".into();
        fund.amount = Money::new(1_000_000_000_000).unwrap();
        assert_eq!(writer.post(fund).await.unwrap(), PostingOutcome::Posted);
    }
    writer
}

/// `workers` callers each posting one transfer at a time for `seconds`; postings done.
async fn singles(writer: &LedgerWriter, accounts: usize, workers: usize, seconds: u64) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let (writer, done) = (writer.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = 0_u64;
                while Instant::now() < deadline {
                    let (from, to) = crate::spread(accounts, workers, worker, n as usize);
                    let outcome = writer.post(posting(worker, n, from, to)).await;
                    assert_eq!(outcome, Ok(PostingOutcome::Posted));
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// `BATCH_CLIENTS` services each posting non-atomic groups of `BATCH_LEN`; postings done.
async fn groups(writer: &LedgerWriter, accounts: usize, seconds: u64) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..BATCH_CLIENTS)
        .map(|client| {
            let (writer, done) = (writer.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = 0_u64;
                while Instant::now() < deadline {
                    let group = (0..BATCH_LEN)
                        .map(|i| {
                            let (from, to) = crate::spread(accounts, BATCH_LEN, i, n as usize);
                            n += 1;
                            posting(1_000 + client, n, from, to)
                        })
                        .collect();
                    let answers = writer.post_group(group, false).await.unwrap();
                    assert!(answers.iter().all(|a| *a == Ok(PostingOutcome::Posted)));
                    done.fetch_add(answers.len() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// The writer-only rows of one store.
pub async fn run(store_kind: &str, accounts: usize, workers: usize, seconds: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let cluster = (store_kind == "postgres").then(PgCluster::start_durable);
    let location = match &cluster {
        Some(cluster) => {
            let url = SecretString::from(cluster.create_database("writer"));
            DatabaseLocation::parse(&url, dir.path()).unwrap()
        }
        None => DatabaseLocation::SqliteFile(dir.path().join("writer.db")),
    };
    let store = Store::connect(&location).await.unwrap();
    let writer = funded(&store, accounts).await;
    let checkpoints = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CHECKPOINT_EVERY).await;
                let _ = store.checkpoint_wal().await;
            }
        })
    };
    let cpu = Cpu::of_pid(std::process::id());
    let database = cluster.as_ref().map(Cpu::of_cluster);
    let single = per_transfer(
        &cpu,
        database.as_ref(),
        singles(&writer, accounts, workers, seconds),
    )
    .await;
    let grouped = per_transfer(&cpu, database.as_ref(), groups(&writer, accounts, seconds)).await;
    checkpoints.abort();
    let per_second = |done: u64| done / seconds.max(1);
    vec![
        format!(
            "| {store_kind} | one posting per call, {workers} callers, {accounts} accounts | {} | {} |",
            per_second(single.done),
            single.cells()
        ),
        format!(
            "| {store_kind} | groups of {BATCH_LEN}, {BATCH_CLIENTS} callers (the batch endpoint's path) | {} | {} |",
            per_second(grouped.done),
            grouped.cells()
        ),
    ]
}
