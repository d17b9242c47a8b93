//! Passkey persistence: credentials (serialized by the WebAuthn library, opaque here) and
//! single-use ceremony state.

use crate::{Pool, Store, StoreError, on_pool};

/// Passkeys one user may register.
pub const PASSKEYS_PER_USER_MAX: i64 = 32;

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

    /// `false` when the credential id is already registered (to anyone).
    pub async fn add_passkey(
        &self,
        credential_id: &str,
        user_id: &str,
        passkey: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO webauthn_credentials (credential_id, user_id, passkey, created_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (credential_id) DO NOTHING";
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(credential_id).bind(user_id).bind(passkey).bind(now).execute(pool).await?.rows_affected());
        Ok(changed == 1)
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

    /// Drops expired ceremonies (called opportunistically).
    pub async fn purge_ceremonies(&self, now: i64) -> Result<(), StoreError> {
        let sql = "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1";
        on_pool!(self, pool => sqlx::query(sql).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }
}
