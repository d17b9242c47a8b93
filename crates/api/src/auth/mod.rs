//! Authentication services shared by the handlers: the bounded Argon2 pool, access-token
//! signing and verification, the in-memory session table, login throttles, and the bearer
//! extractor that every authenticated endpoint uses.

pub mod bearer;
pub mod hashing;
pub mod sessions;
pub mod throttle;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use identity::SigningKeys;

pub use bearer::Caller;
pub use hashing::HashingPool;
pub use sessions::SessionTable;
pub use throttle::Throttles;

/// Name of the refresh cookie (API.md).
pub const REFRESH_COOKIE: &str = "__Host-strongroom_rt";
/// Audience of our access tokens.
pub const TOKEN_AUDIENCE: &str = "strongroom";
/// A concurrent refresh presenting the token rotated less than this ago gets the same pair.
pub const REFRESH_GRACE_MS: i64 = 10_000;

const _: () = assert!(
    REFRESH_GRACE_MS <= 10_000,
    "API.md: a grace of at most 10 seconds"
);

/// Token and session lifetimes from `[auth]`.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    pub access_token_ttl_secs: u64,
    pub refresh_family_ttl_secs: u64,
    pub step_up_max_age_secs: u64,
}

/// Everything the identity endpoints share.
pub struct Auth {
    pub keys: SigningKeys,
    pub hashing: HashingPool,
    pub sessions: SessionTable,
    /// Access tokens already verified (a cache in front of `keys.verify`).
    pub verified: bearer::VerifiedTokens,
    pub throttles: Throttles,
    /// The WebAuthn relying party (`server.public_origin`).
    pub webauthn: webauthn_rs::Webauthn,
    pub settings: AuthSettings,
    /// Origins allowed on cookie endpoints: our own and the CORS allowlist.
    pub trusted_origins: Vec<HeaderValue>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("keys", &self.keys)
            .field("settings", &self.settings)
            .finish()
    }
}

pub type SharedAuth = Arc<Auth>;

/// The WebAuthn relying party for `public_origin` (its host is the RP id).
pub fn relying_party(public_origin: &str) -> Result<webauthn_rs::Webauthn, String> {
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

/// Milliseconds since the Unix epoch. The one place the API reads the wall clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub fn now_secs() -> u64 {
    u64::try_from(now_ms() / 1000).unwrap_or(0)
}

/// RFC 3339 UTC for a millisecond timestamp.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms).saturating_mul(1_000_000);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A new time-ordered opaque identifier.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
