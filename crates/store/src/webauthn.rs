//! Passkey persistence: credentials (serialized by the WebAuthn library, opaque here) and
//! single-use ceremony state.

pub use crate::limits::PASSKEYS_PER_USER_MAX;
use crate::{Pool, Store, StoreError, on_pool};

/// What registering a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyInsert {
    Added,
    /// The credential id is registered already.
    Duplicate,
    /// The user has `PASSKEYS_PER_USER_MAX` passkeys.
    TooMany,
}

/// Which factor to remove.
#[derive(Debug, Clone, Copy)]
pub enum FactorRef<'a> {
    Totp,
    Passkey(&'a str),
}

/// What removing a factor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed,
    NotFound,
    /// It was the last factor and one is required.
    LastFactor,
}

/// A passkey as listed to its owner.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct CeremonyRecord {
    pub user_id: Option<String>,
    pub state: String,
}

impl Store {
    pub async fn passkeys(&self, user_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT credential_id, passkey FROM webauthn_credentials WHERE user_id = $1 \
                   ORDER BY created_at LIMIT $2";
        Ok(
            on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).bind(PASSKEYS_PER_USER_MAX).fetch_all(pool).await?),
        )
    }

    /// Registers a passkey unless the credential id is already registered (to anyone) or the
    /// user already has `PASSKEYS_PER_USER_MAX`. The count and the insert are one decision:
    /// on PostgreSQL the user's row is locked first, on SQLite writers are serialised.
    pub async fn add_passkey(
        &self,
        credential_id: &str,
        user_id: &str,
        name: &str,
        passkey: &str,
        now: i64,
    ) -> Result<PasskeyInsert, StoreError> {
        let lock = "SELECT id FROM users WHERE id = $1 FOR UPDATE";
        let count = "SELECT CAST(COUNT(*) AS BIGINT) FROM webauthn_credentials WHERE user_id = $1";
        let insert = "INSERT INTO webauthn_credentials (credential_id, user_id, name, passkey, created_at) \
                      VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING";
        let outcome = on_pool!(self, pool => {
            // SQLite: IMMEDIATE takes the write lock first; PostgreSQL: the user's row lock.
            // Either way the count cannot go stale before the insert.
            let mut tx = match self.backend() {
                crate::Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
                crate::Backend::Postgres => {
                    let mut tx = pool.begin().await?;
                    sqlx::query(lock).bind(user_id).execute(&mut *tx).await?;
                    tx
                }
            };
            let existing: i64 = sqlx::query_scalar(count).bind(user_id).fetch_one(&mut *tx).await?;
            if existing >= PASSKEYS_PER_USER_MAX {
                tx.rollback().await?;
                PasskeyInsert::TooMany
            } else {
                let changed = sqlx::query(insert).bind(credential_id).bind(user_id).bind(name)
                    .bind(passkey).bind(now).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                if changed == 1 { PasskeyInsert::Added } else { PasskeyInsert::Duplicate }
            }
        });
        Ok(outcome)
    }

    /// The user's passkeys as shown to them (no key material), oldest first.
    pub async fn passkey_list(&self, user_id: &str) -> Result<Vec<PasskeyInfo>, StoreError> {
        let sql = "SELECT credential_id, name, created_at, last_used_at FROM webauthn_credentials \
                   WHERE user_id = $1 ORDER BY created_at LIMIT $2";
        let rows: Vec<(String, String, i64, Option<i64>)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id).bind(PASSKEYS_PER_USER_MAX).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, last_used_at)| PasskeyInfo {
                id,
                name,
                created_at,
                last_used_at,
            })
            .collect())
    }

    pub async fn update_passkey(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE webauthn_credentials SET passkey = $1, last_used_at = $2 WHERE credential_id = $3";
        on_pool!(self, pool => sqlx::query(sql).bind(passkey).bind(now).bind(credential_id).execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn save_ceremony(
        &self,
        id: &str,
        kind: &str,
        user_id: Option<&str>,
        state: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO webauthn_ceremonies (id, kind, user_id, state, expires_at) VALUES ($1, $2, $3, $4, $5)";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(kind).bind(user_id).bind(state).bind(expires_at).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Takes (deletes and returns) a live ceremony of `kind`; a second take finds nothing.
    pub async fn take_ceremony(
        &self,
        id: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<CeremonyRecord>, StoreError> {
        let sql = "DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2 AND expires_at > $3 \
                   RETURNING user_id, state";
        let row: Option<(Option<String>, String)> = on_pool!(self, pool => sqlx::query_as(sql).bind(id).bind(kind).bind(now).fetch_optional(pool).await?);
        Ok(row.map(|(user_id, state)| CeremonyRecord { user_id, state }))
    }

    /// Removes one second factor of a user in one transaction that locks the user first
    /// (PostgreSQL: the user's row; SQLite: the write lock), so concurrent removals cannot
    /// both pass the check: with `keep_one`, the last factor is refused. When no factor
    /// remains, the recovery codes go too.
    pub async fn remove_factor(
        &self,
        user_id: &str,
        factor: FactorRef<'_>,
        keep_one: bool,
    ) -> Result<RemoveOutcome, StoreError> {
        let lock = "SELECT id FROM users WHERE id = $1 FOR UPDATE";
        let totp = "SELECT CAST(COUNT(*) AS BIGINT) FROM totp_credentials \
                    WHERE user_id = $1 AND confirmed_at IS NOT NULL";
        let passkeys =
            "SELECT CAST(COUNT(*) AS BIGINT) FROM webauthn_credentials WHERE user_id = $1";
        let has_passkey = "SELECT CAST(COUNT(*) AS BIGINT) FROM webauthn_credentials \
                           WHERE user_id = $1 AND credential_id = $2";
        let delete_totp = "DELETE FROM totp_credentials WHERE user_id = $1";
        let delete_passkey =
            "DELETE FROM webauthn_credentials WHERE user_id = $1 AND credential_id = $2";
        let delete_codes = "DELETE FROM recovery_codes WHERE user_id = $1";
        let outcome = on_pool!(self, pool => {
            let mut tx = match self.backend() {
                crate::Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
                crate::Backend::Postgres => {
                    let mut tx = pool.begin().await?;
                    sqlx::query(lock).bind(user_id).execute(&mut *tx).await?;
                    tx
                }
            };
            let totp_count: i64 = sqlx::query_scalar(totp).bind(user_id).fetch_one(&mut *tx).await?;
            let passkey_count: i64 = sqlx::query_scalar(passkeys).bind(user_id).fetch_one(&mut *tx).await?;
            let exists = match factor {
                FactorRef::Totp => totp_count > 0,
                FactorRef::Passkey(id) => {
                    let found: i64 = sqlx::query_scalar(has_passkey).bind(user_id).bind(id).fetch_one(&mut *tx).await?;
                    found > 0
                }
            };
            let remaining = totp_count.saturating_add(passkey_count).saturating_sub(1);
            if !exists {
                tx.rollback().await?;
                RemoveOutcome::NotFound
            } else if keep_one && remaining == 0 {
                tx.rollback().await?;
                RemoveOutcome::LastFactor
            } else {
                match factor {
                    FactorRef::Totp => sqlx::query(delete_totp).bind(user_id).execute(&mut *tx).await?,
                    FactorRef::Passkey(id) => sqlx::query(delete_passkey).bind(user_id).bind(id).execute(&mut *tx).await?,
                };
                if remaining == 0 {
                    sqlx::query(delete_codes).bind(user_id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                RemoveOutcome::Removed
            }
        });
        Ok(outcome)
    }
}
