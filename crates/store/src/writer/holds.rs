//! Holds (two-phase postings, `ledger::holds`): created, captured, voided and expired in a
//! transaction of their own on a pooled connection, under the chain-head lock like every
//! ledger write. The lock serialises them with the ledger writer and with other instances,
//! and bumping the generation tells the writer that its cached `held` values are stale. A
//! capture is a posting decided by `ledger::batch::decide` and written by the writer's own
//! statements, in the transaction that releases and closes its hold; its transfer, the
//! hold's status, the account's `held` and the events commit together or not at all.

use std::collections::HashMap;

use ledger::batch::{self, Outcome, StoredKey};
use ledger::holds::{self, HoldRefusal, HoldState, HoldStatus};
use ledger::{AccountState, Money, Refusal};

use self::sql::{Close, Event, FIND_HOLD, HoldSql, KeyRow};
use super::reads::{cache_accounts, stored_key};
use super::rows::{actor, to_json, writes};
use super::sql::{BatchSql, Heads};
use super::{IdempotencyRecord, PostingRequest};
use crate::audit::{ActorKind, AuditEntry};
use crate::limits::HOLD_LANE_WAIT;
use crate::{Pool, Store, StoreError, on_pool};

mod snapshot;
mod sql;

pub use snapshot::{HoldCheckRecord, HoldSnapshot};

/// A hold to place.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub id: String,
    pub account_id: String,
    pub amount: Money,
    pub currency: String,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// `service:{name}`.
    pub initiated_by: String,
    pub created_at: i64,
    /// Its key, and the answer (the hold as created) to keep with it.
    pub idempotency: IdempotencyRecord,
    pub request_id: String,
    pub ip: String,
}

/// Who voids a hold, when, and from which request.
#[derive(Debug, Clone)]
pub struct HoldVoid {
    pub hold_id: String,
    pub initiated_by: String,
    pub at: i64,
    pub request_id: String,
    pub ip: String,
}

/// A stored hold.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HoldRecord {
    pub id: String,
    pub account_id: String,
    pub amount: i64,
    pub currency: String,
    /// `held`, `captured`, `voided` or `expired`.
    pub status: String,
    pub expires_at: i64,
    pub initiated_by: String,
    pub created_at: i64,
    pub captured_amount: Option<i64>,
    pub transfer_id: Option<String>,
    pub closed_at: Option<i64>,
}

impl HoldRecord {
    fn state(&self) -> Result<HoldState, StoreError> {
        Ok(HoldState {
            amount: self.amount,
            status: HoldStatus::parse(&self.status)
                .ok_or(StoreError::Invariant("a hold has an unknown status"))?,
            expires_at: self.expires_at,
        })
    }
}

/// What a hold operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Created or captured: the answer is the one kept with the request's key.
    Done,
    /// Voided (now or before): the hold as it is now.
    Closed(HoldRecord),
    /// The key was used before with the same request: its original answer.
    Replayed {
        body: String,
    },
    /// The key's first request was refused: that refusal, answered again.
    RefusedBefore(Refusal),
    /// The key was used before with a different request.
    KeyReused,
    /// The key belongs to a request that has not finished.
    KeyInProgress,
    Refused(HoldRefusal),
    NotFound,
}

/// A pooled connection inside a hold transaction: returned to the pool only once the
/// transaction ended. Dropped any other way — an error, or the request's future dropped at a
/// timeout or a disconnect — it is closed instead, which rolls the transaction back and frees
/// the locks; it never reaches another borrower mid-transaction.
struct LockedConnection<DB: sqlx::Database> {
    pooled: sqlx::pool::PoolConnection<DB>,
    ended: bool,
}

impl<DB: sqlx::Database> Drop for LockedConnection<DB> {
    fn drop(&mut self) {
        if !self.ended {
            self.pooled.close_on_drop();
        }
    }
}

/// Runs one hold transaction on a pooled connection, in one of `HOLD_LANES_MAX` lanes (a
/// burst of holds cannot take every pooled connection while they queue for the lock).
macro_rules! on_locked_connection {
    ($store:expr, $conn:ident => $body:expr) => {{
        let lane = tokio::time::timeout(HOLD_LANE_WAIT, $store.hold_lanes.acquire())
            .await
            .map_err(|_| StoreError::Query(sqlx::Error::PoolTimedOut))?
            .map_err(|_| StoreError::Query(sqlx::Error::PoolClosed))?;
        let result = on_pool!($store, pool => {
            let mut locked = LockedConnection { pooled: pool.acquire().await?, ended: false };
            let result = {
                let $conn = &mut *locked.pooled;
                $body
            };
            locked.ended = result.is_ok();
            result
        });
        drop(lane);
        result
    }};
}

/// Ends the transaction with `commit`, or rolls back: nothing of it was needed.
async fn rollback<C: BatchSql>(
    conn: &mut C,
    outcome: HoldOutcome,
) -> Result<HoldOutcome, StoreError> {
    conn.end(false).await?;
    Ok(outcome)
}

/// A stored key's answer for a hold operation.
fn replayed(key: &StoredKey, record: &IdempotencyRecord) -> HoldOutcome {
    match batch::replay(key, record) {
        Outcome::Replayed { body } => HoldOutcome::Replayed { body },
        Outcome::RefusedBefore(refusal) => HoldOutcome::RefusedBefore(refusal),
        Outcome::KeyReused => HoldOutcome::KeyReused,
        _ => HoldOutcome::KeyInProgress,
    }
}

async fn find_key<C: BatchSql>(
    conn: &mut C,
    record: &IdempotencyRecord,
) -> Result<Option<StoredKey>, StoreError> {
    let lookup = [[record.scope.as_str(), record.key.as_str()]];
    Ok(conn
        .find_keys(to_json(&lookup)?)
        .await?
        .into_iter()
        .next()
        .map(stored_key))
}

/// The accounts `ids` as the ledger writer would see them (read under the lock).
async fn load<C: BatchSql>(
    conn: &mut C,
    ids: &[&str],
) -> Result<HashMap<String, AccountState>, StoreError> {
    let mut accounts = HashMap::new();
    cache_accounts(&mut accounts, conn.load_accounts(to_json(&ids)?).await?);
    Ok(accounts)
}

fn hold_audit(
    initiated_by: &str,
    action: &str,
    hold: &str,
    at: i64,
    request: (&str, &str),
    details: serde_json::Value,
) -> AuditEntry {
    let (actor_kind, actor_id) = actor(initiated_by);
    AuditEntry {
        at,
        actor_kind,
        actor_id: actor_id.to_owned(),
        action: action.to_owned(),
        target: format!("hold:{hold}"),
        outcome: "success",
        request_id: request.0.to_owned(),
        ip: request.1.to_owned(),
        details: details.to_string(),
    }
}

fn one(written: u64, what: &'static str) -> Result<(), StoreError> {
    if written == 1 {
        Ok(())
    } else {
        Err(StoreError::Invariant(what))
    }
}

/// The audit record of a hold closed as expired (by whoever found it due: the server).
fn expiry_audit(hold: &HoldRecord, at: i64) -> AuditEntry {
    AuditEntry {
        at,
        actor_kind: ActorKind::System,
        actor_id: "strongroom".to_owned(),
        action: "ledger.hold.expire".to_owned(),
        target: format!("hold:{}", hold.id),
        outcome: "success",
        request_id: String::new(),
        ip: String::new(),
        details: serde_json::json!({ "account_id": hold.account_id, "amount": hold.amount })
            .to_string(),
    }
}

/// Takes `hold`'s amount off its account's `held`.
async fn unhold<C: HoldSql>(conn: &mut C, hold: &HoldRecord) -> Result<(), StoreError> {
    let release = hold
        .amount
        .checked_neg()
        .ok_or(StoreError::Invariant("a hold amount is out of range"))?;
    one(
        conn.add_held(&hold.account_id, release).await?,
        "a hold's account is missing",
    )
}

/// Closes `hold` as `status` (voided or expired) and releases what it held, with its event
/// and audit record. The caller holds the lock and commits.
async fn release_hold<C: HoldSql>(
    conn: &mut C,
    hold: &HoldRecord,
    status: HoldStatus,
    at: i64,
) -> Result<(), StoreError> {
    let close = Close {
        id: &hold.id,
        status,
        captured_amount: None,
        transfer_id: None,
        at,
    };
    one(conn.close_hold(&close).await?, "a held hold did not close")?;
    unhold(conn, hold).await?;
    let event = Event {
        kind: "hold_voided",
        hold_id: &hold.id,
        account_id: &hold.account_id,
        transfer_id: None,
        at,
    };
    one(
        conn.hold_event(&event).await?,
        "a hold event was not written",
    )
}

impl Store {
    /// Places a hold (its key checked and kept in the same transaction): `Done`, or the
    /// account rule that refused it (kept with the key, so a replay answers it again).
    pub async fn create_hold(&self, hold: &NewHold) -> Result<HoldOutcome, StoreError> {
        on_locked_connection!(self, conn => create(conn, hold).await)
    }

    /// Captures `amount` of hold `hold_id` with `posting` (a `capture` from the hold's account;
    /// its key is the hold's, so the capture happens at most once and a retry of it answers
    /// the same). A hold found past its expiry is closed as `expired` and the capture refused.
    pub async fn capture_hold(
        &self,
        hold_id: &str,
        posting: &PostingRequest,
    ) -> Result<HoldOutcome, StoreError> {
        on_locked_connection!(self, conn => capture(conn, hold_id, posting).await)
    }

    /// Voids a hold: `Closed` with the hold as it is now (also when it was already voided or
    /// expired), or refused when it was captured.
    pub async fn void_hold(&self, void: &HoldVoid) -> Result<HoldOutcome, StoreError> {
        on_locked_connection!(self, conn => void_one(conn, void).await)
    }

    /// Closes as `expired` up to `limit` holds due at `now`, releasing what they held; returns
    /// how many.
    pub async fn expire_holds(&self, now: i64, limit: i64) -> Result<u64, StoreError> {
        let due = "SELECT count(*) FROM (SELECT 1 FROM holds WHERE status = 'held' \
                   AND expires_at <= $1 LIMIT 1) AS d";
        let any: i64 =
            on_pool!(self, pool => sqlx::query_scalar(due).bind(now).fetch_one(pool).await?);
        if any == 0 {
            return Ok(0);
        }
        on_locked_connection!(self, conn => expire(conn, now, limit).await)
    }

    pub async fn find_hold(&self, id: &str) -> Result<Option<HoldRecord>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(FIND_HOLD).bind(id).fetch_optional(pool).await?))
    }
}

async fn create<C: HoldSql>(conn: &mut C, hold: &NewHold) -> Result<HoldOutcome, StoreError> {
    conn.begin_and_lock().await?;
    if let Some(key) = find_key(conn, &hold.idempotency).await? {
        return rollback(conn, replayed(&key, &hold.idempotency)).await;
    }
    let mut accounts = load(conn, &[hold.account_id.as_str()]).await?;
    let placed = holds::place(&mut accounts, &hold.account_id, hold.amount, &hold.currency);
    let (state, body, outcome) = match &placed {
        Ok(_) => (
            "done",
            hold.idempotency.response_body.clone(),
            HoldOutcome::Done,
        ),
        Err(refusal) => (
            "refused",
            refusal.stored(),
            HoldOutcome::Refused(HoldRefusal::Account(refusal.clone())),
        ),
    };
    if placed.is_ok() {
        one(conn.insert_hold(hold).await?, "a hold was not written")?;
        one(
            conn.add_held(&hold.account_id, hold.amount.minor_units())
                .await?,
            "a held account is missing",
        )?;
        let event = Event {
            kind: "hold_created",
            hold_id: &hold.id,
            account_id: &hold.account_id,
            transfer_id: None,
            at: hold.created_at,
        };
        one(
            conn.hold_event(&event).await?,
            "a hold event was not written",
        )?;
        let details = serde_json::json!({
            "account_id": hold.account_id,
            "amount": hold.amount.minor_units(),
            "currency": hold.currency,
            "expires_at": hold.expires_at,
        });
        let entry = hold_audit(
            &hold.initiated_by,
            "ledger.hold",
            &hold.id,
            hold.created_at,
            (&hold.request_id, &hold.ip),
            details,
        );
        conn.audit(std::slice::from_ref(&entry)).await?;
    }
    let key = KeyRow {
        record: &hold.idempotency,
        state,
        body: &body,
        at: hold.created_at,
    };
    one(conn.insert_key(&key).await?, "a hold's key was not written")?;
    conn.end(true).await?;
    Ok(outcome)
}

async fn capture<C: HoldSql>(
    conn: &mut C,
    hold_id: &str,
    posting: &PostingRequest,
) -> Result<HoldOutcome, StoreError> {
    let heads = conn.begin_and_lock().await?;
    let Some(hold) = conn.find_hold(hold_id).await? else {
        return rollback(conn, HoldOutcome::NotFound).await;
    };
    if let Some(key) = find_key(conn, &posting.idempotency).await? {
        let outcome = match replayed(&key, &posting.idempotency) {
            // The capture happened, but not this one: the hold is closed.
            HoldOutcome::KeyReused => {
                HoldOutcome::Refused(HoldRefusal::Closed(hold.state()?.status))
            }
            other => other,
        };
        return rollback(conn, outcome).await;
    }
    let state = hold.state()?;
    if posting.from_account_id != hold.account_id || posting.currency != hold.currency {
        return Err(StoreError::Invariant(
            "a capture names another account than its hold",
        ));
    }
    if let Err(refusal) = holds::check_capture(&state, posting.amount, posting.created_at) {
        if state.is_due(posting.created_at) {
            // Found expired: it settles here, once, as the sweep would have.
            release_hold(conn, &hold, HoldStatus::Expired, posting.created_at).await?;
            conn.audit(&[expiry_audit(&hold, posting.created_at)])
                .await?;
            conn.end(true).await?;
            return Ok(HoldOutcome::Refused(refusal));
        }
        return rollback(conn, HoldOutcome::Refused(refusal)).await;
    }
    post_capture(conn, &hold, posting, heads).await
}

/// Releases the checked hold and posts its capture (the transfer, its entries, key, event and
/// audit record), then closes the hold, and commits; a refused posting rolls everything back.
async fn post_capture<C: HoldSql>(
    conn: &mut C,
    hold: &HoldRecord,
    posting: &PostingRequest,
    heads: Heads,
) -> Result<HoldOutcome, StoreError> {
    let Heads {
        ledger: (head_seq, head_hash),
        audit,
        ..
    } = heads;
    let mut accounts = load(conn, &[&posting.from_account_id, &posting.to_account_id]).await?;
    if holds::release(&mut accounts, &hold.account_id, hold.amount).is_none() {
        return Err(StoreError::Invariant(
            "an account holds less than its holds",
        ));
    }
    let decision = batch::decide(&accounts, &[], &[], (head_seq, &head_hash), &[posting])
        .map_err(|_| StoreError::Invariant("a capture does not balance"))?;
    if let Some(Outcome::Refused(refusal)) = decision.outcomes.first() {
        return rollback(
            conn,
            HoldOutcome::Refused(HoldRefusal::Account(refusal.clone())),
        )
        .await;
    }
    if decision.passed.len() != 1 {
        return Err(StoreError::Invariant("a capture was not decided"));
    }
    // Released before the debit: the store checks `balance − held` after every statement.
    unhold(conn, hold).await?;
    let writes = writes(&decision, (head_seq, &head_hash), audit)?;
    if conn.write(&writes).await? != writes.expected_rows {
        return Err(StoreError::Invariant(
            "a capture wrote an unexpected number of rows",
        ));
    }
    let close = Close {
        id: &hold.id,
        status: HoldStatus::Captured,
        captured_amount: Some(posting.amount.minor_units()),
        transfer_id: Some(&posting.transfer_id),
        at: posting.created_at,
    };
    one(conn.close_hold(&close).await?, "a held hold did not close")?;
    let event = Event {
        kind: "hold_captured",
        hold_id: &hold.id,
        account_id: &hold.account_id,
        transfer_id: Some(&posting.transfer_id),
        at: posting.created_at,
    };
    one(
        conn.hold_event(&event).await?,
        "a hold event was not written",
    )?;
    conn.end(true).await?;
    Ok(HoldOutcome::Done)
}

async fn void_one<C: HoldSql>(conn: &mut C, void: &HoldVoid) -> Result<HoldOutcome, StoreError> {
    conn.begin_and_lock().await?;
    let Some(hold) = conn.find_hold(&void.hold_id).await? else {
        return rollback(conn, HoldOutcome::NotFound).await;
    };
    let state = hold.state()?;
    match state.status {
        HoldStatus::Voided | HoldStatus::Expired => {
            return rollback(conn, HoldOutcome::Closed(hold)).await;
        }
        HoldStatus::Captured => {
            return rollback(
                conn,
                HoldOutcome::Refused(HoldRefusal::Closed(state.status)),
            )
            .await;
        }
        HoldStatus::Held => {}
    }
    // A hold already past its expiry closes as expired, whoever finds it.
    let status = if state.is_due(void.at) {
        HoldStatus::Expired
    } else {
        HoldStatus::Voided
    };
    release_hold(conn, &hold, status, void.at).await?;
    let entry = hold_audit(
        &void.initiated_by,
        "ledger.hold.void",
        &hold.id,
        void.at,
        (&void.request_id, &void.ip),
        serde_json::json!({ "status": status.as_str() }),
    );
    conn.audit(std::slice::from_ref(&entry)).await?;
    let closed = conn.find_hold(&hold.id).await?;
    conn.end(true).await?;
    Ok(closed.map_or(HoldOutcome::NotFound, HoldOutcome::Closed))
}

async fn expire<C: HoldSql>(conn: &mut C, now: i64, limit: i64) -> Result<u64, StoreError> {
    conn.begin_and_lock().await?;
    let due = conn.due_holds(now, limit).await?;
    if due.is_empty() {
        conn.end(false).await?;
        return Ok(0);
    }
    let mut entries = Vec::with_capacity(due.len());
    for hold in &due {
        release_hold(conn, hold, HoldStatus::Expired, now).await?;
        entries.push(expiry_audit(hold, now));
    }
    conn.audit(&entries).await?;
    conn.end(true).await?;
    Ok(u64::try_from(due.len()).unwrap_or(u64::MAX))
}
