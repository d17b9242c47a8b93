//! Reading the ledger event stream (written by the ledger writer and by freezes, in the
//! transaction of the change): events after a position, in commit order.

use crate::{Pool, Store, StoreError, on_pool};

/// One ledger event, with the transfer it announces (for `transfer_posted`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerEvent {
    pub id: i64,
    /// `transfer_posted`, `account_frozen`, `account_unfrozen`, `hold_created`,
    /// `hold_captured` (with the capture's transfer), `hold_voided` (also on expiry) or
    /// `transfer_reversed` (with the reversal, whose `reverses` names the reversed transfer).
    pub kind: String,
    pub created_at: i64,
    /// The frozen or unfrozen account, or the hold's.
    pub account_id: Option<String>,
    /// The hold a `hold_*` event is about.
    pub hold_id: Option<String>,
    pub transfer_id: Option<String>,
    pub transfer_kind: Option<String>,
    pub from_account_id: Option<String>,
    pub to_account_id: Option<String>,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub external_ref: Option<String>,
    /// A reversal's (`transfer_reversed`): the transfer it reversed.
    pub reverses: Option<String>,
}

impl Store {
    /// Up to `limit` events after `after`, oldest first.
    pub async fn ledger_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LedgerEvent>, StoreError> {
        let sql = "SELECT v.id, v.kind, v.created_at, v.account_id, v.hold_id, v.transfer_id, \
                   t.kind AS transfer_kind, t.from_account_id, t.to_account_id, t.amount, \
                   t.currency, t.external_ref, t.reverses FROM ledger_events AS v \
                   LEFT JOIN transfers AS t ON t.id = v.transfer_id \
                   WHERE v.id > $1 ORDER BY v.id LIMIT $2";
        let rows: Vec<LedgerEvent> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }
}
