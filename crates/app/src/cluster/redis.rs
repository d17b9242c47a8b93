//! The link to Redis (`redis.url`): global rate-limit decisions (one Lua GCRA script per
//! decision, on Redis server time, with the key's TTL set in the script), invalidation
//! pub/sub, and a heartbeat that counts the live instances (each one's local share of a
//! budget while Redis is unreachable). Every call is bounded by `REDIS_COMMAND_TIMEOUT`; an
//! error marks the link degraded (logged at most once per `REDIS_WARN_INTERVAL`, shown in
//! `/metrics` and `/readyz`) until a call succeeds again. Redis errors never reach a client.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::limiter::{ClassLimit, Decision, RouteClass};
use crate::limits::{
    REDIS_COMMAND_TIMEOUT, REDIS_CONNECT_TIMEOUT, REDIS_INSTANCE_TTL_MS, REDIS_KEY_CHARS_MAX,
    REDIS_WARN_INTERVAL,
};

/// The channel invalidations travel on.
pub const INVALIDATION_CHANNEL: &str = "strongroom:invalidations";
const INSTANCES_KEY: &str = "strongroom:instances";

/// GCRA on Redis server time (microseconds). KEYS[1]: the budget's key; ARGV[1]: emission
/// interval (µs); ARGV[2]: burst. Returns {allowed, remaining, retry_after_us, reset_us}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
";

/// Registers this instance and counts the live ones. KEYS[1]: the instances set; ARGV[1]:
/// this instance's id; ARGV[2]: how long an instance counts after its last heartbeat (ms).
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])
";

pub struct RedisLink {
    client: redis::Client,
    manager: ConnectionManager,
    gcra: redis::Script,
    heartbeat: redis::Script,
    instance_id: String,
    healthy: AtomicBool,
    /// Live instances at the last heartbeat (at least 1).
    instances: AtomicU32,
    last_warning: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("RedisLink")
            .field("healthy", &self.is_healthy())
            .finish()
    }
}

impl RedisLink {
    /// A link that connects lazily: Redis may be down at start (the instance then limits
    /// locally until it is reachable).
    pub fn new(url: &str, instance_id: String) -> Result<RedisLink, String> {
        let client = redis::Client::open(url).map_err(|_| "not a Redis URL".to_owned())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
            .set_response_timeout(Some(REDIS_COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(REDIS_CONNECT_TIMEOUT);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|_| "cannot set up a Redis connection".to_owned())?;
        Ok(RedisLink {
            client,
            manager,
            gcra: redis::Script::new(GCRA),
            heartbeat: redis::Script::new(HEARTBEAT),
            instance_id,
            healthy: AtomicBool::new(false),
            instances: AtomicU32::new(1),
            last_warning: Mutex::new(None),
        })
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Live instances at the last successful heartbeat.
    pub fn instances(&self) -> u32 {
        self.instances.load(Ordering::Relaxed).max(1)
    }

    fn succeeded(&self) {
        if !self.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis reachable: rate limits are global again");
            metrics::gauge!("strongroom_redis_degraded").set(0.0);
        }
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        self.healthy.store(false, Ordering::Relaxed);
        metrics::gauge!("strongroom_redis_degraded").set(1.0);
        metrics::counter!("strongroom_redis_errors_total").increment(1);
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        if last.is_none_or(|at| at.elapsed() >= REDIS_WARN_INTERVAL) {
            *last = Some(Instant::now());
            tracing::warn!(%error, what, "Redis unreachable: limiting locally at this instance's share");
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        what: &str,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut connection = self.manager.clone();
        let call = invocation.invoke_async::<T>(&mut connection);
        match tokio::time::timeout(REDIS_COMMAND_TIMEOUT, call).await {
            Ok(Ok(value)) => {
                self.succeeded();
                Some(value)
            }
            Ok(Err(error)) => {
                self.failed(what, &error);
                None
            }
            Err(elapsed) => {
                self.failed(what, &elapsed);
                None
            }
        }
    }

    /// One global decision, or `None` when Redis could not be asked.
    pub async fn decide(
        &self,
        class: RouteClass,
        key: &str,
        limit: ClassLimit,
    ) -> Option<Decision> {
        let key: String = key.chars().take(REDIS_KEY_CHARS_MAX).collect();
        let mut invocation = self.gcra.prepare_invoke();
        invocation
            .key(format!("strongroom:rl:{}:{key}", class.name()))
            .arg(limit.interval_us())
            .arg(limit.burst);
        let (allowed, remaining, retry_us, reset_us): (i64, i64, i64, i64) =
            self.run("rate limit", invocation).await?;
        let secs =
            |us: i64| super::limiter::secs_up(Duration::from_micros(us.max(0).unsigned_abs()));
        Some(Decision {
            allowed: allowed == 1,
            limit: limit.burst,
            remaining: u32::try_from(remaining.max(0))
                .unwrap_or(u32::MAX)
                .min(limit.burst),
            reset_secs: secs(reset_us),
            retry_after_secs: if allowed == 1 {
                0
            } else {
                secs(retry_us).max(1)
            },
        })
    }

    /// Registers this instance and refreshes the count of live ones.
    pub async fn heartbeat(&self) {
        let mut invocation = self.heartbeat.prepare_invoke();
        invocation
            .key(INSTANCES_KEY)
            .arg(&self.instance_id)
            .arg(REDIS_INSTANCE_TTL_MS);
        if let Some(count) = self.run::<u32>("heartbeat", invocation).await {
            self.instances.store(count.max(1), Ordering::Relaxed);
            metrics::gauge!("strongroom_instances").set(f64::from(count));
        }
    }

    /// Publishes one invalidation; `false` when Redis could not take it.
    pub async fn publish(&self, message: &str) -> bool {
        let mut connection = self.manager.clone();
        let mut command = redis::cmd("PUBLISH");
        command.arg(INVALIDATION_CHANNEL).arg(message);
        let call = command.query_async::<i64>(&mut connection);
        match tokio::time::timeout(REDIS_COMMAND_TIMEOUT, call).await {
            Ok(Ok(_)) => true,
            Ok(Err(error)) => {
                self.failed("publish", &error);
                false
            }
            Err(elapsed) => {
                self.failed("publish", &elapsed);
                false
            }
        }
    }

    /// Subscribes to invalidations and hands each message to `apply` until the subscription
    /// breaks (the caller reconnects).
    pub async fn subscribe(&self, mut apply: impl FnMut(&str)) -> Result<(), String> {
        let connect = self.client.get_async_pubsub();
        let mut pubsub = tokio::time::timeout(REDIS_CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|error| error.to_string())?;
        pubsub
            .subscribe(INVALIDATION_CHANNEL)
            .await
            .map_err(|error| error.to_string())?;
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            if let Ok(payload) = message.get_payload::<String>() {
                apply(&payload);
            }
        }
        Err("subscription closed".to_owned())
    }
}
