//! Identity persistence: users, sessions and their refresh families, security events.
//! Every statement is parameterized; times are milliseconds since the Unix epoch.

use crate::audit::{ActorKind, AuditEntry, append_audit};
pub use crate::limits::{SECURITY_EVENTS_PAGE_LEN_MAX, SESSIONS_LIST_LEN_MAX};
use crate::{Pool, Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    /// Comma-separated role names.
    pub roles: String,
    pub status: String,
    pub created_at: i64,
    /// When the user proved they receive mail at `email`; `None` until then.
    pub email_verified_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: String,
    pub generation: i64,
    pub rotated_at: Option<i64>,
    pub grace_blob: Option<Vec<u8>>,
    pub revoked_at: Option<i64>,
    /// `"London, GB"` when the address was located.
    pub location: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SecurityEventRecord {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub created_at: i64,
    pub ip: String,
    pub user_agent: String,
    pub session_id: Option<String>,
    /// `"London, GB"` when the address was located.
    pub location: Option<String>,
    /// The request that caused it: kept in the event's audit record, not in the event list.
    #[sqlx(skip)]
    pub request_id: String,
}

/// Security-event kinds the server itself raises (not the user's own action).
const SYSTEM_EVENT_KINDS: &[&str] = &[
    "account_quarantined",
    "impossible_travel",
    "session_hijack_suspected",
    "refresh_token_reused",
    "request_screened",
];

/// Security-event kinds that record a refused attempt.
const FAILED_EVENT_KINDS: &[&str] = &["login_failed", "mfa_failed", "request_screened"];

impl AuditEntry {
    /// The audit record of a security event: the user (or the system, for detections), the
    /// event kind as `security.KIND`, the session in `details`; no user agent or location.
    pub fn of_event(event: &SecurityEventRecord) -> AuditEntry {
        let kind = event.kind.as_str();
        let system = SYSTEM_EVENT_KINDS.contains(&kind);
        let details = match &event.session_id {
            Some(session) => serde_json::json!({ "session_id": session }),
            None => serde_json::json!({}),
        };
        AuditEntry {
            at: event.created_at,
            actor_kind: if system {
                ActorKind::System
            } else {
                ActorKind::User
            },
            actor_id: if system {
                "strongroom".to_owned()
            } else {
                event.user_id.clone()
            },
            action: format!("security.{kind}"),
            target: format!("user:{}", event.user_id),
            outcome: if FAILED_EVENT_KINDS.contains(&kind) {
                "failure"
            } else {
                "success"
            },
            request_id: event.request_id.clone(),
            ip: event.ip.clone(),
            details: details.to_string(),
        }
    }
}

pub(crate) const INSERT_EVENT: &str = "INSERT INTO security_events \
    (id, user_id, kind, created_at, ip, user_agent, session_id, location) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Binds a `SecurityEventRecord` to `INSERT_EVENT`.
macro_rules! bind_event {
    ($query:expr, $event:expr) => {
        $query
            .bind(&$event.id)
            .bind(&$event.user_id)
            .bind(&$event.kind)
            .bind($event.created_at)
            .bind(&$event.ip)
            .bind(&$event.user_agent)
            .bind(&$event.session_id)
            .bind(&$event.location)
    };
}
pub(crate) use bind_event;

macro_rules! user_columns {
    () => {
        "id, email, display_name, password_hash, roles, status, created_at, email_verified_at"
    };
}
macro_rules! session_columns {
    () => {
        "id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, \
         auth_time, acr, amr, generation, rotated_at, grace_blob, revoked_at, location"
    };
}

impl Store {
    /// Inserts the user unless the email is taken; `false` when it was.
    pub async fn create_user(&self, user: &UserRecord) -> Result<bool, StoreError> {
        let sql = "INSERT INTO users (id, email, display_name, password_hash, roles, status, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING";
        let result = on_pool!(self, pool => sqlx::query(sql)
            .bind(&user.id).bind(&user.email).bind(&user.display_name).bind(&user.password_hash)
            .bind(&user.roles).bind(&user.status).bind(user.created_at)
            .execute(pool).await?.rows_affected());
        Ok(result == 1)
    }

    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
        let row: Option<UserRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(email).fetch_optional(pool).await?);
        Ok(row)
    }

    pub async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        let row: Option<UserRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// Replaces the password hash `old` by `hash` (a rehash with current parameters); `false`
    /// (nothing written) when the password changed meanwhile.
    pub async fn update_password_hash(
        &self,
        user_id: &str,
        old: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(hash).bind(user_id).bind(old).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn update_display_name(&self, user_id: &str, name: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(name).bind(user_id).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Creates a session with its first refresh token (generation 0) and its security event,
    /// atomically — only while the user may still sign in with the password hash the caller
    /// read (`password_hash`): a sign-in that straddles a password reset or a closing gets no
    /// session (`false`, nothing written). On PostgreSQL the user row is share-locked first,
    /// so a reset or closing waits for this insert and then revokes the session with the rest.
    pub async fn create_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &[u8],
        event: &SecurityEventRecord,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let insert_session = concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 \
             WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 \
             AND status IN ('active', 'quarantined') AND password_hash = $16)"
        );
        let insert_token = "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) VALUES ($1, $2, $3, $4)";
        let lock_user = (self.backend() == crate::Backend::Postgres)
            .then_some("SELECT 1 FROM users WHERE id = $1 FOR SHARE");
        let created = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(lock) = lock_user {
                sqlx::query(lock).bind(&session.user_id).fetch_optional(&mut *tx).await?;
            }
            let inserted = sqlx::query(insert_session)
                .bind(&session.id).bind(&session.user_id).bind(session.created_at).bind(session.last_seen_at)
                .bind(session.expires_at).bind(&session.ip).bind(&session.user_agent).bind(session.auth_time)
                .bind(&session.acr).bind(&session.amr).bind(session.generation).bind(session.rotated_at)
                .bind(&session.grace_blob).bind(session.revoked_at).bind(&session.location)
                .bind(password_hash)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if inserted {
                sqlx::query(insert_token)
                    .bind(refresh_hash).bind(&session.id).bind(session.generation).bind(session.created_at)
                    .execute(&mut *tx).await?;
                bind_event!(sqlx::query(INSERT_EVENT), event).execute(&mut *tx).await?;
                append_audit!(tx, &[AuditEntry::of_event(event)]);
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            inserted
        });
        Ok(created)
    }

    pub async fn find_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        );
        let row: Option<SessionRecord> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// The session and generation a refresh-token hash was issued for.
    pub async fn find_refresh_token(
        &self,
        hash: &[u8],
    ) -> Result<Option<(String, i64)>, StoreError> {
        let sql = "SELECT session_id, generation FROM refresh_tokens WHERE token_hash = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(hash).fetch_optional(pool).await?))
    }

    /// Compare-and-set rotation: moves the family from `expected_generation` to the next one
    /// only if no one else did, the session is live and unexpired. `false` when it lost.
    pub async fn rotate_refresh(
        &self,
        session_id: &str,
        expected_generation: i64,
        new_hash: &[u8],
        grace_blob: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let Some(next) = expected_generation.checked_add(1) else {
            return Ok(false);
        };
        let update = "UPDATE sessions SET generation = $1, rotated_at = $2, grace_blob = $3, last_seen_at = $2 \
                      WHERE id = $4 AND generation = $5 AND revoked_at IS NULL AND expires_at > $2";
        let insert = "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) VALUES ($1, $2, $3, $4)";
        let won = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(update)
                .bind(next).bind(now).bind(grace_blob).bind(session_id).bind(expected_generation)
                .execute(&mut *tx).await?.rows_affected();
            if changed == 1 {
                sqlx::query(insert).bind(new_hash).bind(session_id).bind(next).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
                true
            } else {
                tx.rollback().await?;
                false
            }
        });
        Ok(won)
    }

    /// Revokes a live session; `false` when it was already revoked or does not exist.
    pub async fn revoke_session(
        &self,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, grace_blob = NULL \
                   WHERE id = $3 AND revoked_at IS NULL";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(now).bind(reason).bind(session_id).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// One page of a user's live sessions, newest first, strictly older than `before_id`
    /// (ids are time-ordered UUIDv7 strings); up to `limit` rows.
    pub async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
        before_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let limit = limit.clamp(1, SESSIONS_LIST_LEN_MAX.saturating_add(1));
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows: Vec<SessionRecord> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id).bind(now).bind(before_id).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Revokes every live session of the user except `keep`; returns the revoked ids.
    pub async fn revoke_other_sessions(
        &self,
        user_id: &str,
        keep: &str,
        reason: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, grace_blob = NULL \
                   WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL RETURNING id";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(now).bind(reason).bind(user_id).bind(keep).fetch_all(pool).await?))
    }

    /// Every live session (id, user, expiry), to warm the in-memory session table.
    pub async fn live_sessions(&self, now: i64) -> Result<Vec<(String, String, i64)>, StoreError> {
        let sql = "SELECT id, user_id, expires_at FROM sessions WHERE revoked_at IS NULL AND expires_at > $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(now).fetch_all(pool).await?))
    }

    /// Sessions revoked at or after `since` (ids, at most `limit`): the feed other instances
    /// poll so a revocation they missed on pub/sub still reaches their caches.
    pub async fn sessions_revoked_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT id FROM sessions WHERE revoked_at >= $1 ORDER BY revoked_at LIMIT $2";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(since).bind(limit)
            .fetch_all(pool).await?),
        )
    }

    /// Users whose status (active, quarantined) changed at or after `since`, at most `limit`.
    pub async fn users_changed_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT id FROM users WHERE status_changed_at >= $1 \
                   ORDER BY status_changed_at LIMIT $2";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(since).bind(limit)
            .fetch_all(pool).await?),
        )
    }

    pub async fn record_security_event(
        &self,
        event: &SecurityEventRecord,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            bind_event!(sqlx::query(INSERT_EVENT), event).execute(&mut *tx).await?;
            append_audit!(tx, &[AuditEntry::of_event(event)]);
            tx.commit().await?;
        });
        Ok(())
    }

    /// One page of a user's security events, newest first, strictly older than `before_id`
    /// (ids are time-ordered UUIDv7 strings).
    pub async fn list_security_events(
        &self,
        user_id: &str,
        before_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        // One more than a page, so the caller can tell whether another page follows.
        let limit = limit.clamp(1, SECURITY_EVENTS_PAGE_LEN_MAX.saturating_add(1));
        let sql = "SELECT id, user_id, kind, created_at, ip, user_agent, session_id, location FROM security_events \
                   WHERE user_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3";
        let rows: Vec<SecurityEventRecord> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id).bind(before_id).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Deletes up to `chunk` records of each kind that expired before `now`: MFA tickets,
    /// WebAuthn ceremonies, and sessions (with their refresh tokens) past their absolute end —
    /// a revoked session is kept until then, so every instance still sees it revoked. Returns
    /// how many rows went.
    pub async fn purge_expired_identity(&self, now: i64, chunk: i64) -> Result<u64, StoreError> {
        let statements = [
            "DELETE FROM mfa_tickets WHERE ticket_hash IN \
             (SELECT ticket_hash FROM mfa_tickets WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM webauthn_ceremonies WHERE id IN \
             (SELECT id FROM webauthn_ceremonies WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM refresh_tokens WHERE session_id IN \
             (SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM sessions WHERE id IN (SELECT s.id FROM sessions AS s \
             WHERE s.expires_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM refresh_tokens AS r WHERE r.session_id = s.id) LIMIT $2)",
        ];
        let mut deleted = 0_u64;
        for sql in statements {
            let rows = on_pool!(self, pool => sqlx::query(sql).bind(now).bind(chunk).execute(pool).await?.rows_affected());
            deleted = deleted.saturating_add(rows);
        }
        Ok(deleted)
    }

    /// Deletes up to `chunk` security events older than `before`.
    pub async fn purge_security_events(&self, before: i64, chunk: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM security_events WHERE id IN \
                   (SELECT id FROM security_events WHERE created_at < $1 LIMIT $2)";
        Ok(
            on_pool!(self, pool => sqlx::query(sql).bind(before).bind(chunk).execute(pool).await?.rows_affected()),
        )
    }
}
