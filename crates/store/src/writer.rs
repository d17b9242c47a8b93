//! The ledger's single writer: one task owns a dedicated write connection and posts every
//! money movement. It drains its queue (up to `WRITER_BATCH_MAX` postings), applies the batch
//! in one transaction — one commit, one fsync — and answers each caller individually; a
//! refused posting fails alone and the others of its batch still post.
//!
//! Each batch first takes the chain-head row lock and bumps `ledger_head.generation`, which
//! serialises writers across instances sharing a PostgreSQL database. The writer caches account
//! states (balance, owner, kind, currency, status); the cache is exact while the generation it
//! finds is the one after its own last commit, and is dropped otherwise (another instance, or a
//! status change, wrote in between). Balance checks then run in memory (`ledger::apply`), in
//! queue order, so a batch can never overdraw (`ledger::batch::decide`, which also asserts
//! that every decided transfer nets to zero before anything is written); the writes are a few
//! multi-row statements. One batch function runs on both backends over `BatchSql`, a small
//! trait holding each backend's statements.
//! Idempotency keys are checked under the same lock and stored in the same transaction as the
//! posting, so a key and its money movement are committed together or not at all.

use std::collections::{HashMap, HashSet};

use ledger::batch::{self, BatchError, Decision, StoredKey};
use ledger::{AccountKind, AccountState};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use crate::audit::{ActorKind, AuditEntry};
use crate::{Pool, Store, StoreError};

pub use crate::limits::{WRITER_BATCH_MAX, WRITER_CACHE_ACCOUNTS_MAX, WRITER_QUEUE_MAX};
pub use ledger::batch::{IdempotencyRecord, Outcome as PostingOutcome, PostingRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("the ledger writer's queue is full")]
    Busy,
    #[error("the database is unavailable")]
    Unavailable,
    #[error("the posting could not be written")]
    Failed,
}

/// A handle on the writer task; cheap to clone.
#[derive(Clone)]
pub struct LedgerWriter {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for LedgerWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerWriter")
            .field(
                "queued",
                &self
                    .queue
                    .max_capacity()
                    .saturating_sub(self.queue.capacity()),
            )
            .finish()
    }
}

impl LedgerWriter {
    /// Postings waiting in the queue now.
    pub fn queued(&self) -> usize {
        self.queue
            .max_capacity()
            .saturating_sub(self.queue.capacity())
    }
}

struct Job {
    request: PostingRequest,
    reply: oneshot::Sender<Result<PostingOutcome, WriteError>>,
}

impl LedgerWriter {
    /// Starts the writer on its own thread with its own single-threaded runtime: between two
    /// statements of a batch it must not wait in the request tasks' run queue, or every
    /// posting in the batch waits with it.
    pub fn start(store: Store) -> std::io::Result<LedgerWriter> {
        let (queue, jobs) = mpsc::channel(WRITER_QUEUE_MAX);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("ledger-writer".to_owned())
            .spawn(move || runtime.block_on(run(Writer::new(store), jobs)))?;
        Ok(LedgerWriter { queue })
    }

    /// Queues a posting and waits until it is committed (or refused). If the caller goes
    /// away meanwhile, the posting still completes and its key answers the retry.
    pub async fn post(&self, request: PostingRequest) -> Result<PostingOutcome, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { request, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => WriteError::Busy,
                mpsc::error::TrySendError::Closed(_) => WriteError::Unavailable,
            })?;
        answer.await.map_err(|_| WriteError::Failed)?
    }
}

async fn run(mut writer: Writer, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(WRITER_BATCH_MAX);
    while jobs.recv_many(&mut batch, WRITER_BATCH_MAX).await > 0 {
        metrics::histogram!("strongroom_ledger_batch_postings").record(batch.len() as f64);
        let requests: Vec<&PostingRequest> = batch.iter().map(|job| &job.request).collect();
        let started = std::time::Instant::now();
        let result = writer.apply(&requests).await;
        metrics::histogram!("strongroom_ledger_batch_seconds").record(started.elapsed());
        drop(requests);
        match result {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(error) if error.is_unavailable() => {
                tracing::error!(error = %error, postings = batch.len(), "ledger batch failed");
                let answer = if error.is_unavailable() {
                    WriteError::Unavailable
                } else {
                    WriteError::Failed
                };
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(answer));
                }
            }
            Err(error) => {
                // Something in the batch broke the transaction (or the balances no longer
                // matched the cache, which `apply` has dropped): post each alone, from fresh
                // reads, so that only a culprit fails.
                tracing::warn!(error = %error, postings = batch.len(), "ledger batch failed; retrying postings one by one");
                for job in batch.drain(..) {
                    let outcome = writer.apply(&[&job.request]).await;
                    let answer = match outcome {
                        Ok(mut outcomes) => outcomes.pop().ok_or(WriteError::Failed),
                        Err(error) => {
                            tracing::error!(error = %error, "ledger posting failed");
                            Err(if error.is_unavailable() {
                                WriteError::Unavailable
                            } else {
                                WriteError::Failed
                            })
                        }
                    };
                    let _ = job.reply.send(answer);
                }
            }
        }
    }
}

mod sql;

use sql::{BatchSql, Writes};

enum WriteConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

type KeyRow = (String, String, Vec<u8>, String, Option<String>);
type AccountRow = (String, Option<String>, String, String, i64, String);

struct Writer {
    store: Store,
    connection: Option<WriteConnection>,
    accounts: HashMap<String, AccountState>,
    /// The `ledger_head.generation` the cached accounts are exact for.
    generation: Option<i64>,
}

impl Writer {
    fn new(store: Store) -> Writer {
        Writer {
            store,
            connection: None,
            accounts: HashMap::new(),
            generation: None,
        }
    }

    async fn connect(&self) -> Result<WriteConnection, StoreError> {
        Ok(match &self.store.pool {
            Pool::Sqlite(pool) => {
                let mut connection = pool.acquire().await?.detach();
                // Checkpoints run beside the writer (`Store::checkpoint_wal`), not in its
                // commits, where one would stall every posting of the batch.
                sqlx::query("PRAGMA wal_autocheckpoint = 0")
                    .execute(&mut connection)
                    .await?;
                WriteConnection::Sqlite(connection)
            }
            Pool::Postgres(pool) => WriteConnection::Postgres(pool.acquire().await?.detach()),
        })
    }

    /// Posts a batch in one transaction. On error nothing was written and the cache and
    /// connection are dropped (they may no longer match the database).
    async fn apply(
        &mut self,
        requests: &[&PostingRequest],
    ) -> Result<Vec<PostingOutcome>, StoreError> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        let result = match &mut connection {
            WriteConnection::Sqlite(conn) => apply_batch(conn, self, requests).await,
            WriteConnection::Postgres(conn) => apply_batch(conn, self, requests).await,
        };
        match result {
            Ok(outcomes) => {
                self.connection = Some(connection);
                Ok(outcomes)
            }
            Err(error) => {
                self.accounts.clear();
                self.generation = None;
                Err(error)
            }
        }
    }

    /// Under the head lock: the cache is exact only if nobody wrote since our last commit.
    fn check_generation(&mut self, generation: i64) {
        if self.generation != generation.checked_sub(1)
            || self.accounts.len() > WRITER_CACHE_ACCOUNTS_MAX
        {
            self.accounts.clear();
        }
    }

    /// After a commit: the cache takes the new balances and the generation.
    fn committed(&mut self, generation: i64, touched: Vec<(String, AccountState)>) {
        self.accounts.extend(touched);
        self.generation = Some(generation);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Invariant("batch rows do not encode"))
}

/// The rows of a decided batch. A balance is written only if it still holds the value it was
/// decided from (compare-and-set). Rows expected: a transfer, a key and an audit record per
/// posting, the entries, the balances, and both heads.
fn writes(decision: &Decision<'_>, audit_head: (i64, Vec<u8>)) -> Result<Writes, StoreError> {
    let transfers: Vec<serde_json::Value> = decision
        .passed
        .iter()
        .map(|request| {
            serde_json::json!([
                request.transfer_id,
                request.kind.as_str(),
                request.from_account_id,
                request.to_account_id,
                request.amount.minor_units(),
                request.currency,
                request.memo,
                request.external_ref,
                request.initiated_by,
                request.created_at,
            ])
        })
        .collect();
    let journal: Vec<serde_json::Value> = decision
        .entries
        .iter()
        .map(|entry| {
            serde_json::json!([
                entry.seq,
                entry.id,
                entry.transfer_id,
                entry.account_id,
                entry.direction.as_str(),
                entry.amount,
                entry.balance_after,
                entry.currency,
                entry.created_at,
                hex(&entry.prev_hash),
                hex(&entry.hash),
            ])
        })
        .collect();
    let keys = key_rows(decision);
    let balances: Vec<serde_json::Value> = decision
        .touched
        .iter()
        .map(|touched| {
            serde_json::json!([touched.id, touched.state.balance, touched.balance_before])
        })
        .collect();
    let (last_seq, last_hash) = decision
        .head()
        .ok_or(StoreError::Invariant("a posted batch has no entries"))?;
    let (audit, audit_seq, audit_hash) = audit_rows(decision, audit_head)?;
    let expected_rows = decision
        .passed
        .len()
        .saturating_mul(3)
        .saturating_add(decision.entries.len())
        .saturating_add(decision.touched.len())
        .saturating_add(2);
    Ok(Writes {
        audit,
        audit_seq,
        audit_hash,
        transfers: to_json(&transfers)?,
        entries: to_json(&journal)?,
        keys: to_json(&keys)?,
        balances: to_json(&balances)?,
        last_seq,
        last_hash: last_hash.to_vec(),
        expected_rows: u64::try_from(expected_rows).unwrap_or(u64::MAX),
    })
}

/// The idempotency keys of the passed postings, with their answers.
fn key_rows(decision: &Decision<'_>) -> Vec<serde_json::Value> {
    decision
        .passed
        .iter()
        .map(|request| {
            let record = &request.idempotency;
            serde_json::json!([
                record.scope,
                record.key,
                hex(&record.request_hash),
                record.response_body,
                request.created_at,
            ])
        })
        .collect()
}

/// The passed postings' audit records, chained from the audit head: their rows as JSON and
/// the new head.
fn audit_rows(
    decision: &Decision<'_>,
    audit_head: (i64, Vec<u8>),
) -> Result<(String, i64, Vec<u8>), StoreError> {
    let entries: Vec<AuditEntry> = decision.passed.iter().map(|r| posting_audit(r)).collect();
    let records = crate::audit::chain(audit_head, &entries)?;
    let (seq, hash) = records
        .last()
        .map(|record| (record.seq, record.hash.clone()))
        .ok_or(StoreError::Invariant("a posted batch has no audit records"))?;
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!([
                r.seq,
                r.at,
                r.actor_kind,
                r.actor_id,
                r.action,
                r.target,
                r.outcome,
                r.request_id,
                r.ip,
                r.details,
                hex(&r.prev_hash),
                hex(&r.hash),
            ])
        })
        .collect();
    Ok((to_json(&rows)?, seq, hash))
}

/// The audit record of a posting: who asked (`user:ID`, `service:NAME`), what moved.
fn posting_audit(request: &PostingRequest) -> AuditEntry {
    let (actor_kind, actor_id) = match request.initiated_by.split_once(':') {
        Some(("user", id)) => (ActorKind::User, id),
        Some(("service", name)) => (ActorKind::Service, name),
        Some(("operator", name)) => (ActorKind::Operator, name),
        _ => (ActorKind::System, request.initiated_by.as_str()),
    };
    AuditEntry {
        at: request.created_at,
        actor_kind,
        actor_id: actor_id.to_owned(),
        action: format!("ledger.{}", request.kind.as_str()),
        target: format!("transfer:{}", request.transfer_id),
        outcome: "success",
        request_id: request.request_id.clone(),
        ip: request.ip.clone(),
        details: serde_json::json!({
            "from_account_id": request.from_account_id,
            "to_account_id": request.to_account_id,
            "amount": request.amount.minor_units(),
            "currency": request.currency,
        })
        .to_string(),
    }
}

/// A batch slower than this is logged with the time each phase took.
pub const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(50);

/// Times the phases of one batch (lock, idempotency keys, accounts and decisions, writes,
/// commit) for the slow-batch warning.
struct BatchTimer {
    started: std::time::Instant,
    last: std::time::Instant,
    phases_us: [u128; 5],
}

impl BatchTimer {
    fn start() -> BatchTimer {
        let now = std::time::Instant::now();
        BatchTimer {
            started: now,
            last: now,
            phases_us: [0; 5],
        }
    }

    fn phase(&mut self, index: usize) {
        let now = std::time::Instant::now();
        if let Some(slot) = self.phases_us.get_mut(index) {
            *slot = now.duration_since(self.last).as_micros();
        }
        self.last = now;
    }

    fn finish(&self, postings: usize) {
        let total = self.started.elapsed();
        if total >= SLOW_BATCH {
            let [lock, keys, decide, writes, commit] = self.phases_us;
            tracing::warn!(
                postings,
                total_us = total.as_micros(),
                lock_us = lock,
                keys_us = keys,
                decide_us = decide,
                writes_us = writes,
                commit_us = commit,
                "slow ledger batch"
            );
        }
    }
}

/// One batch on either backend: lock, read keys and missing accounts, decide, write, commit.
async fn apply_batch<C: BatchSql>(
    conn: &mut C,
    writer: &mut Writer,
    requests: &[&PostingRequest],
) -> Result<Vec<PostingOutcome>, StoreError> {
    let mut timer = BatchTimer::start();
    let sql::Heads {
        ledger: (head_seq, head_hash),
        generation,
        audit: audit_head,
    } = conn.begin_and_lock().await?;
    timer.phase(0);
    writer.check_generation(generation);
    let stored: Vec<StoredKey> = conn
        .find_keys(key_lookups(requests)?)
        .await?
        .into_iter()
        .map(
            |(scope, key, request_hash, state, response_body)| StoredKey {
                scope,
                key,
                request_hash,
                state,
                response_body,
            },
        )
        .collect();
    timer.phase(1);
    let missing = missing_accounts(&writer.accounts, requests);
    if !missing.is_empty() {
        let rows = conn.load_accounts(to_json(&missing)?).await?;
        cache_accounts(&mut writer.accounts, rows);
    }
    let decision = batch::decide(&writer.accounts, &stored, (head_seq, &head_hash), requests)
        .map_err(|error| match error {
            BatchError::SequenceExhausted => StoreError::Invariant("ledger sequence exhausted"),
            BatchError::Unbalanced => {
                StoreError::Invariant("a decided transfer does not net to zero")
            }
            BatchError::BalanceDrift => {
                StoreError::Invariant("a balance moved by other than its entries")
            }
        })?;
    timer.phase(2);
    if decision.passed.is_empty() {
        conn.end(false).await?;
        writer.generation = generation.checked_sub(1);
        return Ok(decision.outcomes);
    }
    let writes = writes(&decision, audit_head)?;
    if conn.write(&writes).await? != writes.expected_rows {
        return Err(StoreError::Invariant(
            "a batch wrote an unexpected number of rows",
        ));
    }
    timer.phase(3);
    conn.end(true).await?;
    timer.phase(4);
    timer.finish(requests.len());
    let touched = decision
        .touched
        .into_iter()
        .map(|touched| (touched.id.to_owned(), touched.state))
        .collect();
    writer.committed(generation, touched);
    Ok(decision.outcomes)
}

fn key_lookups(requests: &[&PostingRequest]) -> Result<String, StoreError> {
    let lookups: Vec<[&str; 2]> = requests
        .iter()
        .map(|request| {
            [
                request.idempotency.scope.as_str(),
                request.idempotency.key.as_str(),
            ]
        })
        .collect();
    to_json(&lookups)
}

/// Account ids the batch names that the cache does not hold.
fn missing_accounts<'a>(
    cache: &HashMap<String, AccountState>,
    requests: &[&'a PostingRequest],
) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    requests
        .iter()
        .flat_map(|request| {
            [
                request.from_account_id.as_str(),
                request.to_account_id.as_str(),
            ]
        })
        .filter(|id| !cache.contains_key(*id) && seen.insert(*id))
        .collect()
}

fn cache_accounts(cache: &mut HashMap<String, AccountState>, rows: Vec<AccountRow>) {
    for (id, user_id, kind, currency, balance, status) in rows {
        // An account of a kind this build does not know cannot take part in postings.
        let Some(kind) = AccountKind::parse(&kind) else {
            continue;
        };
        // A closed account (its owner closed their account) takes part in no posting.
        if status == "closed" {
            continue;
        }
        cache.insert(
            id,
            AccountState {
                user_id,
                kind,
                currency,
                balance,
                active: status == "active",
            },
        );
    }
}
