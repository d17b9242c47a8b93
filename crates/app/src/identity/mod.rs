//! Identity: registration and login (`account`), sessions and refresh-token rotation
//! (`session`), access tokens and the bearer check (`tokens`), second factors — TOTP and
//! recovery codes (`mfa`), passkeys (`passkeys`), factor management and enrolment rules
//! (`factors`) — and the services they share: the bounded Argon2 pool (`hashing`), the
//! in-memory session table (`sessions`), throttles (`throttle`) and security events (`events`).

pub mod account;
pub mod closing;
pub mod events;
pub mod factors;
pub mod hashing;
pub mod keyring;
pub mod mfa;
pub mod passkeys;
pub mod recovery;
pub mod session;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod verification;

use identity::{AccessClaims, Acr};

pub use hashing::HashingPool;
pub use sessions::SessionTable;
pub use throttle::Throttles;
pub use tokens::{IssuedTokens, VerifiedTokens};

use crate::{Error, Result};

/// The audience of access tokens when `server.audiences` is not configured.
pub const TOKEN_AUDIENCE: &str = "strongroom";
const DEFAULT_ROLE: &str = "customer";
const STATUS_ACTIVE: &str = "active";
/// A closed account: its personal data is gone and nobody signs in to it again.
pub const STATUS_CLOSED: &str = "closed";

/// Active and quarantined accounts may sign in (a quarantined one's tokens are held until a
/// second factor is completed).
fn may_sign_in(status: &str) -> bool {
    status == STATUS_ACTIVE || status == crate::protection::STATUS_QUARANTINED
}

/// The identity services the use cases share.
pub struct Identity {
    /// The token-signing keys, re-read when their file changes.
    pub keys: keyring::KeyRing,
    pub hashing: HashingPool,
    pub sessions: SessionTable,
    /// Access tokens already verified (a cache in front of `keys.verify`).
    pub verified: VerifiedTokens,
    pub throttles: Throttles,
    /// The WebAuthn relying party (`server.public_origin`).
    pub webauthn: webauthn_rs::Webauthn,
}

/// The WebAuthn relying party for `public_origin` (its host is the RP id).
pub fn relying_party(public_origin: &str) -> std::result::Result<webauthn_rs::Webauthn, String> {
    let origin =
        webauthn_rs::prelude::Url::parse(public_origin).map_err(|_| "not a URL".to_owned())?;
    let rp_id = origin
        .host_str()
        .ok_or_else(|| "no host".to_owned())?
        .to_owned();
    webauthn_rs::prelude::WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|builder| builder.rp_name("Strongroom").build())
        .map_err(|error| format!("cannot be a WebAuthn relying party: {error}"))
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: crate::UserId,
    pub session_id: crate::SessionId,
    pub claims: AccessClaims,
}

impl Caller {
    /// True when the session's last authentication (sign-in or step-up) is at most
    /// `max_age_secs` old at `now_secs`.
    pub fn authenticated_within(&self, now_secs: u64, max_age_secs: u64) -> bool {
        now_secs.saturating_sub(self.claims.auth_time) <= max_age_secs
    }

    /// RFC 9470 step-up: `acr=mfa` and an authentication no older than `max_age_secs`.
    pub fn require_mfa(&self, now_secs: u64, max_age_secs: u64) -> Result<()> {
        if self.claims.acr == Acr::Mfa && self.authenticated_within(now_secs, max_age_secs) {
            Ok(())
        } else {
            Err(Error::StepUpRequired { max_age_secs })
        }
    }
}

impl crate::App {
    /// The caller of `ctx` with a step-up within `auth.step_up_max_age_secs`.
    pub fn require_step_up<'c>(&self, ctx: &'c crate::RequestContext) -> Result<&'c Caller> {
        let caller = ctx.caller()?;
        caller.require_mfa(self.clock.now_secs(), self.auth.step_up_max_age_secs)?;
        Ok(caller)
    }
}

/// The password policy (`identity::password::check_policy`) against the user's own details
/// (the email's local part, the display name); a refusal names the field and the rule.
pub(crate) fn check_password_policy(
    field: &'static str,
    password: &str,
    email: &str,
    display_name: &str,
) -> Result<()> {
    use identity::password::PasswordError;
    let local_part = email.split('@').next().unwrap_or_default();
    identity::password::check_policy(password, &[local_part, display_name]).map_err(|error| {
        let rule = match error {
            PasswordError::TooShort => "too_short",
            PasswordError::TooLong => "too_long",
            PasswordError::Weak | PasswordError::Hashing => "too_common",
        };
        Error::WeakPassword { field, rule }
    })
}

/// The key an address is throttled under: as the account lookup sees it (NFKC, lower case),
/// so look-alike spellings of one address share a budget; bounded raw text when it does not
/// parse.
fn throttle_key(raw: &str, parsed: Option<&identity::Email>) -> String {
    parsed.map_or_else(
        || {
            raw.trim()
                .to_lowercase()
                .chars()
                .take(crate::limits::ACCOUNT_KEY_CHARS_MAX)
                .collect()
        },
        |email| email.as_str().to_owned(),
    )
}

/// User-Agent text as kept with sessions and events: no control characters, bounded.
pub fn clean_user_agent(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(crate::limits::USER_AGENT_CHARS_MAX)
        .collect()
}

/// Display names: trimmed, 1–100 characters, no control characters.
pub fn validate_display_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > crate::limits::DISPLAY_NAME_CHARS_MAX {
        return Err(Error::field("display_name", "length"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::field("display_name", "invalid_characters"));
    }
    Ok(name.to_owned())
}
