//! Service principals of the internal (mutual-TLS) listener.
//!
//! The listener maps the verified client certificate to a configured principal and inserts a
//! `PeerIdentity` into every request of that connection; `ServiceCtx` hands it to the use
//! cases, which check scopes. A certificate that chains to the internal CA but names no
//! configured principal gets 403 on every request.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use app::ServicePrincipal;

use crate::error::ApiError;

/// Who is on the other end of an internal connection.
#[derive(Debug, Clone)]
pub enum PeerIdentity {
    Service(Arc<ServicePrincipal>),
    /// A certificate from the internal CA whose subject maps to no configured service.
    Unrecognised,
}

/// Deny by default: every internal route refuses unrecognised certificates with 403.
pub async fn require_known_service(request: Request, next: Next) -> Response {
    match request.extensions().get::<PeerIdentity>() {
        Some(PeerIdentity::Service(_)) => next.run(request).await,
        _ => ApiError::FORBIDDEN.into_response(),
    }
}
