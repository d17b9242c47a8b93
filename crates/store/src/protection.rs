//! Account-protection persistence: each user's last located request, quarantine (set and
//! lifted together with the events that explain it), and the notifications outbox. A
//! notification is always written in the same transaction as the security event it announces.

use crate::audit::{AuditEntry, append_audit};
use crate::identity::{INSERT_EVENT, SecurityEventRecord, bind_event};
pub use crate::limits::OUTBOX_PAGE_LEN_MAX;
use crate::{Backend, Pool, Store, StoreError, on_pool};

/// A notification for the operator's delivery service.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NotificationRecord {
    /// Assigned by the store, increasing in commit order; 0 before it is written.
    pub id: i64,
    pub user_id: String,
    pub kind: String,
    pub created_at: i64,
    /// A JSON object of ids and labels; never personal data beyond them.
    pub data: String,
}

/// Where a user's last located request came from, and when.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct SightingRecord {
    pub seen_at: i64,
    pub latitude: f64,
    pub longitude: f64,
    /// The GeoIP accuracy radius of the location, in kilometres.
    pub accuracy_km: i64,
}

/// A successful sign-in's device: its cookie id (if it has one) and its kind.
#[derive(Debug, Clone, Copy)]
pub struct DeviceSignIn<'a> {
    pub user_id: &'a str,
    pub device_id: Option<&'a str>,
    pub browser: &'a str,
    pub os: &'a str,
    /// ISO 3166-1 alpha-2, or empty when the address was not located.
    pub country: &'a str,
}

/// What quarantining an account writes, in one transaction.
#[derive(Debug)]
pub struct Quarantine<'a> {
    pub user_id: &'a str,
    /// The session that tripped the detection: revoked (its refresh family with it).
    pub session_id: Option<&'a str>,
    pub revoke_reason: &'a str,
    /// The detection (`impossible_travel`, `session_hijack_suspected`): always recorded.
    pub detection: &'a SecurityEventRecord,
    /// `account_quarantined` and its notification: recorded when the account changes state.
    pub quarantined: &'a SecurityEventRecord,
    pub notification: &'a NotificationRecord,
}

const FORGET_DEVICES: &str = "DELETE FROM known_devices WHERE user_id = $1";
pub(crate) const INSERT_NOTIFICATION: &str =
    "INSERT INTO notifications (user_id, kind, created_at, data) VALUES ($1, $2, $3, $4)";
/// Bumping the ledger generation makes every ledger writer re-read account owners, so a
/// quarantined customer's accounts stop sending at the writer too.
const BUMP_LEDGER_GENERATION: &str =
    "UPDATE ledger_head SET generation = generation + 1 WHERE id = 1";

impl Store {
    /// On PostgreSQL, notification writers take turns (the outbox is drained by id, so ids
    /// must become visible in order); SQLite has one writer anyway.
    pub(crate) fn outbox_lock(&self) -> Option<&'static str> {
        (self.backend() == Backend::Postgres)
            .then_some("LOCK TABLE notifications IN SHARE ROW EXCLUSIVE MODE")
    }

    pub async fn find_sighting(&self, user_id: &str) -> Result<Option<SightingRecord>, StoreError> {
        let sql = "SELECT seen_at, latitude, longitude, accuracy_km FROM user_sightings WHERE user_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await?))
    }

    pub async fn record_sighting(
        &self,
        user_id: &str,
        sighting: &SightingRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO user_sightings (user_id, seen_at, latitude, longitude, accuracy_km) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET \
                   seen_at = excluded.seen_at, latitude = excluded.latitude, \
                   longitude = excluded.longitude, accuracy_km = excluded.accuracy_km";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(user_id).bind(sighting.seen_at).bind(sighting.latitude).bind(sighting.longitude)
            .bind(sighting.accuracy_km)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Revokes the session, records the detection, and — when the account was active —
    /// quarantines it with its event and notification. `true` when the account changed state.
    pub async fn quarantine(&self, q: &Quarantine<'_>, now: i64) -> Result<bool, StoreError> {
        let revoke = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, grace_blob = NULL \
                      WHERE id = $3 AND revoked_at IS NULL";
        let update = "UPDATE users SET status = 'quarantined', status_changed_at = $2 \
                      WHERE id = $1 AND status = 'active'";
        let lock = self.outbox_lock();
        let changed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // The ledger head before any user or session row: the order every transaction
            // that changes who may move money locks in (no deadlock with an admin's lock).
            sqlx::query(BUMP_LEDGER_GENERATION).execute(&mut *tx).await?;
            if let Some(session_id) = q.session_id {
                sqlx::query(revoke).bind(now).bind(q.revoke_reason).bind(session_id)
                    .execute(&mut *tx).await?;
            }
            bind_event!(sqlx::query(INSERT_EVENT), q.detection).execute(&mut *tx).await?;
            let changed = sqlx::query(update).bind(q.user_id).bind(now)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                // No browser keeps the owner's privileges through a quarantine: the one that
                // completes the second factor is remembered again.
                sqlx::query(FORGET_DEVICES).bind(q.user_id).execute(&mut *tx).await?;
                bind_event!(sqlx::query(INSERT_EVENT), q.quarantined).execute(&mut *tx).await?;
                if let Some(lock) = lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let n = q.notification;
                sqlx::query(INSERT_NOTIFICATION)
                    .bind(&n.user_id).bind(&n.kind).bind(n.created_at).bind(&n.data)
                    .execute(&mut *tx).await?;
                append_audit!(tx, &[AuditEntry::of_event(q.detection), AuditEntry::of_event(q.quarantined)]);
            } else {
                append_audit!(tx, &[AuditEntry::of_event(q.detection)]);
            }
            tx.commit().await?;
            changed
        });
        Ok(changed)
    }

    /// Lifts a quarantine, records `event`, and revokes every session of the user but `keep`
    /// (a session held while quarantined — perhaps the thief's — must not come back to
    /// life). The revoked ids, or `None` (and nothing written) when the account was not
    /// quarantined.
    pub async fn lift_quarantine(
        &self,
        event: &SecurityEventRecord,
        keep: Option<&str>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let update = "UPDATE users SET status = 'active', status_changed_at = $2 \
                      WHERE id = $1 AND status = 'quarantined'";
        let revoke = "UPDATE sessions SET revoked_at = $1, revoked_reason = 'quarantine_lifted', \
                      grace_blob = NULL WHERE user_id = $2 AND revoked_at IS NULL \
                      AND ($3 IS NULL OR id <> $3) RETURNING id";
        let revoked = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(BUMP_LEDGER_GENERATION).execute(&mut *tx).await?;
            let changed = sqlx::query(update).bind(&event.user_id).bind(event.created_at)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                let revoked: Vec<String> = sqlx::query_scalar(revoke)
                    .bind(event.created_at).bind(&event.user_id).bind(keep)
                    .fetch_all(&mut *tx).await?;
                bind_event!(sqlx::query(INSERT_EVENT), event).execute(&mut *tx).await?;
                append_audit!(tx, &[AuditEntry::of_event(event)]);
                tx.commit().await?;
                Some(revoked)
            } else {
                tx.rollback().await?;
                None
            }
        });
        Ok(revoked)
    }

    /// Records a security event and its notification together.
    pub async fn record_event_with_notification(
        &self,
        event: &SecurityEventRecord,
        notification: &NotificationRecord,
    ) -> Result<(), StoreError> {
        let lock = self.outbox_lock();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            bind_event!(sqlx::query(INSERT_EVENT), event).execute(&mut *tx).await?;
            if let Some(lock) = lock {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            sqlx::query(INSERT_NOTIFICATION)
                .bind(&notification.user_id).bind(&notification.kind)
                .bind(notification.created_at).bind(&notification.data)
                .execute(&mut *tx).await?;
            append_audit!(tx, &[AuditEntry::of_event(event)]);
            tx.commit().await?;
        });
        Ok(())
    }

    /// True when the browser with `device_id` signed in to the account of `email` before.
    pub async fn is_known_device(&self, email: &str, device_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM known_devices AS d JOIN users AS u ON u.id = d.user_id \
                   WHERE u.email = $1 AND d.device_id = $2";
        let count: i64 = on_pool!(self, pool => sqlx::query_scalar(sql).bind(email).bind(device_id).fetch_one(pool).await?);
        Ok(count > 0)
    }

    /// Records a sign-in of `user_id` from a device: its id (when it has a cookie) and its
    /// kind. When the kind is new — not seen since `new_after` — for a user who has signed in
    /// with another kind before (their very first sign-in announces nothing), `announce`'s
    /// event and notification are written in the same transaction; `true` then.
    pub async fn record_sign_in_device(
        &self,
        sign_in: &DeviceSignIn<'_>,
        now: i64,
        new_after: i64,
        announce: (&SecurityEventRecord, &NotificationRecord),
    ) -> Result<bool, StoreError> {
        let upsert_device = "INSERT INTO known_devices (user_id, device_id, last_seen_at) \
            VALUES ($1, $2, $3) ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at";
        let last_seen = "SELECT last_seen_at FROM device_kinds \
            WHERE user_id = $1 AND browser = $2 AND os = $3 AND country = $4";
        let others = "SELECT COUNT(*) FROM device_kinds WHERE user_id = $1";
        let upsert_kind = "INSERT INTO device_kinds (user_id, browser, os, country, last_seen_at) \
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, browser, os, country) \
            DO UPDATE SET last_seen_at = excluded.last_seen_at";
        let s = sign_in;
        let lock = self.outbox_lock();
        let new = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(device_id) = s.device_id {
                sqlx::query(upsert_device).bind(s.user_id).bind(device_id).bind(now)
                    .execute(&mut *tx).await?;
            }
            let seen: Option<i64> = sqlx::query_scalar(last_seen)
                .bind(s.user_id).bind(s.browser).bind(s.os).bind(s.country)
                .fetch_optional(&mut *tx).await?;
            let known_kinds: i64 = sqlx::query_scalar(others).bind(s.user_id).fetch_one(&mut *tx).await?;
            sqlx::query(upsert_kind)
                .bind(s.user_id).bind(s.browser).bind(s.os).bind(s.country).bind(now)
                .execute(&mut *tx).await?;
            let new = known_kinds > 0 && seen.is_none_or(|at| at < new_after);
            if new {
                let (event, n) = announce;
                bind_event!(sqlx::query(INSERT_EVENT), event).execute(&mut *tx).await?;
                if let Some(lock) = lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                sqlx::query(INSERT_NOTIFICATION)
                    .bind(&n.user_id).bind(&n.kind).bind(n.created_at).bind(&n.data)
                    .execute(&mut *tx).await?;
                append_audit!(tx, &[AuditEntry::of_event(event)]);
            }
            tx.commit().await?;
            new
        });
        Ok(new)
    }

    /// Forgets devices and device kinds last seen before `before`; returns how many went.
    pub async fn purge_devices(&self, before: i64, chunk: i64) -> Result<u64, StoreError> {
        let statements = [
            "DELETE FROM known_devices WHERE (user_id, device_id) IN \
             (SELECT user_id, device_id FROM known_devices WHERE last_seen_at < $1 LIMIT $2)",
            "DELETE FROM device_kinds WHERE (user_id, browser, os, country) IN \
             (SELECT user_id, browser, os, country FROM device_kinds WHERE last_seen_at < $1 LIMIT $2)",
        ];
        let mut deleted = 0_u64;
        for sql in statements {
            let rows = on_pool!(self, pool => sqlx::query(sql).bind(before).bind(chunk).execute(pool).await?.rows_affected());
            deleted = deleted.saturating_add(rows);
        }
        Ok(deleted)
    }

    /// True when a notification up to `up_to` announces a closed account.
    pub async fn closing_notices_up_to(&self, up_to: i64) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM notifications WHERE id <= $1 AND kind = 'account_closed'";
        let count: i64 =
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(up_to).fetch_one(pool).await?);
        Ok(count > 0)
    }

    /// Up to `limit` unacknowledged notifications with ids above `after`, oldest first.
    pub async fn outbox_page(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let limit = limit.clamp(1, OUTBOX_PAGE_LEN_MAX.saturating_add(1));
        let sql = "SELECT id, user_id, kind, created_at, data FROM notifications \
                   WHERE id > $1 ORDER BY id LIMIT $2";
        Ok(
            on_pool!(self, pool => sqlx::query_as(sql).bind(after).bind(limit).fetch_all(pool).await?),
        )
    }

    /// Acknowledges every notification up to and including `up_to`: they are never served
    /// again. Returns how many went, or `None` (nothing deleted) when `up_to` is beyond the
    /// newest notification — an id nobody can have been served.
    pub async fn ack_outbox(&self, up_to: i64) -> Result<Option<u64>, StoreError> {
        // One statement (no read-then-write transaction to upgrade on SQLite).
        let delete = "DELETE FROM notifications WHERE id <= $1 \
                      AND $1 <= (SELECT COALESCE(MAX(id), $1) FROM notifications)";
        let newest = "SELECT MAX(id) FROM notifications";
        let deleted = on_pool!(self, pool => sqlx::query(delete).bind(up_to).execute(pool).await?.rows_affected());
        if deleted > 0 {
            return Ok(Some(deleted));
        }
        let newest: Option<i64> =
            on_pool!(self, pool => sqlx::query_scalar(newest).fetch_one(pool).await?);
        Ok(if newest.is_some_and(|newest| up_to > newest) {
            None
        } else {
            Some(0)
        })
    }
}
