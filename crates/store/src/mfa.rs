//! Second-factor persistence: TOTP credentials with one-time steps, recovery codes, MFA
//! tickets. One-time use is always a conditional UPDATE (compare-and-set), never a read
//! followed by a write.

pub use crate::limits::LEGACY_BATCH_LEN_MAX;
use crate::{Pool, Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRecord {
    pub secret_sealed: Option<Vec<u8>>,
    pub pending_sealed: Option<Vec<u8>>,
    pub confirmed_at: Option<i64>,
    pub last_used_step: Option<i64>,
}

/// A TOTP credential sealed the old way: (user id, secret, pending secret).
pub type LegacyTotpRow = (String, Option<Vec<u8>>, Option<Vec<u8>>);

impl Store {
    pub async fn find_totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError> {
        let sql = "SELECT secret_sealed, pending_sealed, confirmed_at, last_used_step \
                   FROM totp_credentials WHERE user_id = $1";
        let row: Option<TotpRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// Stores a new pending secret for `session_id` until `expires_at`; a confirmed
    /// credential stays active until confirmation.
    pub async fn set_pending_totp(
        &self,
        user_id: &str,
        sealed: &[u8],
        session_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO totp_credentials (user_id, pending_sealed, pending_session_id, \
                   pending_expires_at, pending_attempts, created_at, key_scheme) \
                   VALUES ($1, $2, $3, $4, 0, $5, 'envelope-v1') \
                   ON CONFLICT (user_id) DO UPDATE SET pending_sealed = excluded.pending_sealed, \
                   pending_session_id = excluded.pending_session_id, \
                   pending_expires_at = excluded.pending_expires_at, pending_attempts = 0";
        on_pool!(self, pool => sqlx::query(sql).bind(user_id).bind(sealed).bind(session_id)
            .bind(expires_at).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Spends one confirmation attempt of the pending secret of `session_id` before its code
    /// is checked; the sealed pending secret, or `None` when there is none for this session,
    /// it expired, or its attempts are spent.
    pub async fn claim_pending_totp(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
        attempts_max: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "UPDATE totp_credentials SET pending_attempts = pending_attempts + 1 \
                   WHERE user_id = $1 AND pending_sealed IS NOT NULL AND pending_session_id = $2 \
                   AND pending_expires_at > $3 AND pending_attempts < $4 RETURNING pending_sealed";
        let row: Option<Option<Vec<u8>>> = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(user_id).bind(session_id).bind(now).bind(attempts_max).fetch_optional(pool).await?);
        Ok(row.flatten())
    }

    /// Activates the pending secret verified with `step`, replaces the recovery codes, in one
    /// transaction. `false` when the pending secret changed meanwhile.
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        pending: &[u8],
        step: i64,
        recovery_code_macs: &[Vec<u8>],
        now: i64,
    ) -> Result<bool, StoreError> {
        let activate = "UPDATE totp_credentials SET secret_sealed = pending_sealed, pending_sealed = NULL, \
                        pending_session_id = NULL, pending_expires_at = NULL, key_scheme = 'envelope-v1', \
                        confirmed_at = $1, last_used_step = $2 WHERE user_id = $3 AND pending_sealed = $4";
        let clear = "DELETE FROM recovery_codes WHERE user_id = $1";
        let insert = "INSERT INTO recovery_codes (code_mac, user_id, created_at, key_scheme) \
                      VALUES ($1, $2, $3, 'envelope-v1')";
        let confirmed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(activate).bind(now).bind(step).bind(user_id).bind(pending)
                .execute(&mut *tx).await?.rows_affected();
            if changed == 1 {
                sqlx::query(clear).bind(user_id).execute(&mut *tx).await?;
                for mac in recovery_code_macs {
                    sqlx::query(insert).bind(mac).bind(user_id).bind(now).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                true
            } else {
                tx.rollback().await?;
                false
            }
        });
        Ok(confirmed)
    }

    /// Accepts TOTP step `step` once: only if it is later than every step used before.
    pub async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE totp_credentials SET last_used_step = $1 WHERE user_id = $2 \
                   AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $1)";
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(step).bind(user_id).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Spends one recovery code; `false` when unknown or already used.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code_mac: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE recovery_codes SET used_at = $1 WHERE code_mac = $2 AND user_id = $3 AND used_at IS NULL";
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(now).bind(code_mac).bind(user_id).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn create_mfa_ticket(
        &self,
        ticket_hash: &[u8],
        user_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO mfa_tickets (ticket_hash, user_id, expires_at, attempts) VALUES ($1, $2, $3, 0)";
        on_pool!(self, pool => sqlx::query(sql).bind(ticket_hash).bind(user_id).bind(expires_at).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The user of a ticket that is unused, unexpired and has attempts left (no attempt spent).
    pub async fn mfa_ticket_user(
        &self,
        ticket_hash: &[u8],
        now: i64,
        attempts_max: i64,
    ) -> Result<Option<String>, StoreError> {
        let sql = "SELECT user_id FROM mfa_tickets WHERE ticket_hash = $1 AND used_at IS NULL \
                   AND expires_at > $2 AND attempts < $3";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(ticket_hash).bind(now).bind(attempts_max).fetch_optional(pool).await?),
        )
    }

    /// Spends one attempt of a live ticket *before* its code is checked, in one conditional
    /// statement: concurrent guesses can never check more than `attempts_max` codes per ticket.
    /// The ticket's user, or `None` when it is unknown, spent, expired or out of attempts.
    pub async fn claim_mfa_attempt(
        &self,
        ticket_hash: &[u8],
        now: i64,
        attempts_max: i64,
    ) -> Result<Option<String>, StoreError> {
        let sql = "UPDATE mfa_tickets SET attempts = attempts + 1 WHERE ticket_hash = $1 \
                   AND used_at IS NULL AND expires_at > $2 AND attempts < $3 RETURNING user_id";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(ticket_hash).bind(now).bind(attempts_max).fetch_optional(pool).await?),
        )
    }

    /// Spends a ticket whose attempt was claimed; `false` when someone else already did (or
    /// it expired).
    pub async fn consume_mfa_ticket(
        &self,
        ticket_hash: &[u8],
        now: i64,
        attempts_max: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE mfa_tickets SET used_at = $1 WHERE ticket_hash = $2 AND used_at IS NULL \
                   AND expires_at > $1 AND attempts <= $3";
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(now).bind(ticket_hash).bind(attempts_max).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Replaces every recovery code of the user, in one transaction.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        code_macs: &[Vec<u8>],
        now: i64,
    ) -> Result<(), StoreError> {
        let clear = "DELETE FROM recovery_codes WHERE user_id = $1";
        let insert = "INSERT INTO recovery_codes (code_mac, user_id, created_at, key_scheme) \
                      VALUES ($1, $2, $3, 'envelope-v1')";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(clear).bind(user_id).execute(&mut *tx).await?;
            for mac in code_macs {
                sqlx::query(insert).bind(mac).bind(user_id).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Unused recovery codes of the user.
    pub async fn recovery_codes_remaining(&self, user_id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(user_id).fetch_one(pool).await?))
    }

    /// Records a step-up on the session: later tokens of the session carry the new `acr`.
    pub async fn set_session_authentication(
        &self,
        session_id: &str,
        acr: &str,
        amr: &str,
        auth_time: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET acr = $1, amr = $2, auth_time = $3 WHERE id = $4 AND revoked_at IS NULL";
        on_pool!(self, pool => sqlx::query(sql).bind(acr).bind(amr).bind(auth_time).bind(session_id).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Up to `LEGACY_BATCH_LEN_MAX` TOTP credentials still sealed under the key derived from
    /// the local KEK file: (user id, secret, pending secret).
    pub async fn legacy_totp_credentials(&self) -> Result<Vec<LegacyTotpRow>, StoreError> {
        let sql = "SELECT user_id, secret_sealed, pending_sealed FROM totp_credentials \
                   WHERE key_scheme = 'local-v1' ORDER BY user_id LIMIT $1";
        Ok(
            on_pool!(self, pool => sqlx::query_as(sql).bind(LEGACY_BATCH_LEN_MAX).fetch_all(pool).await?),
        )
    }

    /// Replaces a legacy-sealed TOTP credential with its envelope-sealed form, only if it is
    /// still the one that was read.
    pub async fn reseal_totp(
        &self,
        user_id: &str,
        old: (Option<&[u8]>, Option<&[u8]>),
        new: (Option<&[u8]>, Option<&[u8]>),
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE totp_credentials SET secret_sealed = $1, pending_sealed = $2, key_scheme = 'envelope-v1' \
                   WHERE user_id = $3 AND key_scheme = 'local-v1' \
                   AND secret_sealed IS NOT DISTINCT FROM $4 AND pending_sealed IS NOT DISTINCT FROM $5";
        let sql_sqlite = "UPDATE totp_credentials SET secret_sealed = $1, pending_sealed = $2, key_scheme = 'envelope-v1' \
                   WHERE user_id = $3 AND key_scheme = 'local-v1' \
                   AND secret_sealed IS $4 AND pending_sealed IS $5";
        let sql = match self.backend() {
            crate::Backend::Sqlite => sql_sqlite,
            crate::Backend::Postgres => sql,
        };
        let changed = on_pool!(self, pool => sqlx::query(sql).bind(new.0).bind(new.1).bind(user_id)
            .bind(old.0).bind(old.1).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// TOTP credentials still sealed under the key derived from the local KEK file.
    pub async fn legacy_totp_count(&self) -> Result<i64, StoreError> {
        let sql =
            "SELECT CAST(COUNT(*) AS BIGINT) FROM totp_credentials WHERE key_scheme = 'local-v1'";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }

    /// Unused recovery codes still keyed under the MAC key derived from the local KEK file.
    pub async fn legacy_recovery_codes(&self) -> Result<i64, StoreError> {
        let sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM recovery_codes \
                   WHERE key_scheme = 'local-v1' AND used_at IS NULL";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?))
    }
}
