//! The ledger writer's statements, per backend, behind `BatchSql`: the batch function in
//! `writer.rs` is the same on SQLite and PostgreSQL.

use sqlx::Row;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

use super::{AccountRow, KeyRow, RefRow};
use crate::StoreError;

// The batch statements take their rows as JSON array parameters, so their text never changes
// and they stay prepared on the writer's connection whatever the batch size; blobs travel
// hex-encoded. Each backend needs few round trips per batch: under full CPU every round trip
// to the database can wait for a time slice, and the whole batch waits with it. SQLite walks
// them with `jsonb_each`, whose rows are binary JSON: each `value ->> N` then reads the row
// in place, where `json_each`'s text rows were parsed again for every column.

/// SQLite: open the write transaction and lock the chain head in one round trip (the write
/// lock covers the audit head too).
const SQLITE_BEGIN_AND_LOCK: &str = "BEGIN IMMEDIATE; \
    UPDATE ledger_head SET generation = generation + 1 WHERE id = 1 RETURNING seq, hash, \
    generation, (SELECT seq FROM audit_head WHERE id = 1), (SELECT hash FROM audit_head WHERE id = 1)";
/// `[[scope, key], ...]` → stored keys.
const SQLITE_FIND_KEYS: &str = "SELECT k.scope, k.key, k.request_hash, k.state, \
    k.response_body FROM jsonb_each($1) AS j JOIN idempotency_keys AS k \
    ON k.scope = j.value ->> 0 AND k.key = j.value ->> 1";
/// `[[initiated_by, kind, external_ref], ...]` → the movements already posted with them,
/// oldest first (so that, for a reference duplicated before it was unique, the first is the
/// original). Uses `transfers_by_external_ref`, whose rows all have a reference.
const SQLITE_FIND_REFS: &str = "SELECT t.initiated_by, t.kind, t.external_ref, t.id \
    FROM jsonb_each($1) AS j JOIN transfers AS t ON t.initiated_by = j.value ->> 0 \
    AND t.kind = j.value ->> 1 AND t.external_ref = j.value ->> 2 \
    WHERE t.external_ref IS NOT NULL ORDER BY t.created_at, t.id";
/// `[[*, reversal, transfer_id], ...]` → the reversals already posted of those transfers, as
/// `find_refs` rows keyed by any caller.
const SQLITE_FIND_REVERSALS: &str = "SELECT '*', 'reversal', t.reverses, t.id \
    FROM jsonb_each($1) AS j JOIN transfers AS t ON t.reverses = j.value ->> 2";
/// `[id, ...]` → account rows.
/// A customer account whose owner is quarantined or locked cannot send: its status reads so.
const SQLITE_LOAD_ACCOUNTS: &str = "SELECT a.id, a.user_id, a.kind, a.currency, a.balance, a.held, \
    CASE WHEN u.status IN ('quarantined', 'locked') THEN u.status ELSE a.status END \
    FROM accounts AS a LEFT JOIN users AS u ON u.id = a.user_id \
    WHERE a.id IN (SELECT value FROM jsonb_each($1))";
/// Every write of a batch in one round trip: transfers ($1) and their `transfer_posted` events
/// (and a reversal's `transfer_reversed` after it; in posting order, so event ids follow the
/// chain), entries ($2), idempotency keys
/// ($3), balances ($4), chain head ($5, $6), audit records ($7) and the audit head ($8, $9). Row shapes as in `Writer::decide`. A balance is
/// set only if it still holds the value the writer computed from (compare-and-set): a cache
/// that drifted from the database fails the batch, which drops the cache and posts each
/// request again from fresh reads, instead of writing a wrong balance.
const SQLITE_WRITES: &str = "\
    INSERT INTO transfers (id, kind, from_account_id, to_account_id, amount, currency, memo, \
    external_ref, initiated_by, created_at, reverses) SELECT value ->> 0, value ->> 1, \
    value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, \
    value ->> 9, value ->> 10 FROM jsonb_each($1); \
    INSERT INTO ledger_events (kind, transfer_id, created_at) SELECT e.kind, value ->> 0, \
    value ->> 9 FROM jsonb_each($1) CROSS JOIN (SELECT 'transfer_posted' AS kind, 1 AS o \
    UNION ALL SELECT 'transfer_reversed', 2) AS e WHERE e.o = 1 OR value ->> 10 IS NOT NULL \
    ORDER BY key, e.o; \
    INSERT INTO entries (seq, id, transfer_id, account_id, direction, amount, balance_after, \
    currency, created_at, prev_hash, hash) SELECT value ->> 0, value ->> 1, value ->> 2, \
    value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, \
    unhex(value ->> 9), unhex(value ->> 10) FROM jsonb_each($2); \
    INSERT INTO idempotency_keys (scope, key, request_hash, state, response_status, \
    response_body, created_at) SELECT value ->> 0, value ->> 1, unhex(value ->> 2), \
    value ->> 3, NULL, value ->> 4, value ->> 5 FROM jsonb_each($3); \
    UPDATE accounts SET balance = j.value ->> 1 FROM jsonb_each($4) AS j \
    WHERE accounts.id = j.value ->> 0 AND accounts.balance = j.value ->> 2; \
    UPDATE ledger_head SET seq = $5, hash = $6 WHERE id = 1; \
    INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, target, outcome, request_id, \
    ip, details, prev_hash, hash) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, \
    value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, \
    unhex(value ->> 10), unhex(value ->> 11) FROM jsonb_each($7); \
    UPDATE audit_head SET seq = $8, hash = $9 WHERE id = 1";

/// The writer's PostgreSQL session: every statement it runs looks rows up by key, so each
/// lookup must probe an index once per element of its JSON array. A cached generic plan made
/// while a table was small (a sequential scan, or a hash join over one) would otherwise scan
/// the idempotency keys or the transfers whole, on every batch, at a cost that grows with every
/// key ever stored (seen in a profile: most of the database's time in one batch function).
pub(super) const POSTGRES_WRITER_SESSION: &str =
    "SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off";

// Each lookup probes its index once per element of its array (a LATERAL subquery names the
// element, so the plan is a nested loop whatever the statistics say).
const POSTGRES_FIND_KEYS: &str = "SELECT k.scope, k.key, k.request_hash, k.state, \
    k.response_body FROM jsonb_array_elements($1::jsonb) AS j, LATERAL (SELECT * \
    FROM idempotency_keys WHERE scope = j ->> 0 AND key = j ->> 1) AS k";
const POSTGRES_FIND_REFS: &str = "SELECT t.initiated_by, t.kind, t.external_ref, t.id \
    FROM jsonb_array_elements($1::jsonb) AS j, LATERAL (SELECT * FROM transfers \
    WHERE initiated_by = j ->> 0 AND kind = j ->> 1 AND external_ref = j ->> 2 \
    AND external_ref IS NOT NULL) AS t ORDER BY t.created_at, t.id";
const POSTGRES_FIND_REVERSALS: &str = "SELECT '*', 'reversal', t.reverses, t.id \
    FROM jsonb_array_elements($1::jsonb) AS j, LATERAL (SELECT * FROM transfers \
    WHERE reverses = j ->> 2 AND reverses IS NOT NULL) AS t";
const POSTGRES_LOAD_ACCOUNTS: &str = "SELECT a.id, a.user_id, a.kind, a.currency, a.balance, a.held, \
    CASE WHEN u.status IN ('quarantined', 'locked') THEN u.status ELSE a.status END \
    FROM accounts AS a LEFT JOIN users AS u ON u.id = a.user_id \
    WHERE a.id IN (SELECT jsonb_array_elements_text($1::jsonb))";
/// Every write of a batch in one statement, counting what each wrote: the function of
/// migration 0021, whose data-modifying CTEs mirror `SQLITE_WRITES`.
const POSTGRES_WRITES: &str = "SELECT strongroom_ledger_write_batch($1::jsonb, $2::jsonb, \
    $3::jsonb, $4::jsonb, $5, $6, $7::jsonb, $8, $9)";
/// The fast path (migration 0021): a batch decided from the writer's own state, checked
/// against the heads and the stored keys and references and written, in one autocommit
/// statement whose end is the commit.
/// The SQLSTATEs `strongroom_ledger_post_batch` raises (rolling back) when someone wrote
/// since the writer's last commit, or a key, reference or reversal of the batch is stored.
const POSTGRES_STALE: &str = "SRSTL";
const POSTGRES_STORED: &str = "SRSTO";
const POSTGRES_POST_BATCH: &str = "SELECT strongroom_ledger_post_batch($1, $2, $3, $4, $5, \
    $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, $12::jsonb, $13, $14, \
    $15::jsonb, $16, $17, $18)";

/// What a batch writes once its postings are decided: the rows of each statement as JSON.
pub(super) struct Writes {
    pub(super) transfers: String,
    pub(super) entries: String,
    pub(super) keys: String,
    pub(super) balances: String,
    pub(super) last_seq: i64,
    pub(super) last_hash: Vec<u8>,
    pub(super) audit: String,
    pub(super) audit_seq: i64,
    pub(super) audit_hash: Vec<u8>,
    /// Rows the writes must touch, all statements together.
    pub(super) expected_rows: u64,
}

impl Writes {
    /// The heads once these writes are committed at `generation`.
    pub(super) fn heads_after(&self, generation: i64) -> Heads {
        Heads {
            ledger: (self.last_seq, self.last_hash.clone()),
            generation,
            audit: (self.audit_seq, self.audit_hash.clone()),
        }
    }
}

/// The heads a batch starts from: the chain head (sequence, hash), its generation, and the
/// audit head (sequence, hash).
#[derive(Clone)]
pub(super) struct Heads {
    pub(super) ledger: (i64, Vec<u8>),
    pub(super) generation: i64,
    pub(super) audit: (i64, Vec<u8>),
}

/// The lookups a fast-path batch must find nothing for, as JSON arrays: idempotency keys,
/// external references, reversed transfers (shapes as in `find_keys`, `find_refs`,
/// `find_reversals`).
pub(super) struct Lookups {
    pub(super) keys: String,
    pub(super) refs: String,
    pub(super) reversals: String,
}

/// What the fast path's statement answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FastAnswer {
    /// Written and committed.
    Posted,
    /// Someone wrote since the writer's last commit: nothing written.
    Stale,
    /// A key, reference or reversal the batch names is stored: nothing written.
    Stored,
}

/// A backend's statements for one batch. On error the caller drops the connection, which
/// rolls back whatever the transaction had done.
/// Binds a batch's writes, in the order every write statement takes them.
macro_rules! bind_writes {
    ($query:expr, $writes:expr) => {
        $query
            .bind(&$writes.transfers)
            .bind(&$writes.entries)
            .bind(&$writes.keys)
            .bind(&$writes.balances)
            .bind($writes.last_seq)
            .bind(&$writes.last_hash)
            .bind(&$writes.audit)
            .bind($writes.audit_seq)
            .bind(&$writes.audit_hash)
    };
}

pub(super) trait BatchSql {
    /// Whether `post_batch` exists: a batch in one round trip, worth it where each statement
    /// is a round trip to a server.
    const ONE_ROUND_TRIP: bool;
    /// Opens the write transaction and locks the ledger head, then the audit head.
    async fn begin_and_lock(&mut self) -> Result<Heads, StoreError>;
    async fn find_keys(&mut self, lookups: String) -> Result<Vec<KeyRow>, StoreError>;
    async fn find_refs(&mut self, lookups: String) -> Result<Vec<RefRow>, StoreError>;
    async fn find_reversals(&mut self, lookups: String) -> Result<Vec<RefRow>, StoreError>;
    async fn load_accounts(&mut self, ids: String) -> Result<Vec<AccountRow>, StoreError>;
    /// Every write of the batch; the rows touched.
    async fn write(&mut self, writes: &Writes) -> Result<u64, StoreError>;
    async fn end(&mut self, commit: bool) -> Result<(), StoreError>;
    /// The fast path, outside any transaction: check `expected` and `lookups`, write, commit.
    async fn post_batch(
        &mut self,
        expected: &Heads,
        lookups: &Lookups,
        writes: &Writes,
    ) -> Result<FastAnswer, StoreError>;
}

impl BatchSql for SqliteConnection {
    const ONE_ROUND_TRIP: bool = false;

    async fn begin_and_lock(&mut self) -> Result<Heads, StoreError> {
        let (seq, hash, generation, audit_seq, audit_hash): (i64, Vec<u8>, i64, i64, Vec<u8>) =
            sqlx::query_as(SQLITE_BEGIN_AND_LOCK)
                .fetch_one(&mut *self)
                .await?;
        Ok(Heads {
            ledger: (seq, hash),
            generation,
            audit: (audit_seq, audit_hash),
        })
    }

    async fn find_keys(&mut self, lookups: String) -> Result<Vec<KeyRow>, StoreError> {
        Ok(sqlx::query_as(SQLITE_FIND_KEYS)
            .bind(lookups)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn find_refs(&mut self, lookups: String) -> Result<Vec<RefRow>, StoreError> {
        Ok(sqlx::query_as(SQLITE_FIND_REFS)
            .bind(lookups)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn find_reversals(&mut self, lookups: String) -> Result<Vec<RefRow>, StoreError> {
        Ok(sqlx::query_as(SQLITE_FIND_REVERSALS)
            .bind(lookups)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn load_accounts(&mut self, ids: String) -> Result<Vec<AccountRow>, StoreError> {
        Ok(sqlx::query_as(SQLITE_LOAD_ACCOUNTS)
            .bind(ids)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn write(&mut self, writes: &Writes) -> Result<u64, StoreError> {
        Ok(bind_writes!(sqlx::query(SQLITE_WRITES), writes)
            .execute(&mut *self)
            .await?
            .rows_affected())
    }

    async fn end(&mut self, commit: bool) -> Result<(), StoreError> {
        let sql = if commit { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(sql).execute(&mut *self).await?;
        Ok(())
    }

    async fn post_batch(
        &mut self,
        _expected: &Heads,
        _lookups: &Lookups,
        _writes: &Writes,
    ) -> Result<FastAnswer, StoreError> {
        Err(StoreError::Invariant("SQLite has no one-round-trip batch"))
    }
}

impl BatchSql for PgConnection {
    const ONE_ROUND_TRIP: bool = true;

    async fn begin_and_lock(&mut self) -> Result<Heads, StoreError> {
        let rows = sqlx::raw_sql(POSTGRES_BEGIN_AND_LOCK)
            .fetch_all(&mut *self)
            .await?;
        let [ledger, audit] = rows.as_slice() else {
            return Err(StoreError::Invariant("the heads are missing"));
        };
        Ok(Heads {
            ledger: (ledger.try_get(0)?, ledger.try_get(1)?),
            generation: ledger.try_get(2)?,
            audit: (audit.try_get(0)?, audit.try_get(1)?),
        })
    }

    async fn find_keys(&mut self, lookups: String) -> Result<Vec<KeyRow>, StoreError> {
        Ok(sqlx::query_as(POSTGRES_FIND_KEYS)
            .bind(lookups)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn find_refs(&mut self, lookups: String) -> Result<Vec<RefRow>, StoreError> {
        Ok(sqlx::query_as(POSTGRES_FIND_REFS)
            .bind(lookups)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn find_reversals(&mut self, lookups: String) -> Result<Vec<RefRow>, StoreError> {
        Ok(sqlx::query_as(POSTGRES_FIND_REVERSALS)
            .bind(lookups)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn load_accounts(&mut self, ids: String) -> Result<Vec<AccountRow>, StoreError> {
        Ok(sqlx::query_as(POSTGRES_LOAD_ACCOUNTS)
            .bind(ids)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn write(&mut self, writes: &Writes) -> Result<u64, StoreError> {
        let written: i64 = bind_writes!(sqlx::query_scalar(POSTGRES_WRITES), writes)
            .fetch_one(&mut *self)
            .await?;
        Ok(u64::try_from(written).unwrap_or(0))
    }

    async fn end(&mut self, commit: bool) -> Result<(), StoreError> {
        let sql = if commit { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(sql).execute(&mut *self).await?;
        Ok(())
    }

    async fn post_batch(
        &mut self,
        expected: &Heads,
        lookups: &Lookups,
        writes: &Writes,
    ) -> Result<FastAnswer, StoreError> {
        let query = sqlx::query_scalar(POSTGRES_POST_BATCH)
            .bind(expected.generation)
            .bind(expected.ledger.0)
            .bind(&expected.ledger.1)
            .bind(expected.audit.0)
            .bind(&expected.audit.1)
            .bind(&lookups.keys)
            .bind(&lookups.refs)
            .bind(&lookups.reversals);
        let answer: Result<String, sqlx::Error> = bind_writes!(query, writes)
            .bind(i64::try_from(writes.expected_rows).unwrap_or(i64::MAX))
            .fetch_one(&mut *self)
            .await;
        let code = match &answer {
            Err(sqlx::Error::Database(error)) => error.code().map(|code| code.into_owned()),
            _ => None,
        };
        match (answer, code.as_deref()) {
            (_, Some(POSTGRES_STALE)) => Ok(FastAnswer::Stale),
            (_, Some(POSTGRES_STORED)) => Ok(FastAnswer::Stored),
            (Ok(answer), _) if answer == "posted" => Ok(FastAnswer::Posted),
            (Ok(_), _) => Err(StoreError::Invariant("the batch function answered oddly")),
            (Err(error), _) => Err(error.into()),
        }
    }
}

/// PostgreSQL: opens the write transaction, locks the chain head (serialising writers across
/// instances) and then the audit head (every transaction's last lock), in one round trip: the
/// simple query protocol runs the three statements in this order.
const POSTGRES_BEGIN_AND_LOCK: &str = "BEGIN; \
    UPDATE ledger_head SET generation = generation + 1 WHERE id = 1 RETURNING seq, hash, generation; \
    UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash";
