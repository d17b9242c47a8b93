//! Account protection ("assume breach"): every login, refresh and authenticated request is
//! fingerprinted — client address, User-Agent (browser family and OS, `device`), and where the
//! address is (`geo`). A request whose implied speed from the user's last located request is
//! impossible (`travel`), or a refresh from another browser family or OS than its session's,
//! kills that session (its refresh family with it) and quarantines the account: every
//! authenticated call except step-up and `GET /v1/me` then answers 403
//! `account_quarantined`, and the account's money cannot leave (checked again by the ledger
//! writer). Completing a second factor lifts the quarantine; an account without one waits
//! for an operator (`strongroom user lift-quarantine`).
//!
//! The last located request lives in the store, so every instance compares against it; each
//! instance caches it (and that a user is not quarantined) for `PROTECTION_RECHECK_MS`: a
//! quarantine set by another instance applies here within that time.

pub mod device;
pub mod device_cookie;
mod devices;
pub mod geo;
pub mod outbox;
pub mod screening;
pub mod travel;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use store::{NotificationRecord, Quarantine, SecurityEventRecord, SightingRecord};

pub use self::device::Device;
pub use self::device_cookie::DeviceCookies;
pub use self::geo::{GeoIp, Location};
use self::travel::Sighting;

/// A stored location as the travel rule sees it.
fn point(record: &SightingRecord) -> Sighting {
    // Radii are small integers; exact in f64.
    #[expect(
        clippy::cast_precision_loss,
        reason = "kilometres of an accuracy radius"
    )]
    let accuracy_km = record.accuracy_km as f64;
    Sighting {
        at_ms: record.seen_at,
        latitude: record.latitude,
        longitude: record.longitude,
        accuracy_km,
    }
}
use crate::limits::{PROTECTION_CACHE_USERS_MAX, PROTECTION_RECHECK_MS, SIGHTING_REFRESH_MS};
use crate::{App, Error, RequestContext, Result, new_id};

/// User status of an account on hold.
pub const STATUS_QUARANTINED: &str = "quarantined";

/// `[protection]` and the caches the checks share.
#[derive(Debug)]
pub struct Protection {
    pub geo: GeoIp,
    pub device_cookies: DeviceCookies,
    pub impossible_travel_kmh: u32,
    pub blocked_countries: BTreeSet<String>,
    /// `protection.screening`; set after construction (monitor by default).
    pub screening: screening::ScreeningMode,
    /// Per user: the last located request, and when the store last confirmed it.
    sightings: Mutex<HashMap<String, (Option<SightingRecord>, i64)>>,
    /// Per user: quarantined or not, and when the store last said so.
    quarantined: Mutex<HashMap<String, (bool, i64)>>,
}

/// Why an account is being quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    ImpossibleTravel,
    SessionHijackSuspected,
}

impl Detection {
    pub fn kind(self) -> &'static str {
        match self {
            Detection::ImpossibleTravel => "impossible_travel",
            Detection::SessionHijackSuspected => "session_hijack_suspected",
        }
    }
}

fn bounded_insert<V>(map: &Mutex<HashMap<String, V>>, key: &str, value: V) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= PROTECTION_CACHE_USERS_MAX && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_owned(), value);
    }
}

impl Protection {
    pub fn new(
        geo: GeoIp,
        device_cookies: DeviceCookies,
        impossible_travel_kmh: u32,
        blocked_countries: BTreeSet<String>,
    ) -> Self {
        Protection {
            geo,
            device_cookies,
            impossible_travel_kmh,
            blocked_countries,
            screening: screening::ScreeningMode::default(),
            sightings: Mutex::default(),
            quarantined: Mutex::default(),
        }
    }

    /// Forgets the cached quarantine flag of `user_id` (another instance changed it).
    pub fn forget_user(&self, user_id: &str) {
        if let Ok(mut map) = self.quarantined.lock() {
            map.remove(user_id);
        }
    }

    /// Forgets every cached quarantine flag.
    pub fn forget_all_users(&self) {
        if let Ok(mut map) = self.quarantined.lock() {
            map.clear();
        }
    }

    /// True when requests from `location` are refused (`protection.blocked_countries`).
    pub fn is_blocked(&self, location: Option<&Location>) -> bool {
        location.is_some_and(|location| self.blocked_countries.contains(&location.country))
    }
}

impl App {
    /// Where `ip` is, when a GeoIP database is configured and knows it.
    pub fn locate(&self, ip: std::net::IpAddr) -> Option<Location> {
        self.protection.geo.locate(ip)
    }

    async fn last_sighting(&self, user_id: &str, now: i64) -> Result<Option<SightingRecord>> {
        let cached = self.protection.sightings.lock().ok().and_then(|map| {
            map.get(user_id)
                .filter(|(_, checked)| now.saturating_sub(*checked) <= PROTECTION_RECHECK_MS)
                .map(|(sighting, _)| *sighting)
        });
        if let Some(sighting) = cached {
            return Ok(sighting);
        }
        let sighting = self.store.find_sighting(user_id).await?;
        bounded_insert(&self.protection.sightings, user_id, (sighting, now));
        Ok(sighting)
    }

    /// Compares the request's location with the user's last one. Impossible travel
    /// quarantines the account (and kills `session_id`); `true` then. Otherwise the
    /// sighting is kept (written to the store when the place changed or the stored one is
    /// older than `SIGHTING_REFRESH_MS`).
    pub async fn check_travel(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        session_id: Option<&str>,
    ) -> Result<bool> {
        let Some((latitude, longitude, accuracy)) =
            ctx.location.as_ref().and_then(Location::coordinates)
        else {
            return Ok(false);
        };
        let now = self.clock.now_ms();
        let here = SightingRecord {
            seen_at: now,
            latitude,
            longitude,
            accuracy_km: i64::from(accuracy),
        };
        let last = self.last_sighting(user_id, now).await?;
        if let Some(last) = last {
            let (there, here_point) = (point(&last), point(&here));
            if travel::is_impossible(&there, &here_point, self.protection.impossible_travel_kmh) {
                self.quarantine(ctx, user_id, session_id, Detection::ImpossibleTravel)
                    .await?;
                return Ok(true);
            }
            let moved = travel::distance_km(&there, &here_point) >= travel::TRAVEL_DISTANCE_MIN_KM;
            if !moved && now.saturating_sub(last.seen_at) < SIGHTING_REFRESH_MS {
                return Ok(false);
            }
        }
        self.remember_sighting(user_id, here).await?;
        Ok(false)
    }

    /// Stores (and caches) `user_id`'s location.
    async fn remember_sighting(&self, user_id: &str, sighting: SightingRecord) -> Result<()> {
        self.store.record_sighting(user_id, &sighting).await?;
        bounded_insert(
            &self.protection.sightings,
            user_id,
            (Some(sighting), sighting.seen_at),
        );
        Ok(())
    }

    /// A refresh from another browser family or OS than its session's: quarantines the
    /// account and kills the session; `true` then.
    pub async fn check_device(
        &self,
        ctx: &RequestContext,
        session: &store::SessionRecord,
    ) -> Result<bool> {
        if Device::parse(&session.user_agent) == Device::parse(&ctx.user_agent) {
            return Ok(false);
        }
        self.quarantine(
            ctx,
            &session.user_id,
            Some(&session.id),
            Detection::SessionHijackSuspected,
        )
        .await?;
        Ok(true)
    }

    /// Kills `session_id` (if any), records the detection, and quarantines the account with
    /// its event and outbox notification — in one transaction.
    pub async fn quarantine(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        session_id: Option<&str>,
        detection: Detection,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let detection_event = self.event(ctx, user_id, detection.kind(), session_id);
        let quarantined = self.event(ctx, user_id, "account_quarantined", session_id);
        let data = serde_json::json!({
            "reason": detection.kind(),
            "location": ctx.location.as_ref().map(Location::label),
            "device": Device::parse(&ctx.user_agent).label(),
        });
        let notification = NotificationRecord {
            id: 0,
            user_id: user_id.to_owned(),
            kind: "account_quarantined".to_owned(),
            created_at: now,
            data: data.to_string(),
        };
        let changed = self
            .store
            .quarantine(
                &Quarantine {
                    user_id,
                    session_id,
                    revoke_reason: detection.kind(),
                    detection: &detection_event,
                    quarantined: &quarantined,
                    notification: &notification,
                },
                now,
            )
            .await?;
        if let Some(session_id) = session_id {
            self.session_revoked(session_id);
        }
        bounded_insert(&self.protection.quarantined, user_id, (true, now));
        if changed {
            self.user_changed(user_id);
        }
        metrics::counter!("strongroom_protection_detections_total", "kind" => detection.kind())
            .increment(1);
        tracing::warn!(target: "strongroom::security", kind = detection.kind(), user_id, session_id, "account protection detection");
        if changed {
            metrics::counter!("strongroom_quarantines_total").increment(1);
            tracing::warn!(target: "strongroom::security", kind = "account_quarantined", user_id, "security event");
        }
        Ok(())
    }

    /// Whether the account is on hold. "Not quarantined" is cached for
    /// `PROTECTION_RECHECK_MS`; "quarantined" is asked of the store every time, so a lift by
    /// another instance or an operator applies at once (and a held account can only reach
    /// `GET /v1/me` and the step-up endpoints anyway).
    pub async fn is_quarantined(&self, user_id: &str) -> Result<bool> {
        let now = self.clock.now_ms();
        let cached = self.protection.quarantined.lock().ok().and_then(|map| {
            map.get(user_id)
                .filter(|(quarantined, checked)| {
                    !*quarantined && now.saturating_sub(*checked) <= PROTECTION_RECHECK_MS
                })
                .map(|(quarantined, _)| *quarantined)
        });
        if let Some(quarantined) = cached {
            return Ok(quarantined);
        }
        let quarantined = self
            .store
            .find_user(user_id)
            .await?
            .is_some_and(|user| user.status == STATUS_QUARANTINED);
        bounded_insert(&self.protection.quarantined, user_id, (quarantined, now));
        Ok(quarantined)
    }

    /// After a completed second factor (login or step-up): lifts a quarantine — revoking
    /// every other session of the user, so one held while quarantined (perhaps the thief's)
    /// cannot come back — and the place it was completed from becomes the user's last
    /// location (they proved they are there).
    pub async fn lift_quarantine_after_mfa(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        session_id: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        if let Some((latitude, longitude, accuracy)) =
            ctx.location.as_ref().and_then(Location::coordinates)
        {
            let sighting = SightingRecord {
                seen_at: now,
                latitude,
                longitude,
                accuracy_km: i64::from(accuracy),
            };
            self.remember_sighting(user_id, sighting).await?;
        }
        let quarantined = self
            .store
            .find_user(user_id)
            .await?
            .is_some_and(|user| user.status == STATUS_QUARANTINED);
        if quarantined {
            let event = self.event(ctx, user_id, "quarantine_lifted", session_id);
            if let Some(revoked) = self.store.lift_quarantine(&event, session_id).await? {
                for revoked in &revoked {
                    self.session_revoked(revoked);
                }
                self.user_changed(user_id);
                tracing::info!(target: "strongroom::security", kind = "quarantine_lifted", user_id, revoked = revoked.len(), "security event");
            }
        }
        bounded_insert(&self.protection.quarantined, user_id, (false, now));
        Ok(())
    }

    /// A user-facing request of `ctx`'s caller: impossible travel kills the session (401
    /// `invalid_token`); a quarantined account is refused (403 `account_quarantined`) unless
    /// `admit_quarantined` (the step-up endpoints and `GET /v1/me`).
    pub async fn screen_user_request(
        &self,
        ctx: &RequestContext,
        admit_quarantined: bool,
    ) -> Result<()> {
        let caller = ctx.caller()?;
        let user_id = caller.user_id.as_str();
        if self
            .check_travel(ctx, user_id, Some(caller.session_id.as_str()))
            .await?
        {
            return Err(Error::InvalidToken);
        }
        if !admit_quarantined && self.is_quarantined(user_id).await? {
            return Err(Error::AccountQuarantined);
        }
        Ok(())
    }
}

/// What an operator's lift did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorLift {
    /// Lifted; this many sessions were revoked (the owner signs in afresh).
    Lifted {
        sessions_revoked: usize,
    },
    NotQuarantined,
    /// The account has a second factor: its owner lifts the quarantine by completing it.
    HasSecondFactor,
}

/// An operator lifts the quarantine of the account with `email` (`strongroom user
/// lift-quarantine`, which needs no running server): every session of the account is revoked,
/// and the event names the operator (`operator`, e.g. the OS user) as its source. An account
/// with a second factor is refused unless `force`: its owner can lift it. Running instances
/// see the lift at once and the revocations within a second (their invalidation poll). `NotFound` when no
/// such account.
pub async fn lift_quarantine_by_operator(
    store: &store::Store,
    clock: &crate::Clock,
    email: &str,
    operator: &str,
    force: bool,
) -> Result<OperatorLift> {
    let email = identity::Email::parse(email).map_err(|_| Error::field("email", "invalid"))?;
    let user = store
        .find_user_by_email(email.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    if user.status != STATUS_QUARANTINED {
        return Ok(OperatorLift::NotQuarantined);
    }
    let has_factor = store
        .find_totp(&user.id)
        .await?
        .is_some_and(|totp| totp.confirmed_at.is_some())
        || !store.passkeys(&user.id).await?.is_empty();
    if has_factor && !force {
        return Ok(OperatorLift::HasSecondFactor);
    }
    let operator: String = operator
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(crate::limits::ID_CHARS_MAX)
        .collect();
    let event = SecurityEventRecord {
        id: new_id(),
        user_id: user.id.clone(),
        kind: "quarantine_lifted".to_owned(),
        created_at: clock.now_ms(),
        ip: String::new(),
        user_agent: format!("strongroom user lift-quarantine (operator {operator})"),
        session_id: None,
        location: None,
        request_id: format!("cli:{}", new_id()),
    };
    Ok(match store.lift_quarantine(&event, None).await? {
        Some(revoked) => OperatorLift::Lifted {
            sessions_revoked: revoked.len(),
        },
        None => OperatorLift::NotQuarantined,
    })
}

#[cfg(test)]
mod tests;
