//! Ledger persistence. Every posting is one transaction that first locks the chain head (a
//! single row), so postings are serialised on SQLite and across instances on PostgreSQL; the
//! debit is a conditional UPDATE (`balance >= amount`), so no interleaving can overdraw; the
//! two entries are hash-chained; the idempotency record is completed in the same transaction.

use ledger::{Direction, EntryFacts, entry_hash};

use crate::{Pool, Store, StoreError, on_pool};

/// Entries per page of an account's history.
pub const ENTRIES_PAGE_LEN_MAX: i64 = 200;
/// Entries read per batch by `ledger verify`.
pub const VERIFY_BATCH_LEN: i64 = 5_000;

#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub currency: String,
    pub balance: i64,
    pub status: String,
    pub created_at: i64,
}

type AccountRow = (String, Option<String>, String, String, i64, String, i64);

fn account(row: AccountRow) -> AccountRecord {
    let (id, user_id, kind, currency, balance, status, created_at) = row;
    AccountRecord {
        id,
        user_id,
        kind,
        currency,
        balance,
        status,
        created_at,
    }
}

macro_rules! account_columns {
    () => {
        "id, user_id, kind, currency, balance, status, created_at"
    };
}

#[derive(Debug, Clone)]
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
}

type TransferRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
);

#[derive(Debug, Clone)]
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

/// (request hash, state, response status, response body).
type IdempotencyRow = (Vec<u8>, String, Option<i32>, Option<String>);

type EntryRow = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    i64,
    Vec<u8>,
    Vec<u8>,
);

fn entry(row: EntryRow) -> EntryRecord {
    let (
        seq,
        id,
        transfer_id,
        account_id,
        direction,
        amount,
        balance_after,
        currency,
        created_at,
        prev_hash,
        hash,
    ) = row;
    EntryRecord {
        seq,
        id,
        transfer_id,
        account_id,
        direction,
        amount,
        balance_after,
        currency,
        created_at,
        prev_hash,
        hash,
    }
}

/// Why a posting was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingRefused {
    InsufficientFunds,
    AccountNotActive,
    AccountNotFound,
    CurrencyMismatch,
}

/// The idempotency record completed together with the posting.
#[derive(Debug, Clone)]
pub struct IdempotencyCompletion {
    pub scope: String,
    pub key: String,
    pub status: i32,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// This request owns the key now.
    Claimed,
    InProgress,
    Mismatch,
    Done {
        status: i32,
        body: String,
    },
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

    /// `false` when the user already has an account in that currency.
    pub async fn create_account(&self, account: &AccountRecord) -> Result<bool, StoreError> {
        let sql = "INSERT INTO accounts (id, user_id, kind, currency, balance, status, created_at) \
                   VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT DO NOTHING";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(&account.id).bind(&account.user_id).bind(&account.kind).bind(&account.currency)
            .bind(&account.status).bind(account.created_at).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn find_account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        );
        let row: Option<AccountRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(account))
    }

    pub async fn list_accounts(&self, user_id: &str) -> Result<Vec<AccountRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE user_id = $1 ORDER BY currency"
        );
        let rows: Vec<AccountRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(account).collect())
    }

    pub async fn all_accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let sql = concat!("SELECT ", account_columns!(), " FROM accounts ORDER BY id");
        let rows: Vec<AccountRow> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(account).collect())
    }

    pub async fn find_transfer(&self, id: &str) -> Result<Option<TransferRecord>, StoreError> {
        let sql = "SELECT id, kind, from_account_id, to_account_id, amount, currency, memo, external_ref, \
                   initiated_by, created_at FROM transfers WHERE id = $1";
        let row: Option<TransferRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(
            |(
                id,
                kind,
                from_account_id,
                to_account_id,
                amount,
                currency,
                memo,
                external_ref,
                initiated_by,
                created_at,
            )| {
                TransferRecord {
                    id,
                    kind,
                    from_account_id,
                    to_account_id,
                    amount,
                    currency,
                    memo,
                    external_ref,
                    initiated_by,
                    created_at,
                }
            },
        ))
    }

    /// An account's entries after `after_seq`, oldest first.
    pub async fn account_entries(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, StoreError> {
        let sql = "SELECT seq, id, transfer_id, account_id, direction, amount, balance_after, currency, created_at, \
                   prev_hash, hash FROM entries WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
        let rows: Vec<EntryRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(account_id).bind(after_seq).bind(limit.clamp(1, ENTRIES_PAGE_LEN_MAX)).fetch_all(pool).await?);
        Ok(rows.into_iter().map(entry).collect())
    }

    /// The journal in order, a batch at a time (for `ledger verify`).
    pub async fn journal_after(&self, after_seq: i64) -> Result<Vec<EntryRecord>, StoreError> {
        let sql = "SELECT seq, id, transfer_id, account_id, direction, amount, balance_after, currency, created_at, \
                   prev_hash, hash FROM entries WHERE seq > $1 ORDER BY seq LIMIT $2";
        let rows: Vec<EntryRow> = on_pool!(self, pool => sqlx::query_as(sql).bind(after_seq).bind(VERIFY_BATCH_LEN).fetch_all(pool).await?);
        Ok(rows.into_iter().map(entry).collect())
    }

    /// The chain head: (last sequence number, its hash).
    pub async fn ledger_head(&self) -> Result<(i64, Vec<u8>), StoreError> {
        let sql = "SELECT seq, hash FROM ledger_head WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await?))
    }

    /// Claims an idempotency key for this request, or says what already happened with it.
    pub async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &[u8],
        now: i64,
    ) -> Result<IdempotencyClaim, StoreError> {
        let insert = "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at) \
                      VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING";
        let inserted = on_pool!(self, pool => sqlx::query(insert).bind(scope).bind(key).bind(request_hash).bind(now).execute(pool).await?.rows_affected());
        if inserted == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        let select = "SELECT request_hash, state, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2";
        let row: Option<IdempotencyRow> = on_pool!(self, pool => sqlx::query_as(select).bind(scope).bind(key).fetch_optional(pool).await?);
        Ok(match row {
            None => IdempotencyClaim::InProgress,
            Some((hash, _, _, _)) if hash != request_hash => IdempotencyClaim::Mismatch,
            Some((_, state, Some(status), Some(body))) if state == "done" => {
                IdempotencyClaim::Done { status, body }
            }
            Some(_) => IdempotencyClaim::InProgress,
        })
    }

    /// Records the final answer for a claimed key (for answers that moved no money).
    pub async fn complete_idempotency_key(
        &self,
        completion: &IdempotencyCompletion,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2 \
                   WHERE scope = $3 AND key = $4";
        on_pool!(self, pool => sqlx::query(sql).bind(completion.status).bind(&completion.body)
            .bind(&completion.scope).bind(&completion.key).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Releases a claimed key after an internal failure, so the client can retry.
    pub async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let sql =
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'pending'";
        on_pool!(self, pool => sqlx::query(sql).bind(scope).bind(key).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Posts a transfer atomically: lock the chain head, debit only if funds suffice, credit,
    /// write the transfer and two chained entries, complete the idempotency record, commit.
    pub async fn post_transfer(
        &self,
        transfer: &TransferRecord,
        entry_ids: (&str, &str),
        completion: Option<&IdempotencyCompletion>,
    ) -> Result<Result<(), PostingRefused>, StoreError> {
        let lock_head = "UPDATE ledger_head SET seq = seq WHERE id = 1";
        let read_head = "SELECT seq, hash FROM ledger_head WHERE id = 1";
        let debit = "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND currency = $3 \
                     AND status = 'active' AND (kind = 'settlement' OR balance >= $1) RETURNING balance";
        let inspect = "SELECT currency, status FROM accounts WHERE id = $1";
        let credit = "UPDATE accounts SET balance = balance + $1 WHERE id = $2 AND currency = $3 RETURNING balance";
        let insert_transfer = "INSERT INTO transfers (id, kind, from_account_id, to_account_id, amount, currency, memo, \
                               external_ref, initiated_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let insert_entry = "INSERT INTO entries (seq, id, transfer_id, account_id, direction, amount, balance_after, \
                            currency, created_at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let update_head = "UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1";
        let complete = "UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2 \
                        WHERE scope = $3 AND key = $4";
        let result = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(lock_head).execute(&mut *tx).await?;
            let (head_seq, head_hash): (i64, Vec<u8>) = sqlx::query_as(read_head).fetch_one(&mut *tx).await?;
            let debited: Option<i64> = sqlx::query_scalar(debit)
                .bind(transfer.amount).bind(&transfer.from_account_id).bind(&transfer.currency)
                .fetch_optional(&mut *tx).await?;
            let refusal = match debited {
                Some(_) => None,
                None => {
                    let found: Option<(String, String)> = sqlx::query_as(inspect).bind(&transfer.from_account_id).fetch_optional(&mut *tx).await?;
                    Some(match found {
                        None => PostingRefused::AccountNotFound,
                        Some((currency, _)) if currency != transfer.currency => PostingRefused::CurrencyMismatch,
                        Some((_, status)) if status != "active" => PostingRefused::AccountNotActive,
                        Some(_) => PostingRefused::InsufficientFunds,
                    })
                }
            };
            let credited: Option<i64> = if refusal.is_none() {
                sqlx::query_scalar(credit).bind(transfer.amount).bind(&transfer.to_account_id).bind(&transfer.currency)
                    .fetch_optional(&mut *tx).await?
            } else {
                None
            };
            match (refusal, debited, credited) {
                (Some(refused), _, _) => {
                    tx.rollback().await?;
                    Err(refused)
                }
                (None, Some(from_balance), Some(to_balance)) => {
                    sqlx::query(insert_transfer)
                        .bind(&transfer.id).bind(&transfer.kind).bind(&transfer.from_account_id).bind(&transfer.to_account_id)
                        .bind(transfer.amount).bind(&transfer.currency).bind(&transfer.memo).bind(&transfer.external_ref)
                        .bind(&transfer.initiated_by).bind(transfer.created_at)
                        .execute(&mut *tx).await?;
                    let mut previous = head_hash;
                    let mut seq = head_seq;
                    let sides = [
                        (entry_ids.0, &transfer.from_account_id, Direction::Debit, from_balance),
                        (entry_ids.1, &transfer.to_account_id, Direction::Credit, to_balance),
                    ];
                    for (id, account_id, direction, balance_after) in sides {
                        seq = seq.checked_add(1).ok_or(StoreError::InvalidUrl("ledger sequence exhausted"))?;
                        let facts = EntryFacts {
                            seq, id, transfer_id: &transfer.id, account_id, direction, amount: transfer.amount,
                            balance_after, currency: &transfer.currency, created_at: transfer.created_at,
                        };
                        let hash = entry_hash(&previous, &facts);
                        sqlx::query(insert_entry)
                            .bind(seq).bind(id).bind(&transfer.id).bind(account_id).bind(direction.as_str())
                            .bind(transfer.amount).bind(balance_after).bind(&transfer.currency).bind(transfer.created_at)
                            .bind(&previous).bind(&hash)
                            .execute(&mut *tx).await?;
                        previous = hash;
                    }
                    sqlx::query(update_head).bind(seq).bind(&previous).execute(&mut *tx).await?;
                    if let Some(completion) = completion {
                        sqlx::query(complete).bind(completion.status).bind(&completion.body)
                            .bind(&completion.scope).bind(&completion.key).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }
                (None, _, _) => {
                    tx.rollback().await?;
                    Err(PostingRefused::AccountNotFound)
                }
            }
        });
        Ok(result)
    }
}
