//! Service principals of the internal (mutual-TLS) listener.
//!
//! The listener maps the verified client certificate's subject to a configured principal and
//! inserts a `PeerIdentity` into every request of that connection. Handlers take `Service` and
//! call `require_scope`; a certificate that chains to the internal CA but names no configured
//! principal gets 403 on every request.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::ApiError;

/// A configured service (`[services.NAME]`) and the scopes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    pub name: String,
    pub scopes: BTreeSet<String>,
}

/// Who is on the other end of an internal connection.
#[derive(Debug, Clone)]
pub enum PeerIdentity {
    Service(Arc<ServicePrincipal>),
    /// A certificate from the internal CA whose subject maps to no configured service.
    Unrecognised,
}

/// Extractor for handlers on the internal listener.
#[derive(Debug, Clone)]
pub struct Service(pub Arc<ServicePrincipal>);

impl Service {
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.0.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Service {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<PeerIdentity>() {
            Some(PeerIdentity::Service(principal)) => Ok(Service(principal.clone())),
            _ => Err(ApiError::Forbidden),
        }
    }
}

/// Deny by default: every internal route refuses unrecognised certificates with 403.
pub async fn require_known_service(request: Request, next: Next) -> Response {
    match request.extensions().get::<PeerIdentity>() {
        Some(PeerIdentity::Service(_)) => next.run(request).await,
        _ => ApiError::Forbidden.into_response(),
    }
}
