//! The use cases of Strongroom, one module per capability: `identity` (accounts, sessions,
//! tokens, second factors), `ledger` (accounts and money movements, handed to the single
//! ledger writer), `vault` (personal data and the keys that seal it), `protection`
//! (fingerprints, impossible travel, hijack detection, quarantine, the outbox). `App` holds
//! what they share — the store, the ledger writer, the clock, the keys and the settings — and exposes
//! commands and queries that take typed inputs and a `RequestContext` and return typed
//! outcomes or an `Error`. This crate knows nothing of HTTP; the `api` crate is its edge.

pub mod admin;
pub mod audit;
pub mod clock;
pub mod cluster;
pub mod error;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod ledger;
pub mod limits;
pub mod protection;
pub mod vault;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

pub use crate::identity::Caller;
pub use crate::ids::{SessionId, UserId};
pub use clock::{Clock, rfc3339};
pub use error::{Error, FieldError, Result};

/// Token and session lifetimes (`[auth]`).
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    pub access_token_ttl_secs: u64,
    pub refresh_family_ttl_secs: u64,
    pub step_up_max_age_secs: u64,
    /// Money leaves an account only after its owner verified their email.
    pub require_verified_email: bool,
}

/// `[ledger]` settings.
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    pub currencies: Vec<String>,
    /// Transfers above this many minor units need `acr=mfa`.
    pub step_up_amount: i64,
    /// Internal withdrawals above this many minor units wait for an admin's approval.
    pub four_eyes_amount: i64,
}

/// Every scope an internal endpoint checks; a configured service may hold only these.
pub const SCOPES: &[&str] = &[
    "ledger:deposit",
    "ledger:withdraw",
    "ledger:read",
    "ledger:freeze",
    "ledger:batch",
    ledger::holds::HOLD_SCOPE,
    ledger::reversals::REVERSE_SCOPE,
    ledger::operator::LEDGER_ADMIN_SCOPE,
    ledger::events::EVENTS_SCOPE,
    "profiles:search",
    protection::outbox::OUTBOX_SCOPE,
    identity::tokens::INTROSPECT_SCOPE,
];

/// A configured service (`[services.NAME]`) and the scopes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    pub name: String,
    pub scopes: BTreeSet<String>,
}

impl ServicePrincipal {
    pub fn require_scope(&self, scope: &'static str) -> Result<()> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(Error::MissingScope { scope })
        }
    }
}

/// Who a request acts for.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    User(Box<Caller>),
    Service(Arc<ServicePrincipal>),
}

/// What every use case knows about the request that asked for it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub ip: IpAddr,
    /// Control characters removed, at most `limits::USER_AGENT_CHARS_MAX` characters.
    pub user_agent: String,
    pub request_id: String,
    pub principal: Principal,
    /// Where the client address is, when a GeoIP database knows it.
    pub location: Option<protection::Location>,
    /// The id of the browser's genuine `__Host-strongroom_device` cookie.
    pub device: Option<String>,
}

impl RequestContext {
    /// The signed-in user, or `InvalidToken`.
    pub fn caller(&self) -> Result<&Caller> {
        match &self.principal {
            Principal::User(caller) => Ok(caller),
            _ => Err(Error::InvalidToken),
        }
    }

    /// The calling service holding `scope`, or `Forbidden`.
    pub fn service(&self, scope: &'static str) -> Result<&ServicePrincipal> {
        match &self.principal {
            Principal::Service(service) => {
                service.require_scope(scope)?;
                Ok(service)
            }
            _ => Err(Error::Forbidden),
        }
    }
}

/// Everything the use cases share. Cheap to share behind an `Arc`.
pub struct App {
    pub store: store::Store,
    /// The only path that posts money movements.
    pub writer: store::LedgerWriter,
    pub clock: Clock,
    pub identity: identity::Identity,
    pub vault: vault::Vault,
    pub protection: protection::Protection,
    /// Rate limits and the invalidation bus shared with other instances.
    pub cluster: cluster::Cluster,
    /// The checks in front of the ledger writer's queue.
    pub ledger_admission: ledger::admission::Admission,
    pub auth: AuthSettings,
    pub ledger: LedgerSettings,
    /// The audit key and the checkpoint schedule.
    pub audit: audit::Audit,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .field("auth", &self.auth)
            .field("ledger", &self.ledger)
            .finish()
    }
}

/// A new time-ordered opaque identifier.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
