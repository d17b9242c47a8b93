//! Login and registration throttles on several keys at once (GCRA via governor):
//! per (account, client IP) — tight, stops an attacker on one network;
//! per client IP — stops one network spraying many accounts;
//! per account across all IPs — a much higher ceiling, so an attacker hammering an account
//! from one network is stopped by the first key long before the owner, logging in from
//! another network, meets this one. Refused attempts never reach Argon2 and never count
//! against the account's ceiling.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

/// Attempts per (account, IP): a burst, then one every `LOGIN_ACCOUNT_IP_PERIOD`.
pub const LOGIN_ACCOUNT_IP_BURST: u32 = 10;
pub const LOGIN_ACCOUNT_IP_PERIOD: Duration = Duration::from_secs(60);
/// Attempts per IP across accounts.
pub const LOGIN_IP_BURST: u32 = 60;
pub const LOGIN_IP_PERIOD: Duration = Duration::from_secs(2);
/// Attempts per account across all IPs.
pub const LOGIN_ACCOUNT_BURST: u32 = 100;
pub const LOGIN_ACCOUNT_PERIOD: Duration = Duration::from_secs(6);
/// Registrations per IP.
pub const REGISTER_IP_BURST: u32 = 20;
pub const REGISTER_IP_PERIOD: Duration = Duration::from_secs(6);
/// Second-factor code attempts per user (TOTP, recovery codes, step-up).
pub const OTP_USER_BURST: u32 = 10;
pub const OTP_USER_PERIOD: Duration = Duration::from_secs(30);
/// Refresh and other cookie calls per IP.
pub const REFRESH_IP_BURST: u32 = 120;
pub const REFRESH_IP_PERIOD: Duration = Duration::from_millis(500);

const _: () = assert!(LOGIN_ACCOUNT_BURST > LOGIN_ACCOUNT_IP_BURST * 4);

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

fn keyed<K: Hash + Eq + Clone>(burst: u32, period: Duration) -> Keyed<K> {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
    RateLimiter::keyed(quota.allow_burst(burst))
}

pub struct Throttles {
    login_account_ip: Keyed<(String, IpAddr)>,
    login_ip: Keyed<IpAddr>,
    login_account: Keyed<String>,
    register_ip: Keyed<IpAddr>,
    refresh_ip: Keyed<IpAddr>,
    otp_user: Keyed<String>,
    clock: DefaultClock,
}

impl Default for Throttles {
    fn default() -> Self {
        Throttles {
            login_account_ip: keyed(LOGIN_ACCOUNT_IP_BURST, LOGIN_ACCOUNT_IP_PERIOD),
            login_ip: keyed(LOGIN_IP_BURST, LOGIN_IP_PERIOD),
            login_account: keyed(LOGIN_ACCOUNT_BURST, LOGIN_ACCOUNT_PERIOD),
            register_ip: keyed(REGISTER_IP_BURST, REGISTER_IP_PERIOD),
            refresh_ip: keyed(REFRESH_IP_BURST, REFRESH_IP_PERIOD),
            otp_user: keyed(OTP_USER_BURST, OTP_USER_PERIOD),
            clock: DefaultClock::default(),
        }
    }
}

impl Throttles {
    fn check<K: Hash + Eq + Clone>(
        &self,
        limiter: &Keyed<K>,
        key: &K,
        burst: u32,
    ) -> Result<(), ApiError> {
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::RateLimited {
                retry_after_secs: wait.as_secs().saturating_add(1),
                limit: burst,
            }
        })
    }

    /// In order: the (account, IP) pair first, so an attacker's refused attempts consume
    /// neither the IP-wide nor the account-wide allowance.
    pub fn login(&self, account: &str, ip: IpAddr) -> Result<(), ApiError> {
        self.check(
            &self.login_account_ip,
            &(account.to_owned(), ip),
            LOGIN_ACCOUNT_IP_BURST,
        )?;
        self.check(&self.login_ip, &ip, LOGIN_IP_BURST)?;
        self.check(
            &self.login_account,
            &account.to_owned(),
            LOGIN_ACCOUNT_BURST,
        )
    }

    pub fn register(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(&self.register_ip, &ip, REGISTER_IP_BURST)
    }

    pub fn refresh(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(&self.refresh_ip, &ip, REFRESH_IP_BURST)
    }

    pub fn otp(&self, user_id: &str) -> Result<(), ApiError> {
        self.check(&self.otp_user, &user_id.to_owned(), OTP_USER_BURST)
    }

    /// Forgets keys whose allowance is full again; called periodically.
    pub fn retain_recent(&self) {
        self.login_account_ip.retain_recent();
        self.login_ip.retain_recent();
        self.login_account.retain_recent();
        self.register_ip.retain_recent();
        self.refresh_ip.retain_recent();
        self.otp_user.retain_recent();
    }
}
