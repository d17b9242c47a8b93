//! What several instances sharing one PostgreSQL database tell each other through it: a
//! `NOTIFY` on `INVALIDATION_CHANNEL` when a session is revoked or an account changes state
//! (used when no Redis is configured), and a listener for them. The embedded SQLite store
//! serves one instance, so it sends and hears nothing.

use sqlx::postgres::PgListener;

use crate::{Pool, Store, StoreError};

/// The PostgreSQL channel revocations travel on.
pub const INVALIDATION_CHANNEL: &str = "strongroom_invalidations";

/// Hears the invalidations other instances send through PostgreSQL.
pub struct InvalidationListener(PgListener);

impl std::fmt::Debug for InvalidationListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvalidationListener")
    }
}

impl InvalidationListener {
    /// The next message. After an error the listener reconnects on the next call (messages
    /// sent meanwhile are lost; the invalidation poll finds them).
    pub async fn recv(&mut self) -> Result<String, StoreError> {
        Ok(self.0.recv().await?.payload().to_owned())
    }
}

impl Store {
    /// Sends `payload` to every instance listening on this database (PostgreSQL only).
    pub async fn notify_invalidation(&self, payload: &str) -> Result<(), StoreError> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(INVALIDATION_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A listener on `INVALIDATION_CHANNEL`, or `None` on SQLite.
    pub async fn invalidation_listener(&self) -> Result<Option<InvalidationListener>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(INVALIDATION_CHANNEL).await?;
        Ok(Some(InvalidationListener(listener)))
    }
}
