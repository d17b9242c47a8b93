//! Internal-listener endpoints that are not about money: who the calling service is.

use axum::Json;
use serde::Serialize;

use crate::principal::Service;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// The service principal named by the client certificate.
    pub service: String,
    pub scopes: Vec<String>,
}

/// The calling service principal and its scopes, as resolved from its client certificate.
pub async fn whoami(Service(principal): Service) -> Json<WhoAmI> {
    Json(WhoAmI {
        service: principal.name.clone(),
        scopes: principal.scopes.iter().cloned().collect(),
    })
}
