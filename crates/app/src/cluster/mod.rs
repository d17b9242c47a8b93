//! Running as one of several instances: route-class rate limits that are global with Redis
//! (`limiter`, `redis`), and revocations that reach every instance at once (`bus`).
//!
//! A revoked session or a quarantined account is written to the store first, then announced
//! — on Redis pub/sub when `redis.url` is set, else through PostgreSQL `NOTIFY`. Every
//! instance drops what it cached on receipt. As a backstop for a lost message (and for
//! operator commands run in another process), every instance polls the store every `INVALIDATION_POLL_INTERVAL` for sessions revoked and
//! accounts changed since their last poll (less `INVALIDATION_SKEW_MS`, for commit delays
//! and clocks a little apart), so a revoked session is refused everywhere within a second.

pub mod bus;
pub mod limiter;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

pub use bus::{Bus, Invalidation};
pub use limiter::{
    ClassLimit, Decision, LimitKey, LocalLimiter, ROUTE_CLASSES, RateLimitSettings, RouteClass,
};
pub use redis::RedisLink;

use crate::App;
use crate::limits::INVALIDATION_POLL_ROWS_MAX;

/// How often an instance on PostgreSQL asks the store what was revoked meanwhile.
pub const INVALIDATION_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How far back each poll looks beyond the previous one.
pub const INVALIDATION_SKEW_MS: i64 = 2_000;
/// How often this instance tells Redis it is alive (and counts the others).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// Pause before a broken subscription (Redis or PostgreSQL) is opened again.
pub const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// What instances share: the rate limiters and the invalidation bus.
#[derive(Debug)]
pub struct Cluster {
    pub bus: Bus,
    pub local: LocalLimiter,
    pub redis: Option<RedisLink>,
}

impl Cluster {
    pub fn new(limits: RateLimitSettings, redis: Option<RedisLink>) -> Cluster {
        Cluster {
            bus: Bus::default(),
            local: LocalLimiter::new(limits),
            redis,
        }
    }

    /// Admits (or refuses) one request of `class` counted against `key`: on Redis when it is
    /// configured and answers, otherwise locally at this instance's share.
    pub async fn rate_limit(&self, class: RouteClass, key: &str) -> Decision {
        let limit = self.local.settings().get(class);
        let Some(redis) = &self.redis else {
            return self.local.decide(class, key, 1);
        };
        if let Some(decision) = redis.decide(class, key, limit).await {
            return decision;
        }
        metrics::counter!("strongroom_rate_limit_local_fallback_total").increment(1);
        self.local.decide(class, key, redis.instances())
    }

    /// "degraded" while a configured Redis does not answer; `None` without Redis.
    pub fn redis_status(&self) -> Option<&'static str> {
        self.redis
            .as_ref()
            .map(|redis| if redis.is_healthy() { "ok" } else { "degraded" })
    }
}

impl App {
    /// Session `id` was revoked in the store by this instance: forget it here and tell the
    /// others.
    pub fn session_revoked(&self, id: &str) {
        self.identity.sessions.revoke(id);
        self.cluster.bus.send(Invalidation::Session(id.to_owned()));
    }

    /// Account `user_id` changed state in the store: tell the other instances.
    pub fn user_changed(&self, user_id: &str) {
        self.cluster
            .bus
            .send(Invalidation::User(user_id.to_owned()));
    }

    /// Applies an invalidation heard from another instance (or found by the poll).
    pub fn apply_invalidation(&self, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::Session(id) => self.identity.sessions.mark_revoked(id),
            Invalidation::User(id) => self.protection.forget_user(id),
        }
    }

    /// One poll of the store for revocations and state changes at or after `since`.
    pub async fn poll_invalidations(&self, since: i64) -> Result<(), store::StoreError> {
        let sessions = self
            .store
            .sessions_revoked_since(since, INVALIDATION_POLL_ROWS_MAX)
            .await?;
        let users = self
            .store
            .users_changed_since(since, INVALIDATION_POLL_ROWS_MAX)
            .await?;
        let overflow = usize::try_from(INVALIDATION_POLL_ROWS_MAX).unwrap_or(usize::MAX);
        if sessions.len() >= overflow || users.len() >= overflow {
            // Too many to name: everything cached is asked of the store again.
            self.identity.sessions.forget_live();
            self.protection.forget_all_users();
            return Ok(());
        }
        for id in sessions {
            self.identity.sessions.mark_revoked(&id);
        }
        for id in users {
            self.protection.forget_user(&id);
        }
        Ok(())
    }

    /// Starts the invalidation transport (Redis pub/sub, else PostgreSQL `NOTIFY`), the store
    /// poll (PostgreSQL) and the Redis heartbeat.
    pub fn spawn_cluster_jobs(self: &Arc<Self>) {
        if let Some(outgoing) = self.cluster.bus.take_outgoing() {
            tokio::spawn(send_invalidations(self.clone(), outgoing));
        }
        if self.cluster.redis.is_some() {
            tokio::spawn(redis_subscription(self.clone()));
            tokio::spawn(heartbeat(self.clone()));
        } else if self.store.backend() == store::Backend::Postgres {
            tokio::spawn(postgres_subscription(self.clone()));
        }
        // Also on SQLite: an operator command in another process (`user lift-quarantine`)
        // revokes sessions the server has cached.
        tokio::spawn(poll_store(self.clone()));
    }
}

async fn send_invalidations(
    app: Arc<App>,
    mut outgoing: tokio::sync::mpsc::Receiver<Invalidation>,
) {
    while let Some(invalidation) = outgoing.recv().await {
        let message = invalidation.encode();
        let sent = match &app.cluster.redis {
            Some(redis) => redis.publish(&message).await,
            None => app.store.notify_invalidation(&message).await.is_ok(),
        };
        if !sent {
            metrics::counter!("strongroom_invalidations_dropped_total").increment(1);
        }
    }
}

async fn redis_subscription(app: Arc<App>) {
    let Some(redis) = &app.cluster.redis else {
        return;
    };
    loop {
        let result = redis
            .subscribe(|message| {
                if let Some(invalidation) = Invalidation::decode(message) {
                    app.apply_invalidation(&invalidation);
                }
            })
            .await;
        if let Err(error) = result {
            tracing::debug!(%error, "Redis invalidation subscription broken; resubscribing");
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

async fn postgres_subscription(app: Arc<App>) {
    loop {
        match app.store.invalidation_listener().await {
            Ok(Some(mut listener)) => loop {
                match listener.recv().await {
                    Ok(message) => {
                        if let Some(invalidation) = Invalidation::decode(&message) {
                            app.apply_invalidation(&invalidation);
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%error, "PostgreSQL invalidation listener broken");
                        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
                    }
                }
            },
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "cannot listen for invalidations; retrying");
                tokio::time::sleep(RESUBSCRIBE_DELAY).await;
            }
        }
    }
}

async fn poll_store(app: Arc<App>) {
    let mut interval = tokio::time::interval(INVALIDATION_POLL_INTERVAL);
    let mut since = app.clock.now_ms().saturating_sub(INVALIDATION_SKEW_MS);
    loop {
        interval.tick().await;
        let started = app.clock.now_ms();
        match app.poll_invalidations(since).await {
            Ok(()) => since = started.saturating_sub(INVALIDATION_SKEW_MS),
            Err(error) => {
                metrics::counter!("strongroom_invalidation_poll_errors_total").increment(1);
                tracing::debug!(%error, "invalidation poll failed; retrying");
            }
        }
    }
}

async fn heartbeat(app: Arc<App>) {
    let Some(redis) = &app.cluster.redis else {
        return;
    };
    let mut interval = tokio::time::interval(HEARTBEAT_INTERVAL);
    loop {
        interval.tick().await;
        redis.heartbeat().await;
    }
}
