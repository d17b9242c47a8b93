//! Rate limits per route class (`[rate_limits]`): GCRA with a burst, keyed per client network,
//! user or service. With Redis every decision is one atomic script on the Redis server
//! (`redis.rs`), so the budget is shared by every instance; without it, or while Redis is
//! unreachable, each instance decides locally with governor — at its share of the budget
//! (budget ÷ instances last seen) when it is one of several.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// The route classes of `[rate_limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Sign-in, registration, second factors, refresh, WebAuthn options.
    Auth,
    /// Authenticated reads.
    Read,
    /// Authenticated writes other than money.
    Write,
    /// `POST /v1/transfers`.
    Money,
    /// The service listener.
    Internal,
    /// `/v1/admin/*`.
    Admin,
}

pub const ROUTE_CLASSES: [RouteClass; 6] = [
    RouteClass::Auth,
    RouteClass::Read,
    RouteClass::Write,
    RouteClass::Money,
    RouteClass::Internal,
    RouteClass::Admin,
];

impl RouteClass {
    pub fn name(self) -> &'static str {
        match self {
            RouteClass::Auth => "auth",
            RouteClass::Read => "read",
            RouteClass::Write => "write",
            RouteClass::Money => "money",
            RouteClass::Internal => "internal",
            RouteClass::Admin => "admin",
        }
    }

    fn index(self) -> usize {
        match self {
            RouteClass::Auth => 0,
            RouteClass::Read => 1,
            RouteClass::Write => 2,
            RouteClass::Money => 3,
            RouteClass::Internal => 4,
            RouteClass::Admin => 5,
        }
    }
}

/// What a class's budget is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKey {
    /// The client network (IPv4 address or IPv6 /64).
    Ip,
    /// The signed-in user (the client network when the request carries no valid token).
    User,
    /// The calling service (the client network without a client certificate).
    Service,
}

/// One class's budget: `per_minute` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassLimit {
    pub per_minute: u32,
    pub burst: u32,
    pub key: LimitKey,
}

impl ClassLimit {
    /// Time between two requests at the sustained rate, in microseconds.
    pub fn interval_us(self) -> u64 {
        60_000_000 / u64::from(self.per_minute.max(1))
    }
}

/// `[rate_limits]`, one budget per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub auth: ClassLimit,
    pub read: ClassLimit,
    pub write: ClassLimit,
    pub money: ClassLimit,
    pub internal: ClassLimit,
    pub admin: ClassLimit,
}

impl Default for RateLimitSettings {
    /// The defaults documented in docs/configuration.md.
    fn default() -> Self {
        let limit = |per_minute, burst, key| ClassLimit {
            per_minute,
            burst,
            key,
        };
        RateLimitSettings {
            auth: limit(20, 10, LimitKey::Ip),
            read: limit(600, 100, LimitKey::User),
            write: limit(120, 30, LimitKey::User),
            money: limit(60, 20, LimitKey::User),
            internal: limit(60_000, 5_000, LimitKey::Service),
            admin: limit(60, 20, LimitKey::User),
        }
    }
}

impl RateLimitSettings {
    pub fn get(&self, class: RouteClass) -> ClassLimit {
        *self.slot(class)
    }

    pub fn set(&mut self, class: RouteClass, limit: ClassLimit) {
        *self.slot_mut(class) = limit;
    }

    fn slot(&self, class: RouteClass) -> &ClassLimit {
        match class {
            RouteClass::Auth => &self.auth,
            RouteClass::Read => &self.read,
            RouteClass::Write => &self.write,
            RouteClass::Money => &self.money,
            RouteClass::Internal => &self.internal,
            RouteClass::Admin => &self.admin,
        }
    }

    fn slot_mut(&mut self, class: RouteClass) -> &mut ClassLimit {
        match class {
            RouteClass::Auth => &mut self.auth,
            RouteClass::Read => &mut self.read,
            RouteClass::Write => &mut self.write,
            RouteClass::Money => &mut self.money,
            RouteClass::Internal => &mut self.internal,
            RouteClass::Admin => &mut self.admin,
        }
    }
}

/// One rate-limit decision, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The burst of the class (at this instance's share when deciding locally among several).
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the budget is full again.
    pub reset_secs: u64,
    /// Seconds to wait before the next request is allowed (0 when allowed).
    pub retry_after_secs: u64,
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// In-process limiters for every class at one share of the budget.
struct LocalSet {
    share: u32,
    limiters: Vec<(ClassLimit, Keyed<String>)>,
}

fn ceil_div(value: u64, divisor: u64) -> u64 {
    value.div_ceil(divisor.max(1))
}

impl LocalSet {
    fn new(settings: &RateLimitSettings, share: u32) -> LocalSet {
        let limiters = ROUTE_CLASSES
            .iter()
            .map(|class| {
                let limit = settings.get(*class);
                let scaled = ClassLimit {
                    per_minute: u32::try_from(ceil_div(limit.per_minute.into(), share.into()))
                        .unwrap_or(1)
                        .max(1),
                    burst: u32::try_from(ceil_div(limit.burst.into(), share.into()))
                        .unwrap_or(1)
                        .max(1),
                    key: limit.key,
                };
                (scaled, keyed(scaled))
            })
            .collect();
        LocalSet { share, limiters }
    }
}

fn keyed<K: Hash + Eq + Clone>(limit: ClassLimit) -> Keyed<K> {
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(Duration::from_micros(limit.interval_us()))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
    RateLimiter::keyed(quota.allow_burst(burst)).with_middleware::<StateInformationMiddleware>()
}

/// The in-process limiter, rebuilt when this instance's share changes.
pub struct LocalLimiter {
    settings: RateLimitSettings,
    set: RwLock<Arc<LocalSet>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for LocalLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimiter")
            .field("settings", &self.settings)
            .finish()
    }
}

impl LocalLimiter {
    pub fn new(settings: RateLimitSettings) -> LocalLimiter {
        LocalLimiter {
            set: RwLock::new(Arc::new(LocalSet::new(&settings, 1))),
            settings,
            clock: DefaultClock::default(),
        }
    }

    pub fn settings(&self) -> &RateLimitSettings {
        &self.settings
    }

    fn current(&self, share: u32) -> Option<Arc<LocalSet>> {
        let share = share.max(1);
        let set = self.set.read().ok()?.clone();
        if set.share == share {
            return Some(set);
        }
        let fresh = Arc::new(LocalSet::new(&self.settings, share));
        if let Ok(mut slot) = self.set.write() {
            *slot = fresh.clone();
        }
        Some(fresh)
    }

    /// Decides locally, as one of `share` instances sharing the budget.
    pub fn decide(&self, class: RouteClass, key: &str, share: u32) -> Decision {
        let Some(set) = self.current(share) else {
            return Decision::open(self.settings.get(class));
        };
        let Some((limit, limiter)) = set.limiters.get(class.index()) else {
            return Decision::open(self.settings.get(class));
        };
        let interval = Duration::from_micros(limit.interval_us());
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let missing = limit.burst.saturating_sub(remaining);
                Decision {
                    allowed: true,
                    limit: limit.burst,
                    remaining,
                    reset_secs: secs_up(interval.saturating_mul(missing)),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit: limit.burst,
                    remaining: 0,
                    reset_secs: secs_up(interval.saturating_mul(limit.burst)),
                    retry_after_secs: secs_up(wait).max(1),
                }
            }
        }
    }

    /// Forgets keys whose budget is full again.
    pub fn retain_recent(&self) {
        if let Ok(set) = self.set.read() {
            for (_, limiter) in &set.limiters {
                limiter.retain_recent();
            }
        }
    }
}

impl Decision {
    /// An admission that says nothing was counted (a limiter that could not decide).
    fn open(limit: ClassLimit) -> Decision {
        Decision {
            allowed: true,
            limit: limit.burst,
            remaining: limit.burst,
            reset_secs: 0,
            retry_after_secs: 0,
        }
    }
}

/// Whole seconds, rounded up.
pub fn secs_up(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    }
}

#[cfg(test)]
mod tests;
