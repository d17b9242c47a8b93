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
//! A service's batch (`post_group`) is decided in queue order and alone: not atomic, in
//! transactions of up to `WRITER_BATCH_MAX` like any queue batch; atomic, in one transaction
//! that is rolled back when any posting is refused.

use std::collections::HashMap;

use ledger::AccountState;
use ledger::batch::{self, BatchError, StoredKey, StoredRef};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

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
    queue: mpsc::Sender<Work>,
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

/// A service's batch: decided in order, alone (never mixed with other callers' postings);
/// `atomic`: in one transaction that commits only if every posting passes.
struct GroupJob {
    requests: Vec<PostingRequest>,
    atomic: bool,
    reply: oneshot::Sender<Vec<Result<PostingOutcome, WriteError>>>,
}

#[expect(
    clippy::large_enum_variant,
    reason = "single postings are the hot path: boxing them would allocate once per posting"
)]
enum Work {
    One(Job),
    Group(GroupJob),
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
            .try_send(Work::One(Job { request, reply }))
            .map_err(queue_error)?;
        answer.await.map_err(|_| WriteError::Failed)?
    }

    /// Queues a service's batch and waits for one answer per posting, in order. Not atomic:
    /// decided in order in transactions of up to `WRITER_BATCH_MAX`, each posting passing or
    /// refused alone. Atomic: one transaction, committed only when every posting passes (a
    /// replay counts as passing); otherwise nothing is written and the outcomes say which
    /// failed (those shown as posted were not).
    pub async fn post_group(
        &self,
        requests: Vec<PostingRequest>,
        atomic: bool,
    ) -> Result<Vec<Result<PostingOutcome, WriteError>>, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Work::Group(GroupJob {
                requests,
                atomic,
                reply,
            }))
            .map_err(queue_error)?;
        answer.await.map_err(|_| WriteError::Failed)
    }
}

fn queue_error<T>(error: mpsc::error::TrySendError<T>) -> WriteError {
    match error {
        mpsc::error::TrySendError::Full(_) => WriteError::Busy,
        mpsc::error::TrySendError::Closed(_) => WriteError::Unavailable,
    }
}

async fn run(mut writer: Writer, mut queue: mpsc::Receiver<Work>) {
    let mut received = Vec::with_capacity(WRITER_BATCH_MAX);
    let mut batch = Vec::with_capacity(WRITER_BATCH_MAX);
    while queue.recv_many(&mut received, WRITER_BATCH_MAX).await > 0 {
        for work in received.drain(..) {
            match work {
                Work::One(job) => batch.push(job),
                Work::Group(group) => {
                    // Postings queued before the group are decided before it.
                    post_jobs(&mut writer, &mut batch).await;
                    post_group(&mut writer, group).await;
                }
            }
        }
        post_jobs(&mut writer, &mut batch).await;
    }
}

/// A group: atomic in one `apply`; otherwise in chunks, each like a queue batch.
async fn post_group(writer: &mut Writer, group: GroupJob) {
    let GroupJob {
        requests,
        atomic,
        reply,
    } = group;
    let answers = if atomic {
        let refs: Vec<&PostingRequest> = requests.iter().collect();
        match timed_apply(writer, &refs, true).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(error) => {
                tracing::error!(error = %error, postings = refs.len(), "atomic ledger batch failed");
                let answer = failure(&error);
                refs.iter().map(|_| Err(answer)).collect()
            }
        }
    } else {
        let mut answers = Vec::with_capacity(requests.len());
        let mut requests = requests.into_iter();
        loop {
            let mut chunk: Vec<Job> = Vec::with_capacity(WRITER_BATCH_MAX);
            let mut waiting = Vec::with_capacity(WRITER_BATCH_MAX);
            for request in requests.by_ref().take(WRITER_BATCH_MAX) {
                let (reply, answer) = oneshot::channel();
                chunk.push(Job { request, reply });
                waiting.push(answer);
            }
            if chunk.is_empty() {
                break;
            }
            post_jobs(writer, &mut chunk).await;
            for answer in waiting {
                answers.push(answer.await.unwrap_or(Err(WriteError::Failed)));
            }
        }
        answers
    };
    let _ = reply.send(answers);
}

fn failure(error: &StoreError) -> WriteError {
    if error.is_unavailable() {
        WriteError::Unavailable
    } else {
        WriteError::Failed
    }
}

/// Posts the queued single postings as one batch (or, if the batch breaks, one by one) and
/// answers each; leaves `batch` empty.
async fn post_jobs(writer: &mut Writer, batch: &mut Vec<Job>) {
    if batch.is_empty() {
        return;
    }
    let requests: Vec<&PostingRequest> = batch.iter().map(|job| &job.request).collect();
    let result = timed_apply(writer, &requests, false).await;
    drop(requests);
    match result {
        Ok(outcomes) => {
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(error) if error.is_unavailable() => {
            tracing::error!(error = %error, postings = batch.len(), "ledger batch failed");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(WriteError::Unavailable));
            }
        }
        Err(error) => {
            // Something in the batch broke the transaction (or the balances no longer
            // matched the cache, which `apply` has dropped): post each alone, from fresh
            // reads, so that only a culprit fails.
            tracing::warn!(error = %error, postings = batch.len(), "ledger batch failed; retrying postings one by one");
            for job in batch.drain(..) {
                let answer = match writer.apply_with(&[&job.request], false).await {
                    Ok(mut outcomes) => outcomes.pop().ok_or(WriteError::Failed),
                    Err(error) => {
                        tracing::error!(error = %error, "ledger posting failed");
                        Err(failure(&error))
                    }
                };
                let _ = job.reply.send(answer);
            }
        }
    }
}

/// `apply_with`, recorded in the batch size and time histograms.
async fn timed_apply(
    writer: &mut Writer,
    requests: &[&PostingRequest],
    atomic: bool,
) -> Result<Vec<PostingOutcome>, StoreError> {
    metrics::histogram!("strongroom_ledger_batch_postings").record(requests.len() as f64);
    let started = std::time::Instant::now();
    let result = writer.apply_with(requests, atomic).await;
    metrics::histogram!("strongroom_ledger_batch_seconds").record(started.elapsed());
    result
}

mod fast;
mod holds;
mod reads;
mod rows;
mod sql;

pub use holds::{HoldCheckRecord, HoldOutcome, HoldRecord, HoldSnapshot, HoldVoid, NewHold};

use reads::{cache_accounts, missing_accounts, stored_keys, stored_refs};
use rows::{to_json, writes};
use sql::BatchSql;

enum WriteConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

type KeyRow = (String, String, Vec<u8>, String, Option<String>);
type RefRow = (String, String, String, String);
type AccountRow = (String, Option<String>, String, String, i64, i64, String);

struct Writer {
    store: Store,
    connection: Option<WriteConnection>,
    accounts: HashMap<String, AccountState>,
    /// Both heads as this writer's last transaction left them, with the
    /// `ledger_head.generation` the cached accounts are exact for: what the next batch checks
    /// the cache against, and what the PostgreSQL fast path decides from.
    heads: Option<sql::Heads>,
    /// Batches to send the general way before trying the fast path again.
    fast_backoff: u32,
}

impl Writer {
    fn new(store: Store) -> Writer {
        Writer {
            store,
            connection: None,
            accounts: HashMap::new(),
            heads: None,
            fast_backoff: 0,
        }
    }

    async fn connect(&self) -> Result<WriteConnection, StoreError> {
        Ok(match &self.store.pool {
            Pool::Sqlite(pool) => {
                let mut connection = pool.acquire().await?.detach();
                // Checkpoints run beside the writer (`Store::checkpoint_wal`), not in its
                // commits, where one would stall every posting of the batch; the writer only
                // restarts the log between batches (`Store::restart_wal`).
                sqlx::query("PRAGMA wal_autocheckpoint = 0")
                    .execute(&mut connection)
                    .await?;
                WriteConnection::Sqlite(connection)
            }
            Pool::Postgres(pool) => {
                let mut connection = pool.acquire().await?.detach();
                sqlx::raw_sql(sql::POSTGRES_WRITER_SESSION)
                    .execute(&mut connection)
                    .await?;
                WriteConnection::Postgres(connection)
            }
        })
    }

    /// Posts a batch in one transaction (`atomic`: only if every posting passes). On error
    /// nothing was written and the cache and connection are dropped (they may no longer match
    /// the database).
    async fn apply_with(
        &mut self,
        requests: &[&PostingRequest],
        atomic: bool,
    ) -> Result<Vec<PostingOutcome>, StoreError> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        let result = match &mut connection {
            WriteConnection::Sqlite(conn) => {
                if let Err(error) = self.store.restart_wal(conn).await {
                    tracing::warn!(%error, "WAL restart failed; retrying later");
                }
                apply_batch(conn, self, requests, atomic).await
            }
            WriteConnection::Postgres(conn) => apply_batch(conn, self, requests, atomic).await,
        };
        match result {
            Ok(outcomes) => {
                self.connection = Some(connection);
                Ok(outcomes)
            }
            Err(error) => {
                self.accounts.clear();
                self.heads = None;
                Err(error)
            }
        }
    }

    /// Under the head lock: the cache is exact only if nobody wrote since our last commit.
    fn check_generation(&mut self, generation: i64) {
        if self.heads.as_ref().map(|heads| heads.generation) != generation.checked_sub(1)
            || self.accounts.len() > WRITER_CACHE_ACCOUNTS_MAX
        {
            self.accounts.clear();
        }
    }

    /// After a commit: the cache takes the new balances, and the heads as the commit left
    /// them.
    fn committed(&mut self, heads: sql::Heads, touched: Vec<(String, AccountState)>) {
        self.accounts.extend(touched);
        self.heads = Some(heads);
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
    atomic: bool,
) -> Result<Vec<PostingOutcome>, StoreError> {
    if C::ONE_ROUND_TRIP
        && let Some(outcomes) = fast::post(conn, writer, requests, atomic).await?
    {
        return Ok(outcomes);
    }
    let mut timer = BatchTimer::start();
    let sql::Heads {
        ledger: (head_seq, head_hash),
        generation,
        audit: audit_head,
    } = conn.begin_and_lock().await?;
    timer.phase(0);
    writer.check_generation(generation);
    let stored = stored_keys(conn, requests).await?;
    let refs = stored_refs(conn, requests).await?;
    timer.phase(1);
    let missing = missing_accounts(&writer.accounts, requests);
    if !missing.is_empty() {
        let rows = conn.load_accounts(to_json(&missing)?).await?;
        cache_accounts(&mut writer.accounts, rows);
    }
    let decision = decide(
        &writer.accounts,
        &stored,
        &refs,
        (head_seq, &head_hash),
        requests,
    )?;
    timer.phase(2);
    if !writes_anything(&decision, atomic) {
        // Nothing to write, or an atomic batch with a refusal (whose keys are not kept: the
        // batch may be sent again once its cause is fixed): roll back the head's bump, so the
        // cache stays exact for the generation before it.
        conn.end(false).await?;
        writer.heads = generation.checked_sub(1).map(|generation| sql::Heads {
            ledger: (head_seq, head_hash.clone()),
            generation,
            audit: audit_head,
        });
        return Ok(decision.outcomes);
    }
    let writes = writes(&decision, (head_seq, &head_hash), audit_head)?;
    if conn.write(&writes).await? != writes.expected_rows {
        return Err(StoreError::Invariant(
            "a batch wrote an unexpected number of rows",
        ));
    }
    timer.phase(3);
    conn.end(true).await?;
    timer.phase(4);
    timer.finish(requests.len());
    writer.committed(writes.heads_after(generation), touched(decision.touched));
    Ok(decision.outcomes)
}

/// `batch::decide`, its broken invariants as store errors.
fn decide<'a>(
    accounts: &HashMap<String, AccountState>,
    stored: &[StoredKey],
    refs: &[StoredRef],
    head: (i64, &[u8]),
    requests: &[&'a PostingRequest],
) -> Result<batch::Decision<'a>, StoreError> {
    batch::decide(accounts, stored, refs, head, requests).map_err(|error| match error {
        BatchError::SequenceExhausted => StoreError::Invariant("ledger sequence exhausted"),
        BatchError::Unbalanced => StoreError::Invariant("a decided transfer does not net to zero"),
        BatchError::BalanceDrift => {
            StoreError::Invariant("a balance moved by other than its entries")
        }
    })
}

/// Whether a decided batch is written: not when it has nothing new, nor when it is atomic and
/// a posting was refused.
fn writes_anything(decision: &batch::Decision<'_>, atomic: bool) -> bool {
    let refused = |outcome: &PostingOutcome| {
        !matches!(
            outcome,
            PostingOutcome::Posted | PostingOutcome::Replayed { .. }
        )
    };
    let nothing_new = decision.passed.is_empty() && decision.refused.is_empty();
    !(nothing_new || (atomic && decision.outcomes.iter().any(refused)))
}

/// The accounts a committed batch changed, for the cache.
fn touched(touched: Vec<batch::Touched<'_>>) -> Vec<(String, AccountState)> {
    touched
        .into_iter()
        .map(|touched| (touched.id.to_owned(), touched.state))
        .collect()
}
