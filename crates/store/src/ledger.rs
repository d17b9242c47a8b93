//! Ledger reads, account creation and status, and idempotency-key retention. Postings are
//! written only by the ledger writer (`writer.rs`).

use crate::audit::{AuditEntry, append_audit};
use crate::limits::ENTRIES_PAGE_LEN_MAX;
use crate::{Pool, Store, StoreError, on_pool};

/// Entries read per batch by `ledger verify`.
pub const VERIFY_BATCH_LEN: i64 = 5_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub currency: String,
    pub balance: i64,
    /// The sum of the account's active holds; `balance − held` is available.
    pub held: i64,
    pub status: String,
    pub created_at: i64,
    /// An operator account's name (`fees`, `revenue`); `None` for the others.
    pub name: Option<String>,
}

impl AccountRecord {
    /// What a debit may take: the balance less the active holds.
    pub fn available(&self) -> i64 {
        self.balance.saturating_sub(self.held)
    }
}

macro_rules! account_columns {
    () => {
        "id, user_id, kind, currency, balance, held, status, created_at, name"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransferRecord {
    pub id: String,
    pub kind: String,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub memo: Option<String>,
    pub external_ref: Option<String>,
    pub initiated_by: String,
    pub created_at: i64,
    /// For a reversal: the transfer it reverses (read where a query selects it).
    #[sqlx(default)]
    pub reverses: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRecord {
    pub seq: i64,
    pub id: String,
    pub transfer_id: String,
    pub account_id: String,
    pub direction: String,
    pub amount: i64,
    pub balance_after: i64,
    pub currency: String,
    pub created_at: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// A journal entry with its transfer row (absent when the row is missing), for `ledger
/// verify`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JournalRecord {
    #[sqlx(flatten)]
    pub entry: EntryRecord,
    pub t_kind: Option<String>,
    pub t_from: Option<String>,
    pub t_to: Option<String>,
    pub t_amount: Option<i64>,
    pub t_currency: Option<String>,
    pub t_memo: Option<String>,
    pub t_external_ref: Option<String>,
    pub t_initiated_by: Option<String>,
    pub t_created_at: Option<i64>,
    pub t_reverses: Option<String>,
}

impl JournalRecord {
    /// The transfer row as the entry's hash commits to it.
    pub fn transfer(&self) -> Option<ledger::TransferFacts<'_>> {
        Some(ledger::TransferFacts {
            kind: self.t_kind.as_deref()?,
            from_account_id: self.t_from.as_deref()?,
            to_account_id: self.t_to.as_deref()?,
            amount: self.t_amount?,
            currency: self.t_currency.as_deref()?,
            memo: self.t_memo.as_deref(),
            external_ref: self.t_external_ref.as_deref(),
            initiated_by: self.t_initiated_by.as_deref()?,
            created_at: self.t_created_at?,
            reverses: self.t_reverses.as_deref(),
        })
    }
}

impl Store {
    /// Creates the operator's settlement account for each currency once.
    pub async fn ensure_settlement_accounts(
        &self,
        currencies: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO accounts (id, user_id, kind, currency, balance, status, created_at) \
                   VALUES ($1, NULL, 'settlement', $2, 0, 'active', $3) ON CONFLICT DO NOTHING";
        for currency in currencies {
            let id = format!("settlement-{currency}");
            on_pool!(self, pool => sqlx::query(sql).bind(&id).bind(currency).bind(now).execute(pool).await?.rows_affected());
        }
        Ok(())
    }

    /// `false` when the user already has an account in that currency (or, for an operator
    /// account, one of that name does).
    pub async fn create_account(&self, account: &AccountRecord) -> Result<bool, StoreError> {
        let sql = "INSERT INTO accounts (id, user_id, kind, currency, balance, status, created_at, \
                   name) VALUES ($1, $2, $3, $4, 0, $5, $6, $7) ON CONFLICT DO NOTHING";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(&account.id).bind(&account.user_id).bind(&account.kind).bind(&account.currency)
            .bind(&account.status).bind(account.created_at).bind(&account.name)
            .execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Opens an operator account with its audit record, in one transaction; `false` (and no
    /// record) when one of that name is open in that currency already.
    pub async fn create_operator_account(
        &self,
        account: &AccountRecord,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO accounts (id, user_id, kind, currency, balance, status, created_at, \
                   name) VALUES ($1, NULL, 'operator', $2, 0, $3, $4, $5) ON CONFLICT DO NOTHING";
        let changed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(sql)
                .bind(&account.id).bind(&account.currency).bind(&account.status)
                .bind(account.created_at).bind(&account.name)
                .execute(&mut *tx).await?.rows_affected();
            if changed == 1 {
                append_audit!(tx, std::slice::from_ref(audit));
            }
            tx.commit().await?;
            changed
        });
        Ok(changed == 1)
    }

    /// The operator account `name` in `currency`, if it is open.
    pub async fn find_operator_account(
        &self,
        name: &str,
        currency: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE kind = 'operator' AND name = $1 AND currency = $2"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(sql).bind(name).bind(currency).fetch_optional(pool).await?),
        )
    }

    pub async fn find_account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        );
        let row: Option<AccountRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// One page of a user's accounts by currency, strictly after `after_currency`; up to
    /// `limit` rows.
    pub async fn list_accounts(
        &self,
        user_id: &str,
        after_currency: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE user_id = $1 AND ($2 IS NULL OR currency > $2) ORDER BY currency LIMIT $3"
        );
        let rows: Vec<AccountRecord> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id).bind(after_currency).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    pub async fn all_accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let sql = concat!("SELECT ", account_columns!(), " FROM accounts ORDER BY id");
        let rows: Vec<AccountRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows)
    }

    pub async fn find_transfer(&self, id: &str) -> Result<Option<TransferRecord>, StoreError> {
        let sql = "SELECT id, kind, from_account_id, to_account_id, amount, currency, memo, external_ref, \
                   initiated_by, created_at, reverses FROM transfers WHERE id = $1";
        let row: Option<TransferRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// The id of the transfer that reversed transfer `id`, if one did.
    pub async fn reversal_of(&self, id: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT id FROM transfers WHERE reverses = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await?))
    }

    /// An account's entries after `after_seq`, oldest first: at most one more than a page,
    /// so the caller can tell whether another page follows.
    pub async fn account_entries(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, StoreError> {
        let sql = "SELECT seq, id, transfer_id, account_id, direction, amount, balance_after, currency, created_at, \
                   prev_hash, hash FROM entries WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
        let rows: Vec<EntryRecord> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(account_id).bind(after_seq).bind(limit.clamp(1, ENTRIES_PAGE_LEN_MAX.saturating_add(1))).fetch_all(pool).await?);
        Ok(rows)
    }

    /// The journal in order, a batch at a time (for `ledger verify`).
    pub async fn journal_after(&self, after_seq: i64) -> Result<Vec<JournalRecord>, StoreError> {
        let sql = "SELECT e.seq, e.id, e.transfer_id, e.account_id, e.direction, e.amount, \
                   e.balance_after, e.currency, e.created_at, e.prev_hash, e.hash, \
                   t.kind AS t_kind, t.from_account_id AS t_from, t.to_account_id AS t_to, \
                   t.amount AS t_amount, t.currency AS t_currency, t.memo AS t_memo, \
                   t.external_ref AS t_external_ref, t.initiated_by AS t_initiated_by, \
                   t.created_at AS t_created_at, t.reverses AS t_reverses \
                   FROM entries AS e LEFT JOIN transfers AS t ON t.id = e.transfer_id \
                   WHERE e.seq > $1 ORDER BY e.seq LIMIT $2";
        let rows: Vec<JournalRecord> = on_pool!(self, pool => sqlx::query_as(sql).bind(after_seq).bind(VERIFY_BATCH_LEN).fetch_all(pool).await?);
        Ok(rows)
    }

    /// How many transfer rows are stored (each must have its two entries).
    pub async fn transfer_count(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM transfers";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// The chain head: (last sequence number, its hash).
    pub async fn ledger_head(&self) -> Result<(i64, Vec<u8>), StoreError> {
        let sql = "SELECT seq, hash FROM ledger_head WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await?))
    }

    /// Freezes (`active = false`) or unfreezes a customer account. Bumps the writer
    /// generation under the chain-head lock, so every ledger writer re-reads its accounts
    /// before its next batch. `false` when no such customer account exists.
    pub async fn set_account_active(
        &self,
        id: &str,
        active: bool,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let lock = "UPDATE ledger_head SET generation = generation + 1 WHERE id = 1";
        // A closed account (its owner closed their account) is never reopened.
        let update = "UPDATE accounts SET status = $1 WHERE id = $2 AND kind = 'customer' \
                      AND status <> 'closed'";
        let status = if active { "active" } else { "frozen" };
        // Written after the head lock, like the writer's: event ids follow commit order.
        let event = "INSERT INTO ledger_events (kind, account_id, created_at) VALUES ($1, $2, $3)";
        let kind = if active {
            "account_unfrozen"
        } else {
            "account_frozen"
        };
        let changed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(lock).execute(&mut *tx).await?;
            let changed = sqlx::query(update).bind(status).bind(id).execute(&mut *tx).await?.rows_affected();
            if changed == 1 {
                sqlx::query(event).bind(kind).bind(id).bind(audit.at).execute(&mut *tx).await?;
                append_audit!(tx, std::slice::from_ref(audit));
            }
            tx.commit().await?;
            changed
        });
        Ok(changed == 1)
    }

    /// Deletes up to `limit` idempotency keys created before `before` (ms); returns how many.
    pub async fn purge_idempotency_keys(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM idempotency_keys WHERE (scope, key) IN \
                   (SELECT scope, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)";
        Ok(
            on_pool!(self, pool => sqlx::query(sql).bind(before).bind(limit).execute(pool).await?.rows_affected()),
        )
    }
}
