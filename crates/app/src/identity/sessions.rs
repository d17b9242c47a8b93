//! The session table held in memory: every authenticated request checks its `sid` here, so a
//! logout, a remote revoke or a reuse detection stops that session's access tokens at once.
//! Loaded from the store at start, written through on every change; a miss (a session made by
//! another instance) is read from the store and cached. A live entry is re-read from the
//! store once it is `SESSION_RECHECK_MS` old, so a revocation by another instance takes effect
//! here within that time.

use std::collections::HashMap;
use std::sync::RwLock;

pub use crate::limits::SESSION_TABLE_LEN_MAX;
use store::Store;

/// How long a cached live session is trusted before the store is asked again.
pub const SESSION_RECHECK_MS: i64 = 15_000;

#[derive(Debug, Clone)]
struct Entry {
    user_id: String,
    expires_at_ms: i64,
    revoked: bool,
    /// When the store last confirmed this entry.
    checked_at_ms: i64,
}

#[derive(Debug)]
pub struct SessionTable {
    entries: RwLock<HashMap<String, Entry>>,
    clock: crate::Clock,
    /// `SESSION_TABLE_LEN_MAX`, smaller in tests.
    capacity: usize,
}

impl SessionTable {
    pub async fn load(
        store: &Store,
        clock: crate::Clock,
    ) -> Result<SessionTable, store::StoreError> {
        let table = SessionTable {
            entries: RwLock::default(),
            clock,
            capacity: SESSION_TABLE_LEN_MAX,
        };
        for (id, user_id, expires_at_ms) in store.live_sessions(table.clock.now_ms()).await? {
            table.remember(&id, &user_id, expires_at_ms, false);
        }
        Ok(table)
    }

    fn remember(&self, id: &str, user_id: &str, expires_at_ms: i64, revoked: bool) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.capacity {
            // Evict by expiry: a session past its end needs no entry (the store says the
            // same), while a revoked one keeps its tombstone until it would have expired.
            let now_ms = self.clock.now_ms();
            entries.retain(|_, entry| entry.expires_at_ms > now_ms);
            if entries.len() >= self.capacity {
                return;
            }
        }
        entries.insert(
            id.to_owned(),
            Entry {
                user_id: user_id.to_owned(),
                expires_at_ms,
                revoked,
                checked_at_ms: self.clock.now_ms(),
            },
        );
    }

    pub fn insert(&self, id: &str, user_id: &str, expires_at_ms: i64) {
        self.remember(id, user_id, expires_at_ms, false);
    }

    /// Marks a session dead in memory (the caller has already written the store). A session
    /// this instance never saw is remembered as a tombstone, so it cannot be revived by a
    /// later cache miss reading a stale replica.
    pub fn revoke(&self, id: &str) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        entries
            .entry(id.to_owned())
            .and_modify(|entry| entry.revoked = true)
            .or_insert(Entry {
                user_id: String::new(),
                // Kept as long as any session could still be live.
                expires_at_ms: i64::MAX,
                revoked: true,
                checked_at_ms: i64::MAX,
            });
    }

    /// Marks a cached session dead after another instance revoked it (no tombstone for one
    /// this instance never saw: a miss asks the store, which already says so).
    pub fn mark_revoked(&self, id: &str) {
        if let Ok(mut entries) = self.entries.write()
            && let Some(entry) = entries.get_mut(id)
        {
            entry.revoked = true;
        }
    }

    /// Forgets every cached live session (tombstones stay): each is asked of the store on
    /// its next use.
    pub fn forget_live(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|_, entry| entry.revoked);
        }
    }

    /// True when session `id` belongs to `user_id`, is not revoked and has not expired.
    pub async fn is_live(
        &self,
        store: &Store,
        id: &str,
        user_id: &str,
        now_ms: i64,
    ) -> Result<bool, store::StoreError> {
        let cached = self
            .entries
            .read()
            .ok()
            .and_then(|entries| entries.get(id).cloned())
            .filter(|entry| {
                entry.revoked || now_ms.saturating_sub(entry.checked_at_ms) <= SESSION_RECHECK_MS
            });
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let Some(session) = store.find_session(id).await? else {
                    return Ok(false);
                };
                let revoked = session.revoked_at.is_some();
                self.remember(id, &session.user_id, session.expires_at, revoked);
                Entry {
                    user_id: session.user_id,
                    expires_at_ms: session.expires_at,
                    revoked,
                    checked_at_ms: now_ms,
                }
            }
        };
        Ok(!entry.revoked && entry.user_id == user_id && entry.expires_at_ms > now_ms)
    }
}

#[cfg(test)]
mod tests;
