//! Login and registration throttles on several keys at once (GCRA via governor):
//! per (account, client IP) — tight, stops an attacker on one network;
//! per client IP — stops one network spraying many accounts;
//! per account across all IPs — a much higher ceiling, so an attacker hammering an account
//! from one network is stopped by the first key long before the owner, logging in from
//! another network, meets this one. Refused attempts never reach Argon2 and never count
//! against the account's ceiling.
//!
//! Second-factor codes are spent per (user, client network): an attacker who knows the
//! password burns only their own budget, never the owner's. Networks that never completed a
//! second factor for the user also share a user-wide ceiling: an attempt over it waits for
//! its slot (at most `OTP_USER_DELAY_MAX`), and only when the queue is longer than that is it
//! refused — so a guesser spread over many networks gets no more than the ceiling's rate,
//! while a network that completed a factor before (the owner's) keeps its own budget and is
//! never held back. IPv6 clients are keyed by their /64 in every throttle (one subscriber
//! usually holds a whole /64, so rotating addresses inside it buys nothing).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::Error;
pub use crate::limits::{
    KNOWN_NETWORK_USERS_MAX, KNOWN_NETWORKS_PER_USER_MAX, LOGIN_ACCOUNT_DELAY_MAX,
    OTP_USER_DELAY_MAX,
};

/// Who is signing in, as the login throttles see it.
#[derive(Debug, Clone, Copy)]
pub struct LoginClient<'a> {
    pub ip: IpAddr,
    /// The id of a genuine device cookie.
    pub device: Option<&'a str>,
    /// The device signed in to this account before.
    pub known: bool,
}

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
/// Second-factor code attempts per (user, client network): TOTP, recovery codes, step-up.
pub const OTP_USER_CLIENT_BURST: u32 = 10;
pub const OTP_USER_CLIENT_PERIOD: Duration = Duration::from_secs(30);
/// Second-factor attempts per user across every client; beyond it attempts are delayed.
pub const OTP_USER_BURST: u32 = 30;
pub const OTP_USER_PERIOD: Duration = Duration::from_secs(10);
/// Prefix length that names one IPv6 client network.
pub const IPV6_CLIENT_PREFIX_LEN: u8 = 64;
/// Refresh and other cookie calls per IP.
pub const REFRESH_IP_BURST: u32 = 120;
pub const REFRESH_IP_PERIOD: Duration = Duration::from_millis(500);
/// Known-device lookups (a database read before the login throttles) per client network;
/// beyond it the device counts as unknown, so a flood of sign-ins with a genuine cookie and
/// varying emails cannot turn into a flood of reads.
pub const DEVICE_LOOKUP_IP_BURST: u32 = 20;
pub const DEVICE_LOOKUP_IP_PERIOD: Duration = Duration::from_secs(3);

/// Password-reset and verification mails per address (whether or not it has an account):
/// a burst, then one every `MAIL_ADDRESS_PERIOD`.
pub const MAIL_ADDRESS_BURST: u32 = 3;
pub const MAIL_ADDRESS_PERIOD: Duration = Duration::from_secs(300);
/// Such requests per client network, across addresses.
pub const MAIL_IP_BURST: u32 = 10;
pub const MAIL_IP_PERIOD: Duration = Duration::from_secs(60);

const _: () = assert!(LOGIN_ACCOUNT_BURST > LOGIN_ACCOUNT_IP_BURST * 4);
const _: () = assert!(OTP_USER_BURST > OTP_USER_CLIENT_BURST);

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

fn keyed<K: Hash + Eq + Clone>(burst: u32, period: Duration) -> Keyed<K> {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
    RateLimiter::keyed(quota.allow_burst(burst))
}

pub struct Throttles {
    login_account_ip: Keyed<(String, String)>,
    login_ip: Keyed<IpAddr>,
    login_account: Keyed<String>,
    register_ip: Keyed<IpAddr>,
    refresh_ip: Keyed<IpAddr>,
    device_lookup_ip: Keyed<IpAddr>,
    mail_address: Keyed<String>,
    mail_ip: Keyed<IpAddr>,
    otp_user_client: Keyed<(String, IpAddr)>,
    otp_user: Keyed<String>,
    /// Client networks that completed a second factor, per user.
    known_networks: std::sync::Mutex<std::collections::HashMap<String, Vec<IpAddr>>>,
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
            device_lookup_ip: keyed(DEVICE_LOOKUP_IP_BURST, DEVICE_LOOKUP_IP_PERIOD),
            mail_address: keyed(MAIL_ADDRESS_BURST, MAIL_ADDRESS_PERIOD),
            mail_ip: keyed(MAIL_IP_BURST, MAIL_IP_PERIOD),
            otp_user_client: keyed(OTP_USER_CLIENT_BURST, OTP_USER_CLIENT_PERIOD),
            otp_user: keyed(OTP_USER_BURST, OTP_USER_PERIOD),
            known_networks: std::sync::Mutex::default(),
            clock: DefaultClock::default(),
        }
    }
}

impl Throttles {
    /// Admits one attempt on `key`, or refuses it (429, counted under `throttle`).
    fn check<K: Hash + Eq + Clone>(
        &self,
        throttle: &'static str,
        limiter: &Keyed<K>,
        key: &K,
        burst: u32,
    ) -> Result<(), Error> {
        limiter.check_key(key).map_err(|not_until| {
            refused(throttle);
            let wait = not_until.wait_time_from(self.clock.now());
            Error::RateLimited {
                retry_after_secs: wait.as_secs().saturating_add(1),
                limit: burst,
            }
        })
    }

    /// In order: the (account, client) pair first — the client being the signed device
    /// cookie when there is one, else the network — so an attacker's refused attempts consume
    /// neither the network-wide nor the account-wide allowance. A device that signed in to
    /// this account before (`known`) stops there: it keeps its own budget whatever others
    /// spend. Anyone else is also held to the network's and the account's ceilings; over the
    /// account's, an attempt waits for its turn (up to `LOGIN_ACCOUNT_DELAY_MAX`) rather than
    /// being refused outright, so the owner on a new device is slowed, never locked out.
    pub async fn login(&self, account: &str, client: LoginClient<'_>) -> Result<(), Error> {
        let network = client_network(client.ip);
        // Only a device known to the account is its own client: a fresh cookie must not buy a
        // fresh budget.
        let client_key = match client.device {
            Some(device) if client.known => format!("device:{device}"),
            _ => network.to_string(),
        };
        self.check(
            "login_account_client",
            &self.login_account_ip,
            &(account.to_owned(), client_key),
            LOGIN_ACCOUNT_IP_BURST,
        )?;
        if client.known {
            return Ok(());
        }
        self.check("login_network", &self.login_ip, &network, LOGIN_IP_BURST)?;
        self.wait_for_slot(
            "login_account",
            &self.login_account,
            &account.to_owned(),
            LOGIN_ACCOUNT_BURST,
            LOGIN_ACCOUNT_DELAY_MAX,
        )
        .await
    }

    /// Whether a known-device lookup from `ip`'s network may go to the store now.
    pub fn device_lookup(&self, ip: IpAddr) -> bool {
        self.device_lookup_ip.check_key(&client_network(ip)).is_ok()
    }

    pub fn register(&self, ip: IpAddr) -> Result<(), Error> {
        self.check(
            "register_network",
            &self.register_ip,
            &client_network(ip),
            REGISTER_IP_BURST,
        )
    }

    /// Admits a request that mails a token (password reset, email verification): the client
    /// network's allowance first, so a flood from one network never spends an address's.
    pub fn mail(&self, address: &str, ip: IpAddr) -> Result<(), Error> {
        self.check(
            "mail_network",
            &self.mail_ip,
            &client_network(ip),
            MAIL_IP_BURST,
        )?;
        self.check(
            "mail_address",
            &self.mail_address,
            &address.to_owned(),
            MAIL_ADDRESS_BURST,
        )
    }

    pub fn refresh(&self, ip: IpAddr) -> Result<(), Error> {
        self.check(
            "refresh_network",
            &self.refresh_ip,
            &client_network(ip),
            REFRESH_IP_BURST,
        )
    }

    /// Admits one second-factor attempt of `user_id` from `ip`: refused (429) when this
    /// client network's budget is spent; for a network that never completed a factor for the
    /// user, also held to the user-wide ceiling (waiting for a slot up to
    /// `OTP_USER_DELAY_MAX`, refused beyond).
    pub async fn otp(&self, user_id: &str, ip: IpAddr) -> Result<(), Error> {
        let network = client_network(ip);
        self.check(
            "otp_user_client",
            &self.otp_user_client,
            &(user_id.to_owned(), network),
            OTP_USER_CLIENT_BURST,
        )?;
        if self.is_known(user_id, network) {
            return Ok(());
        }
        self.wait_for_slot(
            "otp_user",
            &self.otp_user,
            &user_id.to_owned(),
            OTP_USER_BURST,
            OTP_USER_DELAY_MAX,
        )
        .await
    }

    /// Admits one attempt on `key`, waiting for its slot when over the ceiling; refused (429)
    /// when the slot is further away than `delay_max`.
    async fn wait_for_slot<K: Hash + Eq + Clone>(
        &self,
        throttle: &'static str,
        limiter: &Keyed<K>,
        key: &K,
        burst: u32,
        delay_max: Duration,
    ) -> Result<(), Error> {
        let deadline = std::time::Instant::now().checked_add(delay_max);
        loop {
            let Err(not_until) = limiter.check_key(key) else {
                return Ok(());
            };
            let wait = not_until.wait_time_from(self.clock.now());
            let wakes = std::time::Instant::now().checked_add(wait);
            if deadline.is_none() || wakes.is_none() || wakes > deadline {
                // The key (an email address for sign-ins) is personal data: not logged.
                refused(throttle);
                tracing::warn!(
                    target: "strongroom::security",
                    limit = burst,
                    "attempts over an account-wide ceiling; refused"
                );
                return Err(Error::RateLimited {
                    retry_after_secs: wait.as_secs().saturating_add(1),
                    limit: burst,
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn is_known(&self, user_id: &str, network: IpAddr) -> bool {
        self.known_networks.lock().is_ok_and(|known| {
            known
                .get(user_id)
                .is_some_and(|nets| nets.contains(&network))
        })
    }

    /// Remembers that `ip`'s network completed a second factor for `user_id`: it keeps its
    /// own budget from now on.
    pub fn remember_network(&self, user_id: &str, ip: IpAddr) {
        let network = client_network(ip);
        let Ok(mut known) = self.known_networks.lock() else {
            return;
        };
        if known.len() >= KNOWN_NETWORK_USERS_MAX && !known.contains_key(user_id) {
            known.clear();
        }
        let networks = known.entry(user_id.to_owned()).or_default();
        if !networks.contains(&network) {
            if networks.len() >= KNOWN_NETWORKS_PER_USER_MAX {
                networks.remove(0);
            }
            networks.push(network);
        }
    }

    /// Forgets keys whose allowance is full again; called periodically.
    pub fn retain_recent(&self) {
        self.login_account_ip.retain_recent();
        self.login_ip.retain_recent();
        self.login_account.retain_recent();
        self.register_ip.retain_recent();
        self.refresh_ip.retain_recent();
        self.device_lookup_ip.retain_recent();
        self.mail_address.retain_recent();
        self.mail_ip.retain_recent();
        self.otp_user_client.retain_recent();
        self.otp_user.retain_recent();
    }
}

/// Counts a refusal by the named throttle (`strongroom_throttled_total{throttle}`).
fn refused(throttle: &'static str) {
    metrics::counter!("strongroom_throttled_total", "throttle" => throttle).increment(1);
}

/// The key that names one client network: an IPv4 address, or the /64 of an IPv6 address.
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, IPV6_CLIENT_PREFIX_LEN)
            .map_or(ip, |net| IpAddr::V6(net.network())),
    }
}

#[cfg(test)]
mod tests;
