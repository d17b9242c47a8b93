//! The audit log's persistence: records appended, hash-chained, in the transaction of the
//! change they record (`append_audit!`, always the transaction's last lock: the audit head),
//! read back a page at a time for the admin API, `audit export` and `audit verify`, and the
//! signed checkpoints that pin the audit and ledger heads.

use ledger::audit::{AuditFacts, audit_hash};

pub use crate::limits::AUDIT_PAGE_LEN_MAX;
use crate::{Pool, Store, StoreError, on_pool};

/// Who acted, as an audit record names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Service,
    /// A person at the command line, with access to the configuration and keys.
    Operator,
    /// The server itself (a detection, a checkpoint, an expiry).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Service => "service",
            ActorKind::Operator => "operator",
            ActorKind::System => "system",
        }
    }
}

/// An audit record to append: ids only, never personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub actor_kind: ActorKind,
    pub actor_id: String,
    pub action: String,
    pub target: String,
    /// `success`, `failure`, `pending`, `denied`.
    pub outcome: &'static str,
    pub request_id: String,
    pub ip: String,
    /// A JSON object.
    pub details: String,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub request_id: String,
    pub ip: String,
    pub details: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditRecord {
    /// The fields its hash commits to.
    pub fn facts(&self) -> AuditFacts<'_> {
        AuditFacts {
            seq: self.seq,
            at: self.at,
            actor_kind: &self.actor_kind,
            actor_id: &self.actor_id,
            action: &self.action,
            target: &self.target,
            outcome: &self.outcome,
            request_id: &self.request_id,
            ip: &self.ip,
            details: &self.details,
        }
    }
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CheckpointRecord {
    pub id: i64,
    pub at: i64,
    pub audit_seq: i64,
    pub audit_hash: Vec<u8>,
    pub ledger_seq: i64,
    pub ledger_hash: Vec<u8>,
    pub key_id: String,
    pub signature: Vec<u8>,
}

/// Chains `entries` from the head `(seq, hash)`: the records to insert.
pub(crate) fn chain(
    head: (i64, Vec<u8>),
    entries: &[AuditEntry],
) -> Result<Vec<AuditRecord>, StoreError> {
    let (mut seq, mut previous) = head;
    let mut records = Vec::with_capacity(entries.len());
    for entry in entries {
        seq = seq
            .checked_add(1)
            .ok_or(StoreError::Invariant("the audit sequence is exhausted"))?;
        let mut record = AuditRecord {
            seq,
            at: entry.at,
            actor_kind: entry.actor_kind.as_str().to_owned(),
            actor_id: entry.actor_id.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            outcome: entry.outcome.to_owned(),
            request_id: entry.request_id.clone(),
            ip: entry.ip.clone(),
            details: entry.details.clone(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
        };
        record.hash = audit_hash(&previous, &record.facts());
        record.prev_hash = std::mem::replace(&mut previous, record.hash.clone());
        records.push(record);
    }
    Ok(records)
}

/// Locks the audit head (the last lock any transaction takes) and reads it.
pub(crate) const LOCK_AUDIT_HEAD: &str =
    "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash";
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (seq, at, actor_kind, actor_id, \
    action, target, outcome, request_id, ip, details, prev_hash, hash) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
pub(crate) const SET_AUDIT_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";

/// Appends audit entries inside an open transaction `$tx`, chained from the locked head.
/// Call it after the transaction's other writes (the audit head is always the last lock).
macro_rules! append_audit {
    ($tx:expr, $entries:expr) => {{
        let entries: &[$crate::audit::AuditEntry] = $entries;
        if !entries.is_empty() {
            let head: (i64, Vec<u8>) = sqlx::query_as($crate::audit::LOCK_AUDIT_HEAD)
                .fetch_one(&mut *$tx)
                .await?;
            let records = $crate::audit::chain(head, entries)?;
            for r in &records {
                sqlx::query($crate::audit::INSERT_AUDIT)
                    .bind(r.seq)
                    .bind(r.at)
                    .bind(&r.actor_kind)
                    .bind(&r.actor_id)
                    .bind(&r.action)
                    .bind(&r.target)
                    .bind(&r.outcome)
                    .bind(&r.request_id)
                    .bind(&r.ip)
                    .bind(&r.details)
                    .bind(&r.prev_hash)
                    .bind(&r.hash)
                    .execute(&mut *$tx)
                    .await?;
            }
            if let Some(last) = records.last() {
                sqlx::query($crate::audit::SET_AUDIT_HEAD)
                    .bind(last.seq)
                    .bind(&last.hash)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}
pub(crate) use append_audit;

impl Store {
    /// Appends audit records in a transaction of their own (a change that has none).
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            append_audit!(tx, entries);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records strictly after `after`, oldest first, at most `limit` (≤ `AUDIT_PAGE_LEN_MAX`).
    pub async fn audit_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = limit.clamp(1, AUDIT_PAGE_LEN_MAX);
        let sql = "SELECT seq, at, actor_kind, actor_id, action, target, outcome, request_id, ip, \
                   details, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";
        Ok(
            on_pool!(self, pool => sqlx::query_as(sql).bind(after).bind(limit).fetch_all(pool).await?),
        )
    }

    /// The first record at or after `at` (ms): where `audit export --since` starts.
    pub async fn audit_seq_since(&self, at: i64) -> Result<i64, StoreError> {
        let sql = "SELECT MIN(seq) FROM audit_log WHERE at >= $1";
        let first: Option<i64> =
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(at).fetch_one(pool).await?);
        Ok(first.map_or(i64::MAX, |seq| seq.saturating_sub(1)))
    }

    pub async fn audit_head(&self) -> Result<(i64, Vec<u8>), StoreError> {
        let sql = "SELECT seq, hash FROM audit_head WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await?))
    }

    /// Both heads read together (one snapshot): `((audit seq, hash), (ledger seq, hash))`.
    pub async fn chain_heads(&self) -> Result<((i64, Vec<u8>), (i64, Vec<u8>)), StoreError> {
        let sql = "SELECT a.seq, a.hash, l.seq, l.hash FROM audit_head AS a, ledger_head AS l \
                   WHERE a.id = 1 AND l.id = 1";
        let (audit_seq, audit_hash, ledger_seq, ledger_hash): (i64, Vec<u8>, i64, Vec<u8>) =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await?);
        Ok(((audit_seq, audit_hash), (ledger_seq, ledger_hash)))
    }

    pub async fn insert_checkpoint(&self, c: &CheckpointRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO audit_checkpoints (at, audit_seq, audit_hash, ledger_seq, \
                   ledger_hash, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(c.at).bind(c.audit_seq).bind(&c.audit_hash).bind(c.ledger_seq)
            .bind(&c.ledger_hash).bind(&c.key_id).bind(&c.signature)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Checkpoints after `after` (by id), oldest first, at most `limit`.
    pub async fn checkpoints_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<CheckpointRecord>, StoreError> {
        let limit = limit.clamp(1, AUDIT_PAGE_LEN_MAX);
        let sql = "SELECT id, at, audit_seq, audit_hash, ledger_seq, ledger_hash, key_id, \
                   signature FROM audit_checkpoints WHERE id > $1 ORDER BY id LIMIT $2";
        Ok(
            on_pool!(self, pool => sqlx::query_as(sql).bind(after).bind(limit).fetch_all(pool).await?),
        )
    }

    pub async fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>, StoreError> {
        let sql = "SELECT id, at, audit_seq, audit_hash, ledger_seq, ledger_hash, key_id, \
                   signature FROM audit_checkpoints ORDER BY id DESC LIMIT 1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_optional(pool).await?))
    }

    /// The first entry sequence number whose hash commits to its transfer row.
    pub async fn transfer_hashed_from(&self) -> Result<i64, StoreError> {
        let sql = "SELECT value FROM strongroom_meta WHERE key = 'ledger_transfer_hashed_from'";
        let value: Option<String> =
            on_pool!(self, pool => sqlx::query_scalar(sql).fetch_optional(pool).await?);
        value
            .and_then(|value| value.parse().ok())
            .ok_or(StoreError::Invariant(
                "ledger_transfer_hashed_from is missing",
            ))
    }
}
