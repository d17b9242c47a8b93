//! Wire types: what requests carry and responses answer, with their OpenAPI schemas. Request
//! types are `deny_unknown_fields`; conversions to and from the `app` crate's types live
//! beside them. Nothing here decides anything.

mod admin;
mod batch;
mod holds;
mod identity;
mod ledger;
mod lifecycle;
mod outbox;
mod passkeys;
mod profile;

pub use admin::*;
pub use batch::*;
pub use holds::*;
pub use identity::*;
pub use ledger::*;
pub use lifecycle::*;
pub use outbox::*;
pub use passkeys::*;
pub use profile::*;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `?limit=&cursor=` of a list endpoint.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (a cursor that is not the caller's is 400).
    #[param(pattern = "^[0-9A-Fa-f-]{1,64}$")]
    pub cursor: Option<String>,
}

/// `{status}` of the health endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the process is serving.
    pub status: &'static str,
}

/// `/readyz` (ops listener): ready, and how the shared dependencies are doing.
#[derive(Debug, Serialize)]
pub struct Readiness {
    pub status: &'static str,
    /// `ok` or `degraded` (rate limits local at this instance's share) when `redis.url` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
    /// Live instances at the last Redis heartbeat (each one's share of a budget while Redis
    /// is unreachable) when `redis.url` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    /// `ok`, or `late` when no signed audit checkpoint could be written for two intervals
    /// (the audit key is unavailable, or the store refused): the instance still serves.
    pub checkpoints: &'static str,
}

/// The calling service principal and its scopes.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub service: String,
    pub scopes: Vec<String>,
}
