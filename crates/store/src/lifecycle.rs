//! Account-lifecycle persistence: single-use tokens (password reset, email verification —
//! stored by SHA-256 only, at most one live per user and purpose), password changes, email
//! verification and change, and closing an account. Each change writes its security event,
//! its outbox notifications and its audit record in the transaction that makes it.

use crate::audit::{AuditEntry, append_audit};
use crate::identity::{INSERT_EVENT, SecurityEventRecord, bind_event};
use crate::protection::{INSERT_NOTIFICATION, NotificationRecord};
use crate::{Pool, Store, StoreError, on_pool};

/// A single-use token: what it is for, for whom, and the address it was sent to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserTokenRecord {
    pub token_hash: Vec<u8>,
    pub user_id: String,
    /// `password_reset` or `verify_email`.
    pub purpose: String,
    /// Where the token was sent: for an email change, the new address.
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What a lifecycle change announces, in its transaction: the user's security event (also
/// the audit record) and the notifications for the operator's delivery service.
#[derive(Debug, Clone, Copy)]
pub struct Announcement<'a> {
    pub event: &'a SecurityEventRecord,
    pub notifications: &'a [NotificationRecord],
}

/// Why an account was not closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// Closed: the sessions revoked with it.
    Done { revoked_sessions: Vec<String> },
    /// An account of the user holds money: nothing changed.
    BalanceNotZero,
    /// No such open account.
    NotFound,
}

/// What closing an account writes in place of the user's personal data.
#[derive(Debug, Clone, Copy)]
pub struct Tombstone<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    /// A hash no password matches.
    pub password_hash: &'a str,
}

const REVOKE_SESSIONS_BUT: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, \
    grace_blob = NULL WHERE user_id = $3 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4) \
    RETURNING id";
const DROP_TICKETS: &str = "DELETE FROM mfa_tickets WHERE user_id = $1";
const TAKE_TOKEN: &str = "DELETE FROM user_tokens WHERE token_hash = $1 AND purpose = $2 \
    AND user_id = $3 AND expires_at > $4 RETURNING email";
/// The rows of a closed user that hold personal data or a way in, deleted with it. The
/// profile row holds the only wrapped copy of its data key: deleting it crypto-shreds it.
const CLOSE_DELETES: &[&str] = &[
    "DELETE FROM profiles WHERE user_id = $1",
    "DELETE FROM totp_credentials WHERE user_id = $1",
    "DELETE FROM recovery_codes WHERE user_id = $1",
    "DELETE FROM webauthn_credentials WHERE user_id = $1",
    "DELETE FROM webauthn_ceremonies WHERE user_id = $1",
    "DELETE FROM mfa_tickets WHERE user_id = $1",
    "DELETE FROM user_tokens WHERE user_id = $1",
    "DELETE FROM known_devices WHERE user_id = $1",
    "DELETE FROM device_kinds WHERE user_id = $1",
    "DELETE FROM user_sightings WHERE user_id = $1",
    "DELETE FROM notifications WHERE user_id = $1",
    "UPDATE sessions SET ip = '', user_agent = '', location = NULL WHERE user_id = $1",
    "UPDATE security_events SET ip = '', user_agent = '', location = NULL WHERE user_id = $1",
    "UPDATE accounts SET status = 'closed' WHERE user_id = $1",
];

/// Writes an `Announcement` into an open transaction (outbox lock, then the audit head last).
macro_rules! announce {
    ($tx:expr, $lock:expr, $announcement:expr) => {{
        let announcement: &Announcement<'_> = $announcement;
        bind_event!(sqlx::query(INSERT_EVENT), announcement.event)
            .execute(&mut *$tx)
            .await?;
        if !announcement.notifications.is_empty() {
            if let Some(lock) = $lock {
                sqlx::query(lock).execute(&mut *$tx).await?;
            }
        }
        for n in announcement.notifications {
            sqlx::query(INSERT_NOTIFICATION)
                .bind(&n.user_id)
                .bind(&n.kind)
                .bind(n.created_at)
                .bind(&n.data)
                .execute(&mut *$tx)
                .await?;
        }
        append_audit!($tx, &[AuditEntry::of_event(announcement.event)]);
    }};
}

impl Store {
    /// Stores `token` in place of any live token of the same user and purpose, with the
    /// notification that delivers it and its audit record.
    pub async fn issue_user_token(
        &self,
        token: &UserTokenRecord,
        notification: &NotificationRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let replace = "DELETE FROM user_tokens WHERE user_id = $1 AND purpose = $2";
        let insert = "INSERT INTO user_tokens \
                      (token_hash, user_id, purpose, email, created_at, expires_at) \
                      VALUES ($1, $2, $3, $4, $5, $6)";
        let lock = self.outbox_lock();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(replace).bind(&token.user_id).bind(&token.purpose)
                .execute(&mut *tx).await?;
            sqlx::query(insert).bind(&token.token_hash).bind(&token.user_id)
                .bind(&token.purpose).bind(&token.email).bind(token.created_at)
                .bind(token.expires_at).execute(&mut *tx).await?;
            if let Some(lock) = lock {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            sqlx::query(INSERT_NOTIFICATION)
                .bind(&notification.user_id).bind(&notification.kind)
                .bind(notification.created_at).bind(&notification.data)
                .execute(&mut *tx).await?;
            append_audit!(tx, std::slice::from_ref(audit));
            tx.commit().await?;
        });
        Ok(())
    }

    /// The live (unexpired, unused) token with this hash and purpose.
    pub async fn find_user_token(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now: i64,
    ) -> Result<Option<UserTokenRecord>, StoreError> {
        let sql = "SELECT token_hash, user_id, purpose, email, created_at, expires_at \
                   FROM user_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3";
        Ok(
            on_pool!(self, pool => sqlx::query_as(sql).bind(token_hash).bind(purpose).bind(now)
            .fetch_optional(pool).await?),
        )
    }

    /// Uses a password-reset token: the new hash, every session revoked, the announcement.
    /// `None` (and nothing written) when the token was used, expired or replaced meanwhile.
    pub async fn reset_password(
        &self,
        token: &UserTokenRecord,
        password_hash: &str,
        now: i64,
        announcement: &Announcement<'_>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let update = "UPDATE users SET password_hash = $2 WHERE id = $1 AND status <> 'closed'";
        let lock = self.outbox_lock();
        let revoked = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let taken: Option<String> = sqlx::query_scalar(TAKE_TOKEN)
                .bind(&token.token_hash).bind("password_reset").bind(&token.user_id).bind(now)
                .fetch_optional(&mut *tx).await?;
            let updated = taken.is_some() && sqlx::query(update).bind(&token.user_id)
                .bind(password_hash).execute(&mut *tx).await?.rows_affected() == 1;
            if updated {
                let revoked: Vec<String> = sqlx::query_scalar(REVOKE_SESSIONS_BUT)
                    .bind(now).bind("password_reset").bind(&token.user_id).bind(None::<&str>)
                    .fetch_all(&mut *tx).await?;
                // A second-factor step begun with the old password dies with it.
                sqlx::query(DROP_TICKETS).bind(&token.user_id).execute(&mut *tx).await?;
                announce!(tx, lock, announcement);
                tx.commit().await?;
                Some(revoked)
            } else {
                tx.rollback().await?;
                None
            }
        });
        Ok(revoked)
    }

    /// Sets a new password hash for `user_id`, revokes every other session than `keep` and
    /// any live reset token, and writes the announcement. The revoked session ids.
    pub async fn change_password(
        &self,
        user_id: &str,
        keep: &str,
        password_hash: &str,
        now: i64,
        announcement: &Announcement<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let update = "UPDATE users SET password_hash = $2 WHERE id = $1";
        let drop_resets =
            "DELETE FROM user_tokens WHERE user_id = $1 AND purpose = 'password_reset'";
        let lock = self.outbox_lock();
        let revoked = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(update).bind(user_id).bind(password_hash).execute(&mut *tx).await?;
            sqlx::query(drop_resets).bind(user_id).execute(&mut *tx).await?;
            sqlx::query(DROP_TICKETS).bind(user_id).execute(&mut *tx).await?;
            let revoked: Vec<String> = sqlx::query_scalar(REVOKE_SESSIONS_BUT)
                .bind(now).bind("password_changed").bind(user_id).bind(Some(keep))
                .fetch_all(&mut *tx).await?;
            announce!(tx, lock, announcement);
            tx.commit().await?;
            revoked
        });
        Ok(revoked)
    }

    /// Uses a verification token: the address it was sent to becomes the user's verified
    /// email (for an email change, it replaces the old one). `false` (and nothing written)
    /// when the token was used, expired or replaced, or the address was taken meanwhile.
    pub async fn verify_email(
        &self,
        token: &UserTokenRecord,
        now: i64,
        announcement: &Announcement<'_>,
    ) -> Result<bool, StoreError> {
        let update = "UPDATE users SET email = $2, email_verified_at = $3 \
                      WHERE id = $1 AND status <> 'closed' \
                      AND NOT EXISTS (SELECT 1 FROM users AS other WHERE other.email = $2 AND other.id <> $1)";
        let lock = self.outbox_lock();
        let verified = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let taken: Option<String> = sqlx::query_scalar(TAKE_TOKEN)
                .bind(&token.token_hash).bind("verify_email").bind(&token.user_id).bind(now)
                .fetch_optional(&mut *tx).await?;
            let updated = match &taken {
                Some(email) => sqlx::query(update).bind(&token.user_id).bind(email).bind(now)
                    .execute(&mut *tx).await?.rows_affected() == 1,
                None => false,
            };
            if updated {
                // A reset link sent to the address being replaced must not outlive it.
                sqlx::query("DELETE FROM user_tokens WHERE user_id = $1 AND purpose = 'password_reset'")
                    .bind(&token.user_id).execute(&mut *tx).await?;
                announce!(tx, lock, announcement);
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            updated
        });
        Ok(verified)
    }

    /// On SQLite, copies the write-ahead log into the database and empties it, so earlier
    /// versions of pages whose content was deleted (zeroed in place by `secure_delete`) leave
    /// the files too. Best effort: `false` when a reader kept part of the log. PostgreSQL
    /// reclaims dead rows by (auto)vacuum; nothing to do here.
    pub async fn truncate_log(&self) -> Result<bool, StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(pool)
                        .await?;
                Ok(busy == 0)
            }
            Pool::Postgres(_) => Ok(true),
        }
    }

    /// Closes the account of `user_id` unless one of its ledger accounts holds money: the
    /// personal data replaced by `tombstone` or deleted, factors, tokens and devices removed,
    /// sessions revoked, its ledger accounts closed (they can neither send nor receive), the
    /// announcement written. Ledger history stays under the user's pseudonymous id.
    pub async fn close_account(
        &self,
        user_id: &str,
        tombstone: &Tombstone<'_>,
        now: i64,
        announcement: &Announcement<'_>,
    ) -> Result<Closed, StoreError> {
        let holding = "SELECT COUNT(*) FROM accounts WHERE user_id = $1 AND balance <> 0";
        let close = "UPDATE users SET email = $2, display_name = $3, password_hash = $4, \
                     status = 'closed', status_changed_at = $5, email_verified_at = NULL \
                     WHERE id = $1 AND status <> 'closed'";
        let bump = "UPDATE ledger_head SET generation = generation + 1 WHERE id = 1";
        let lock = self.outbox_lock();
        let closed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // The ledger head first, as every posting batch takes it: no posting commits
            // between the balance check and the close, and the writers re-read the accounts.
            sqlx::query(bump).execute(&mut *tx).await?;
            let holding: i64 = sqlx::query_scalar(holding).bind(user_id).fetch_one(&mut *tx).await?;
            if holding > 0 {
                tx.rollback().await?;
                return Ok(Closed::BalanceNotZero);
            }
            let changed = sqlx::query(close).bind(user_id).bind(tombstone.email)
                .bind(tombstone.display_name).bind(tombstone.password_hash).bind(now)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if !changed {
                tx.rollback().await?;
                return Ok(Closed::NotFound);
            }
            for statement in CLOSE_DELETES {
                sqlx::query(*statement).bind(user_id).execute(&mut *tx).await?;
            }
            let revoked: Vec<String> = sqlx::query_scalar(REVOKE_SESSIONS_BUT)
                .bind(now).bind("account_closed").bind(user_id).bind(None::<&str>)
                .fetch_all(&mut *tx).await?;
            announce!(tx, lock, announcement);
            tx.commit().await?;
            Closed::Done { revoked_sessions: revoked }
        });
        Ok(closed)
    }
}
