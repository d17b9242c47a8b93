//! Background jobs, off the request path: forgetting idle throttle keys, closing holds past their expiry, purging expired
//! identity records (MFA tickets, WebAuthn ceremonies, sessions past their end), old security
//! events and expired idempotency keys, re-reading a replaced GeoIP database or signing-key
//! file, signing audit checkpoints, and checkpointing the SQLite WAL beside the ledger
//! writer. Each runs forever on its own interval; a failure is logged and retried next time.

use std::sync::Arc;
use std::time::Duration;

use crate::App;

/// How often idle throttle keys are forgotten.
pub const THROTTLE_RETAIN_INTERVAL: Duration = Duration::from_secs(60);
/// Idempotency keys are answered for at least this long (docs/api.md: at least 24 h).
pub const IDEMPOTENCY_KEY_RETENTION_MS: i64 = 24 * 60 * 60 * 1_000;
/// Security events are kept this long (about 13 months), then purged.
pub const SECURITY_EVENT_RETENTION_MS: i64 = 400 * 24 * 60 * 60 * 1_000;
/// How often expired records are purged.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// Rows deleted per statement, so a purge never holds the write lock for long.
pub const PURGE_CHUNK: i64 = 5_000;
/// How often the GeoIP database file is checked for a replacement.
pub const GEOIP_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// How often the token-signing key file is checked for a rotation or a retirement.
pub const SIGNING_KEYS_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// How often the gauges of queues and pools are sampled for `/metrics`.
pub const METRICS_SAMPLE_INTERVAL: Duration = Duration::from_secs(2);
/// How often holds past their expiry are looked for (and closed as `expired`).
pub const HOLD_EXPIRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often the SQLite WAL is checkpointed beside the ledger writer.
pub const WAL_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

impl App {
    /// Starts every background job on the current runtime.
    pub fn spawn_background_jobs(self: &Arc<Self>) {
        let app = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(THROTTLE_RETAIN_INTERVAL);
            loop {
                interval.tick().await;
                app.identity.throttles.retain_recent();
                app.cluster.local.retain_recent();
            }
        });
        let app = self.clone();
        tokio::spawn(async move {
            // The first tick is at once: holds that fell due while the server was down are
            // released at start.
            let mut interval = tokio::time::interval(HOLD_EXPIRY_INTERVAL);
            loop {
                interval.tick().await;
                if let Err(error) = app.expire_holds().await {
                    tracing::warn!(%error, "hold expiry failed; retrying");
                }
            }
        });
        let app = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(PURGE_INTERVAL);
            loop {
                interval.tick().await;
                app.purge_once().await;
            }
        });
        if self.protection.geo.is_enabled() {
            let app = self.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(GEOIP_RELOAD_INTERVAL);
                loop {
                    interval.tick().await;
                    let app = app.clone();
                    // Reading a city database takes a while: off the async workers.
                    let _ =
                        tokio::task::spawn_blocking(move || app.protection.geo.reload_if_changed())
                            .await;
                }
            });
        }
        let app = self.clone();
        tokio::spawn(async move {
            let mut interval =
                tokio::time::interval(Duration::from_secs(app.audit.checkpoint_secs.max(1)));
            loop {
                interval.tick().await;
                app.checkpoint_round().await;
            }
        });
        self.spawn_watch_jobs();
        let app = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(WAL_CHECKPOINT_INTERVAL);
            loop {
                interval.tick().await;
                if let Err(error) = app.store.checkpoint_wal().await {
                    tracing::warn!(%error, "WAL checkpoint failed; retrying later");
                }
            }
        });
    }

    /// One round of every purge, a chunk at a time until each is done.
    /// Re-reading the signing keys and sampling the gauges of queues and pools.
    fn spawn_watch_jobs(self: &Arc<Self>) {
        let app = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(SIGNING_KEYS_RELOAD_INTERVAL);
            loop {
                interval.tick().await;
                let app = app.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if app.identity.keys.reload_if_changed() == Some(true) {
                        app.identity.verified.clear();
                    }
                })
                .await;
            }
        });
        let app = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(METRICS_SAMPLE_INTERVAL);
            loop {
                interval.tick().await;
                app.sample_gauges();
            }
        });
    }

    /// The ledger writer's queue, the database pool and the Argon2 pool, as gauges.
    pub fn sample_gauges(&self) {
        let ((normal, normal_max), (priority, priority_max)) = self.identity.hashing.load();
        for (lane, taken, capacity) in [
            ("normal", normal, normal_max),
            ("priority", priority, priority_max),
        ] {
            metrics::gauge!("strongroom_argon2_admitted", "lane" => lane).set(taken as f64);
            metrics::gauge!("strongroom_argon2_capacity", "lane" => lane).set(capacity as f64);
        }
        metrics::gauge!("strongroom_ledger_queue_depth").set(self.writer.queued() as f64);
        let (open, idle) = self.store.pool_connections();
        metrics::gauge!("strongroom_db_pool_connections", "state" => "idle").set(idle as f64);
        metrics::gauge!("strongroom_db_pool_connections", "state" => "in_use")
            .set(f64::from(open).max(idle as f64) - idle as f64);
    }

    pub async fn purge_once(&self) {
        let now = self.clock.now_ms();
        let store = &self.store;
        let idempotency_before = now.saturating_sub(IDEMPOTENCY_KEY_RETENTION_MS);
        let events_before = now.saturating_sub(SECURITY_EVENT_RETENTION_MS);
        drain("expired idempotency keys", || {
            store.purge_idempotency_keys(idempotency_before, PURGE_CHUNK)
        })
        .await;
        drain("expired identity records", || {
            store.purge_expired_identity(now, PURGE_CHUNK)
        })
        .await;
        drain("old security events", || {
            store.purge_security_events(events_before, PURGE_CHUNK)
        })
        .await;
        let devices_before = now.saturating_sub(crate::limits::DEVICE_MEMORY_MS);
        drain("devices not seen for 400 days", || {
            store.purge_devices(devices_before, PURGE_CHUNK)
        })
        .await;
    }
}

/// Runs `purge` until a round deletes nothing (bounded: it stops at the first failure).
async fn drain<F, Fut>(what: &'static str, purge: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, store::StoreError>>,
{
    loop {
        match purge().await {
            Ok(0) => break,
            Ok(deleted) => tracing::info!(deleted, "{what} purged"),
            Err(error) => {
                tracing::warn!(%error, "purging {what} failed; retrying later");
                break;
            }
        }
    }
}
