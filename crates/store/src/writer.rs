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
//! queue order, so a batch can never overdraw; the writes are a few multi-row statements.
//! Idempotency keys are checked under the same lock and stored in the same transaction as the
//! posting, so a key and its money movement are committed together or not at all.

use std::collections::{HashMap, HashSet};

use ledger::{
    AccountKind, AccountState, Direction, EntryFacts, Money, Posting, PostingKind, Refusal, apply,
    entry_hash,
};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder};
use tokio::sync::{mpsc, oneshot};

use crate::{Pool, Store, StoreError};

/// Most postings applied in one transaction (bounded by the bind-parameter limits too:
/// 2 entries × 11 columns × 512 < SQLite's 32 766).
pub const WRITER_BATCH_MAX: usize = 512;
/// Postings that may wait for the writer; beyond this, callers are told to retry (503).
pub const WRITER_QUEUE_MAX: usize = 8_192;
/// Accounts the writer keeps in memory; the cache is dropped and refilled beyond this.
pub const WRITER_CACHE_ACCOUNTS_MAX: usize = 100_000;
/// The status stored for a successful posting's idempotency record.
pub const POSTED_STATUS: i32 = 201;

/// One money movement to post, already validated at the edge.
#[derive(Debug, Clone)]
pub struct PostingRequest {
    pub kind: PostingKind,
    pub transfer_id: String,
    pub debit_entry_id: String,
    pub credit_entry_id: String,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: Money,
    pub currency: String,
    pub memo: Option<String>,
    pub external_ref: Option<String>,
    /// `user:{id}` or `service:{name}`.
    pub initiated_by: String,
    /// For customer transfers: the user the source account must belong to.
    pub source_owner: Option<String>,
    pub created_at: i64,
    pub idempotency: IdempotencyRecord,
}

/// The idempotency key of a posting and the answer to store with it.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    /// `user:{id}` or `service:{name}`: keys of different callers never collide.
    pub scope: String,
    pub key: String,
    pub request_hash: Vec<u8>,
    /// The 201 body, replayed for a repeat of the same request.
    pub response_body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostingOutcome {
    Posted,
    /// Nothing moved and the key was not kept, so the request may be retried.
    Refused(Refusal),
    /// The key was used before with the same request: its original answer.
    Replayed {
        status: i32,
        body: String,
    },
    /// The key was used before with a different request.
    KeyReused,
    /// The key belongs to a request that has not finished.
    KeyInProgress,
}

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

struct Job {
    request: PostingRequest,
    reply: oneshot::Sender<Result<PostingOutcome, WriteError>>,
}

impl LedgerWriter {
    /// Spawns the writer task on the current runtime.
    pub fn start(store: Store) -> LedgerWriter {
        let (queue, jobs) = mpsc::channel(WRITER_QUEUE_MAX);
        tokio::spawn(run(Writer::new(store), jobs));
        LedgerWriter { queue }
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
            Err(error) if error.is_unavailable() || batch.len() == 1 => {
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
                // Something in the batch broke the transaction: post each alone so that only
                // the culprit fails.
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

enum WriteConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

type KeyRow = (String, String, Vec<u8>, String, Option<i32>, Option<String>);
/// A stored key's request hash, state, response status and body.
type StoredKey = (Vec<u8>, String, Option<i32>, Option<String>);
type AccountRow = (String, Option<String>, String, String, i64, String);

/// A posting that passed, with the balances after its two entries.
struct Passed<'a> {
    request: &'a PostingRequest,
    from_after: i64,
    to_after: i64,
}

struct EntryRow<'a> {
    seq: i64,
    id: &'a str,
    transfer_id: &'a str,
    account_id: &'a str,
    direction: Direction,
    amount: i64,
    balance_after: i64,
    currency: &'a str,
    created_at: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

struct Writer {
    store: Store,
    connection: Option<WriteConnection>,
    accounts: HashMap<String, AccountState>,
    /// The `ledger_head.generation` the cached accounts are exact for.
    generation: Option<i64>,
}

const LOCK_HEAD: &str = "UPDATE ledger_head SET generation = generation + 1 WHERE id = 1 RETURNING seq, hash, generation";
const UPDATE_HEAD: &str = "UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1";

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
            Pool::Sqlite(pool) => WriteConnection::Sqlite(pool.acquire().await?.detach()),
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
            WriteConnection::Sqlite(conn) => conn.apply_batch(self, requests).await,
            WriteConnection::Postgres(conn) => conn.apply_batch(self, requests).await,
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
}

/// The batch body, written once for both backends (both accept `$N` placeholders in plain
/// statements; `QueryBuilder` emits each backend's own).
macro_rules! apply_batch {
    ($writer:expr, $conn:expr, $requests:expr) => {{
        let writer: &mut Writer = $writer;
        let requests: &[&PostingRequest] = $requests;
        let mut tx = $conn.begin().await?;
        let (head_seq, head_hash, generation): (i64, Vec<u8>, i64) =
            sqlx::query_as(LOCK_HEAD).fetch_one(&mut *tx).await?;
        if writer.generation != generation.checked_sub(1)
            || writer.accounts.len() > WRITER_CACHE_ACCOUNTS_MAX
        {
            writer.accounts.clear();
        }

        let mut keys = QueryBuilder::new(
            "SELECT scope, key, request_hash, state, response_status, response_body \
             FROM idempotency_keys WHERE ",
        );
        for (index, request) in requests.iter().enumerate() {
            if index > 0 {
                keys.push(" OR ");
            }
            keys.push("(scope = ")
                .push_bind(request.idempotency.scope.as_str())
                .push(" AND key = ")
                .push_bind(request.idempotency.key.as_str())
                .push(")");
        }
        let stored: Vec<KeyRow> = keys
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;

        let missing = missing_accounts(&writer.accounts, requests);
        if !missing.is_empty() {
            let mut load = QueryBuilder::new(
                "SELECT id, user_id, kind, currency, balance, status FROM accounts WHERE id IN (",
            );
            let mut ids = load.separated(", ");
            for id in &missing {
                ids.push_bind(*id);
            }
            load.push(")");
            let rows: Vec<AccountRow> = load
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            cache_accounts(&mut writer.accounts, rows);
        }

        let (outcomes, passed, touched) = plan(&writer.accounts, requests, stored);
        if passed.is_empty() {
            tx.rollback().await?;
            writer.generation = generation.checked_sub(1);
            return Ok(outcomes);
        }
        let entries = chain(head_seq, head_hash, &passed)?;

        let mut transfers = QueryBuilder::new(
            "INSERT INTO transfers (id, kind, from_account_id, to_account_id, amount, currency, \
             memo, external_ref, initiated_by, created_at) ",
        );
        transfers.push_values(&passed, |mut row, passed| {
            let request = passed.request;
            row.push_bind(request.transfer_id.as_str())
                .push_bind(request.kind.as_str())
                .push_bind(request.from_account_id.as_str())
                .push_bind(request.to_account_id.as_str())
                .push_bind(request.amount.minor_units())
                .push_bind(request.currency.as_str())
                .push_bind(request.memo.as_deref())
                .push_bind(request.external_ref.as_deref())
                .push_bind(request.initiated_by.as_str())
                .push_bind(request.created_at);
        });
        transfers
            .build()
            .persistent(false)
            .execute(&mut *tx)
            .await?;

        let mut journal = QueryBuilder::new(
            "INSERT INTO entries (seq, id, transfer_id, account_id, direction, amount, \
             balance_after, currency, created_at, prev_hash, hash) ",
        );
        journal.push_values(&entries, |mut row, entry| {
            row.push_bind(entry.seq)
                .push_bind(entry.id)
                .push_bind(entry.transfer_id)
                .push_bind(entry.account_id)
                .push_bind(entry.direction.as_str())
                .push_bind(entry.amount)
                .push_bind(entry.balance_after)
                .push_bind(entry.currency)
                .push_bind(entry.created_at)
                .push_bind(entry.prev_hash.as_slice())
                .push_bind(entry.hash.as_slice());
        });
        journal.build().persistent(false).execute(&mut *tx).await?;

        let mut idempotency = QueryBuilder::new(
            "INSERT INTO idempotency_keys (scope, key, request_hash, state, response_status, \
             response_body, created_at) ",
        );
        idempotency.push_values(&passed, |mut row, passed| {
            let record = &passed.request.idempotency;
            row.push_bind(record.scope.as_str())
                .push_bind(record.key.as_str())
                .push_bind(record.request_hash.as_slice())
                .push_bind("done")
                .push_bind(POSTED_STATUS)
                .push_bind(record.response_body.as_str())
                .push_bind(passed.request.created_at);
        });
        idempotency
            .build()
            .persistent(false)
            .execute(&mut *tx)
            .await?;

        let mut balances = QueryBuilder::new("UPDATE accounts SET balance = CASE id");
        for (id, state) in &touched {
            balances
                .push(" WHEN ")
                .push_bind(*id)
                .push(" THEN ")
                .push_bind(state.balance);
        }
        balances.push(" END WHERE id IN (");
        let mut ids = balances.separated(", ");
        for id in touched.keys() {
            ids.push_bind(*id);
        }
        balances.push(")");
        let updated = balances
            .build()
            .persistent(false)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if usize::try_from(updated).ok() != Some(touched.len()) {
            return Err(StoreError::Invariant("an account of the batch disappeared"));
        }

        let (last_seq, last_hash) = entries
            .last()
            .map(|entry| (entry.seq, entry.hash.clone()))
            .ok_or(StoreError::Invariant("a posted batch has no entries"))?;
        sqlx::query(UPDATE_HEAD)
            .bind(last_seq)
            .bind(last_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let touched: Vec<(String, AccountState)> = touched
            .into_iter()
            .map(|(id, state)| (id.to_owned(), state))
            .collect();
        writer.accounts.extend(touched);
        writer.generation = Some(generation);
        Ok(outcomes)
    }};
}

/// The two connection types, each running the same batch body.
trait BatchConnection {
    async fn apply_batch(
        &mut self,
        writer: &mut Writer,
        requests: &[&PostingRequest],
    ) -> Result<Vec<PostingOutcome>, StoreError>;
}

impl BatchConnection for SqliteConnection {
    async fn apply_batch(
        &mut self,
        writer: &mut Writer,
        requests: &[&PostingRequest],
    ) -> Result<Vec<PostingOutcome>, StoreError> {
        apply_batch!(writer, self, requests)
    }
}

impl BatchConnection for PgConnection {
    async fn apply_batch(
        &mut self,
        writer: &mut Writer,
        requests: &[&PostingRequest],
    ) -> Result<Vec<PostingOutcome>, StoreError> {
        apply_batch!(writer, self, requests)
    }
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

/// Decides every posting of the batch in queue order against a working copy of the accounts
/// involved. Returns the outcomes, the postings that passed, and the new account states.
fn plan<'a>(
    cache: &HashMap<String, AccountState>,
    requests: &[&'a PostingRequest],
    stored: Vec<KeyRow>,
) -> (
    Vec<PostingOutcome>,
    Vec<Passed<'a>>,
    HashMap<&'a str, AccountState>,
) {
    let stored: HashMap<(String, String), StoredKey> = stored
        .into_iter()
        .map(|(scope, key, hash, state, status, body)| ((scope, key), (hash, state, status, body)))
        .collect();
    let mut working: HashMap<String, AccountState> = HashMap::new();
    for request in requests {
        for id in [&request.from_account_id, &request.to_account_id] {
            if let Some(state) = cache.get(id.as_str()) {
                working.insert(id.clone(), state.clone());
            }
        }
    }
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut passed: Vec<Passed<'a>> = Vec::new();
    // Keys posted earlier in this batch: their request hash and answer.
    let mut batch_keys: HashMap<(&str, &str), (&[u8], &str)> = HashMap::new();
    for request in requests {
        let record = &request.idempotency;
        let lookup = (record.scope.clone(), record.key.clone());
        if let Some((hash, state, status, body)) = stored.get(&lookup) {
            outcomes.push(match (state.as_str(), status, body) {
                _ if hash != &record.request_hash => PostingOutcome::KeyReused,
                ("done", Some(status), Some(body)) => PostingOutcome::Replayed {
                    status: *status,
                    body: body.clone(),
                },
                _ => PostingOutcome::KeyInProgress,
            });
            continue;
        }
        if let Some((hash, body)) = batch_keys.get(&(record.scope.as_str(), record.key.as_str())) {
            outcomes.push(if *hash == record.request_hash.as_slice() {
                PostingOutcome::Replayed {
                    status: POSTED_STATUS,
                    body: (*body).to_owned(),
                }
            } else {
                PostingOutcome::KeyReused
            });
            continue;
        }
        let posting = Posting {
            kind: request.kind,
            from: &request.from_account_id,
            to: &request.to_account_id,
            amount: request.amount,
            currency: &request.currency,
            source_owner: request.source_owner.as_deref(),
        };
        match apply(&mut working, &posting) {
            Ok((from_after, to_after)) => {
                batch_keys.insert(
                    (record.scope.as_str(), record.key.as_str()),
                    (
                        record.request_hash.as_slice(),
                        record.response_body.as_str(),
                    ),
                );
                passed.push(Passed {
                    request,
                    from_after,
                    to_after,
                });
                outcomes.push(PostingOutcome::Posted);
            }
            Err(refusal) => outcomes.push(PostingOutcome::Refused(refusal)),
        }
    }
    let mut touched = HashMap::new();
    for passed in &passed {
        for id in [
            &passed.request.from_account_id,
            &passed.request.to_account_id,
        ] {
            if let Some(state) = working.get(id.as_str()) {
                touched.insert(id.as_str(), state.clone());
            }
        }
    }
    (outcomes, passed, touched)
}

/// The two entries of each passed posting, hash-chained from the current head.
fn chain<'a>(
    head_seq: i64,
    head_hash: Vec<u8>,
    passed: &[Passed<'a>],
) -> Result<Vec<EntryRow<'a>>, StoreError> {
    let mut entries = Vec::with_capacity(passed.len().saturating_mul(2));
    let mut seq = head_seq;
    let mut previous = head_hash;
    for passed in passed {
        let request = passed.request;
        let sides = [
            (
                request.debit_entry_id.as_str(),
                request.from_account_id.as_str(),
                Direction::Debit,
                passed.from_after,
            ),
            (
                request.credit_entry_id.as_str(),
                request.to_account_id.as_str(),
                Direction::Credit,
                passed.to_after,
            ),
        ];
        for (id, account_id, direction, balance_after) in sides {
            seq = seq
                .checked_add(1)
                .ok_or(StoreError::Invariant("ledger sequence exhausted"))?;
            let facts = EntryFacts {
                seq,
                id,
                transfer_id: &request.transfer_id,
                account_id,
                direction,
                amount: request.amount.minor_units(),
                balance_after,
                currency: &request.currency,
                created_at: request.created_at,
            };
            let hash = entry_hash(&previous, &facts);
            entries.push(EntryRow {
                seq,
                id,
                transfer_id: &request.transfer_id,
                account_id,
                direction,
                amount: request.amount.minor_units(),
                balance_after,
                currency: &request.currency,
                created_at: request.created_at,
                prev_hash: std::mem::replace(&mut previous, hash.clone()),
                hash,
            });
        }
    }
    Ok(entries)
}
