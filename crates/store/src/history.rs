//! An account's history as a person reads it: each entry with the movement it belongs to (its
//! kind, memo and external reference) and the account on the other side, oldest or newest
//! first, within a time window, a page at a time; and a user's transfers, read through the
//! entries of their accounts (a transfer touches at most one account of a user: accounts are
//! one per currency and a transfer stays in one), so both walk `entries_by_account`.

use crate::limits::ENTRIES_PAGE_LEN_MAX;
use crate::{Pool, Store, StoreError, TransferRecord, on_pool};

/// One entry of an account's history.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryEntry {
    pub seq: i64,
    pub id: String,
    pub transfer_id: String,
    pub direction: String,
    pub amount: i64,
    pub balance_after: i64,
    pub currency: String,
    pub created_at: i64,
    /// `transfer`, `deposit` or `withdrawal`.
    pub kind: String,
    pub memo: Option<String>,
    pub external_ref: Option<String>,
    /// The other side: the destination of a debit, the source of a credit.
    pub counterparty_account_id: String,
}

/// Which entries of an account's history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Continue past this entry (by its `seq`), in the reading order.
    pub after_seq: Option<i64>,
    pub newest_first: bool,
    /// `created_at` from (inclusive) and until (exclusive), in milliseconds.
    pub since: i64,
    pub until: i64,
    /// Rows to read: a page and one more, so the caller can tell whether another follows.
    pub limit: i64,
}

/// The history's columns and filters; `$2` is the cursor's `seq`, `$5` the row limit.
macro_rules! history_select {
    () => {
        "SELECT e.seq, e.id, e.transfer_id, e.direction, e.amount, e.balance_after, e.currency, \
         e.created_at, t.kind, t.memo, t.external_ref, \
         CASE WHEN e.direction = 'debit' THEN t.to_account_id ELSE t.from_account_id END \
         AS counterparty_account_id FROM entries AS e JOIN transfers AS t ON t.id = e.transfer_id \
         WHERE e.account_id = $1 AND e.created_at >= $3 AND e.created_at < $4 "
    };
}

/// One transfer of a user's list, with the entry (of the user's account) it was found by.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransferListRow {
    pub seq: i64,
    pub entry_id: String,
    #[sqlx(flatten)]
    pub transfer: TransferRecord,
}

/// Which of a user's transfers to read; `window` as for an account's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferQuery {
    /// Only this account's (it must be the user's); empty: every account of the user.
    pub account_id: String,
    /// Only this kind; empty: every kind.
    pub kind: String,
    pub window: HistoryQuery,
}

/// The list's columns and filters: `$1` the user, `$2` the account or '', `$3` the kind or '',
/// `$4`/`$5` the window, `$6` the cursor's `seq`, `$7` the row limit.
macro_rules! transfers_select {
    () => {
        "SELECT e.seq, e.id AS entry_id, t.id, t.kind, t.from_account_id, t.to_account_id, \
         t.amount, t.currency, t.memo, t.external_ref, t.initiated_by, t.created_at \
         FROM entries AS e JOIN transfers AS t ON t.id = e.transfer_id \
         WHERE e.account_id IN (SELECT id FROM accounts WHERE user_id = $1) \
         AND ($2 = '' OR e.account_id = $2) AND ($3 = '' OR t.kind = $3) \
         AND e.created_at >= $4 AND e.created_at < $5 "
    };
}

impl Store {
    /// A page of `user_id`'s transfers.
    pub async fn user_transfers(
        &self,
        user_id: &str,
        query: &TransferQuery,
    ) -> Result<Vec<TransferListRow>, StoreError> {
        let window = &query.window;
        let (sql, after) = if window.newest_first {
            (
                concat!(
                    transfers_select!(),
                    "AND e.seq < $6 ORDER BY e.seq DESC LIMIT $7"
                ),
                window.after_seq.unwrap_or(i64::MAX),
            )
        } else {
            (
                concat!(
                    transfers_select!(),
                    "AND e.seq > $6 ORDER BY e.seq LIMIT $7"
                ),
                window.after_seq.unwrap_or(0),
            )
        };
        let limit = window
            .limit
            .clamp(1, ENTRIES_PAGE_LEN_MAX.saturating_add(1));
        let rows: Vec<TransferListRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id)
            .bind(&query.account_id)
            .bind(&query.kind)
            .bind(window.since)
            .bind(window.until)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    /// The `seq` of entry `entry_id` if it belongs to one of `user_id`'s accounts.
    pub async fn user_entry_seq(
        &self,
        user_id: &str,
        entry_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT e.seq FROM entries AS e JOIN accounts AS a ON a.id = e.account_id \
                   WHERE e.id = $1 AND a.user_id = $2";
        let seq: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(entry_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?);
        Ok(seq)
    }

    /// A page of `account_id`'s history (walks `entries_by_account` in either direction).
    pub async fn account_history(
        &self,
        account_id: &str,
        query: &HistoryQuery,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let (sql, after) = if query.newest_first {
            (
                concat!(
                    history_select!(),
                    "AND e.seq < $2 ORDER BY e.seq DESC LIMIT $5"
                ),
                query.after_seq.unwrap_or(i64::MAX),
            )
        } else {
            (
                concat!(history_select!(), "AND e.seq > $2 ORDER BY e.seq LIMIT $5"),
                query.after_seq.unwrap_or(0),
            )
        };
        let limit = query.limit.clamp(1, ENTRIES_PAGE_LEN_MAX.saturating_add(1));
        let rows: Vec<HistoryEntry> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(account_id)
            .bind(after)
            .bind(query.since)
            .bind(query.until)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    /// The `seq` of entry `entry_id` if it is `account_id`'s (a page cursor names an entry).
    pub async fn entry_seq(
        &self,
        account_id: &str,
        entry_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT seq FROM entries WHERE id = $1 AND account_id = $2";
        let seq: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(entry_id)
            .bind(account_id)
            .fetch_optional(pool)
            .await?);
        Ok(seq)
    }
}
