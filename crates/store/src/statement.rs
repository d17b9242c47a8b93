//! An account statement: the opening balance, the entries of a period and the closing balance.
//! The period is cut in commit order, at the account's first entry created at or after each
//! bound, so opening + entries = closing holds exactly (and is checked here before a
//! statement is answered).

use crate::history::HistoryEntry;
use crate::{Pool, Store, StoreError, on_pool};

/// A period of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub opening_balance: i64,
    pub entries: Vec<HistoryEntry>,
    pub closing_balance: i64,
}

/// What a statement request may find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementOutcome {
    Ready(Statement),
    /// The period holds more than the allowed number of entries.
    TooLong,
}

impl Store {
    /// `account_id`'s statement for `since`..`until` (milliseconds; `until` exclusive) with at
    /// most `max_entries` entries.
    pub async fn statement(
        &self,
        account_id: &str,
        since: i64,
        until: i64,
        max_entries: i64,
    ) -> Result<StatementOutcome, StoreError> {
        let first = "SELECT COALESCE(MIN(seq), 9223372036854775807) FROM entries \
                     WHERE account_id = $1 AND created_at >= $2";
        let opening = "SELECT balance_after FROM entries WHERE account_id = $1 AND seq < $2 \
                       ORDER BY seq DESC LIMIT 1";
        let rows = "SELECT e.seq, e.id, e.transfer_id, e.direction, e.amount, e.balance_after, \
             e.currency, e.created_at, t.kind, t.memo, t.external_ref, \
             CASE WHEN e.direction = 'debit' THEN t.to_account_id ELSE t.from_account_id END \
             AS counterparty_account_id FROM entries AS e JOIN transfers AS t ON t.id = e.transfer_id \
             WHERE e.account_id = $1 AND e.seq >= $2 AND e.seq < $3 ORDER BY e.seq LIMIT $4";
        // One snapshot for all four reads: SQLite's read transaction is one already; on
        // PostgreSQL, READ COMMITTED would let a posting committed between them into the
        // opening balance of a period whose entries it is not among.
        let snapshot = match &self.pool {
            Pool::Postgres(_) => "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            Pool::Sqlite(_) => "SELECT 1",
        };
        let (opening_balance, entries) = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(snapshot).execute(&mut *tx).await?;
            let lo: i64 = sqlx::query_scalar(first).bind(account_id).bind(since).fetch_one(&mut *tx).await?;
            let hi: i64 = sqlx::query_scalar(first).bind(account_id).bind(until).fetch_one(&mut *tx).await?;
            let opening: Option<i64> = sqlx::query_scalar(opening).bind(account_id).bind(lo).fetch_optional(&mut *tx).await?;
            let entries: Vec<HistoryEntry> = sqlx::query_as(rows)
                .bind(account_id).bind(lo).bind(hi).bind(max_entries.saturating_add(1))
                .fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (opening.unwrap_or(0), entries)
        });
        if i64::try_from(entries.len()).unwrap_or(i64::MAX) > max_entries {
            return Ok(StatementOutcome::TooLong);
        }
        let mut balance = opening_balance;
        for entry in &entries {
            let signed = if entry.direction == "credit" {
                Some(entry.amount)
            } else {
                entry.amount.checked_neg()
            };
            balance = signed
                .and_then(|signed| balance.checked_add(signed))
                .filter(|after| *after == entry.balance_after)
                .ok_or(StoreError::Invariant(
                    "an entry's balance does not follow from the one before it",
                ))?;
        }
        Ok(StatementOutcome::Ready(Statement {
            opening_balance,
            entries,
            closing_balance: balance,
        }))
    }
}
