//! The hold statements, the same text on both backends (behind `HoldSql`, beside the
//! writer's `BatchSql`).

use ledger::holds::HoldStatus;

use super::{HoldRecord, NewHold};
use crate::StoreError;
use crate::audit::AuditEntry;
use crate::writer::IdempotencyRecord;
use crate::writer::sql::BatchSql;

/// `SELECT` of every hold column, then `$rest`.
macro_rules! select_holds {
    ($rest:literal) => {
        concat!(
            "SELECT id, account_id, amount, currency, status, expires_at, initiated_by, ",
            "created_at, captured_amount, transfer_id, closed_at FROM holds ",
            $rest
        )
    };
}
pub(super) const FIND_HOLD: &str = select_holds!("WHERE id = $1");
const INSERT_HOLD: &str = "INSERT INTO holds (id, account_id, amount, currency, status, \
    expires_at, initiated_by, created_at) VALUES ($1, $2, $3, $4, 'held', $5, $6, $7)";
const CLOSE_HOLD: &str = "UPDATE holds SET status = $2, captured_amount = $3, \
    transfer_id = $4, closed_at = $5 WHERE id = $1 AND status = 'held'";
/// Under the head lock nobody else changes `held`: relative updates are exact, and the
/// store refuses one that would leave a customer's available balance negative.
const ADD_HELD: &str = "UPDATE accounts SET held = held + $2 WHERE id = $1";
const HOLD_EVENT: &str = "INSERT INTO ledger_events (kind, hold_id, account_id, transfer_id, \
    created_at) VALUES ($1, $2, $3, $4, $5)";
const INSERT_KEY: &str = "INSERT INTO idempotency_keys (scope, key, request_hash, state, \
    response_status, response_body, created_at) VALUES ($1, $2, $3, $4, NULL, $5, $6)";
const DUE_HOLDS: &str =
    select_holds!("WHERE status = 'held' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2");

/// A hold closing: captured (with its amount and transfer), voided or expired.
pub(super) struct Close<'a> {
    pub(super) id: &'a str,
    pub(super) status: HoldStatus,
    pub(super) captured_amount: Option<i64>,
    pub(super) transfer_id: Option<&'a str>,
    pub(super) at: i64,
}

/// A `hold_*` ledger event.
pub(super) struct Event<'a> {
    pub(super) kind: &'static str,
    pub(super) hold_id: &'a str,
    pub(super) account_id: &'a str,
    pub(super) transfer_id: Option<&'a str>,
    pub(super) at: i64,
}

/// An idempotency key with its answer (`done`) or refusal (`refused`).
pub(super) struct KeyRow<'a> {
    pub(super) record: &'a IdempotencyRecord,
    pub(super) state: &'static str,
    pub(super) body: &'a str,
    pub(super) at: i64,
}

/// The hold statements of one transaction; rows touched where a write must touch one.
pub(super) trait HoldSql: BatchSql {
    async fn find_hold(&mut self, id: &str) -> Result<Option<HoldRecord>, StoreError>;
    async fn due_holds(&mut self, now: i64, limit: i64) -> Result<Vec<HoldRecord>, StoreError>;
    async fn insert_hold(&mut self, hold: &NewHold) -> Result<u64, StoreError>;
    async fn close_hold(&mut self, close: &Close<'_>) -> Result<u64, StoreError>;
    async fn add_held(&mut self, account_id: &str, delta: i64) -> Result<u64, StoreError>;
    async fn hold_event(&mut self, event: &Event<'_>) -> Result<u64, StoreError>;
    async fn insert_key(&mut self, key: &KeyRow<'_>) -> Result<u64, StoreError>;
    /// Appends `entries` to the audit chain (its head locked last, by `begin_and_lock`).
    async fn audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError>;
}

macro_rules! hold_sql {
    ($connection:ty) => {
        impl HoldSql for $connection {
            async fn find_hold(&mut self, id: &str) -> Result<Option<HoldRecord>, StoreError> {
                Ok(sqlx::query_as(FIND_HOLD)
                    .bind(id)
                    .fetch_optional(&mut *self)
                    .await?)
            }

            async fn due_holds(
                &mut self,
                now: i64,
                limit: i64,
            ) -> Result<Vec<HoldRecord>, StoreError> {
                Ok(sqlx::query_as(DUE_HOLDS)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *self)
                    .await?)
            }

            async fn insert_hold(&mut self, hold: &NewHold) -> Result<u64, StoreError> {
                Ok(sqlx::query(INSERT_HOLD)
                    .bind(&hold.id)
                    .bind(&hold.account_id)
                    .bind(hold.amount.minor_units())
                    .bind(&hold.currency)
                    .bind(hold.expires_at)
                    .bind(&hold.initiated_by)
                    .bind(hold.created_at)
                    .execute(&mut *self)
                    .await?
                    .rows_affected())
            }

            async fn close_hold(&mut self, close: &Close<'_>) -> Result<u64, StoreError> {
                Ok(sqlx::query(CLOSE_HOLD)
                    .bind(close.id)
                    .bind(close.status.as_str())
                    .bind(close.captured_amount)
                    .bind(close.transfer_id)
                    .bind(close.at)
                    .execute(&mut *self)
                    .await?
                    .rows_affected())
            }

            async fn add_held(&mut self, account_id: &str, delta: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query(ADD_HELD)
                    .bind(account_id)
                    .bind(delta)
                    .execute(&mut *self)
                    .await?
                    .rows_affected())
            }

            async fn hold_event(&mut self, event: &Event<'_>) -> Result<u64, StoreError> {
                Ok(sqlx::query(HOLD_EVENT)
                    .bind(event.kind)
                    .bind(event.hold_id)
                    .bind(event.account_id)
                    .bind(event.transfer_id)
                    .bind(event.at)
                    .execute(&mut *self)
                    .await?
                    .rows_affected())
            }

            async fn insert_key(&mut self, key: &KeyRow<'_>) -> Result<u64, StoreError> {
                Ok(sqlx::query(INSERT_KEY)
                    .bind(&key.record.scope)
                    .bind(&key.record.key)
                    .bind(&key.record.request_hash)
                    .bind(key.state)
                    .bind(key.body)
                    .bind(key.at)
                    .execute(&mut *self)
                    .await?
                    .rows_affected())
            }

            async fn audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
                let conn = self;
                crate::audit::append_audit!(conn, entries);
                Ok(())
            }
        }
    };
}

hold_sql!(sqlx::sqlite::SqliteConnection);
hold_sql!(sqlx::postgres::PgConnection);
