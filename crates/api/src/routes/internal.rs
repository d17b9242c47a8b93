//! Internal-listener endpoints that are not about money: who the calling service is.

use axum::Json;

use crate::context::ServiceCtx;
use crate::dto::WhoAmI;
use crate::error::ApiError;

/// The calling service principal and its scopes, as resolved from its client certificate.
pub async fn whoami(ServiceCtx(ctx): ServiceCtx) -> Result<Json<WhoAmI>, ApiError> {
    let app::Principal::Service(principal) = &ctx.principal else {
        return Err(ApiError::FORBIDDEN);
    };
    Ok(Json(WhoAmI {
        service: principal.name.clone(),
        scopes: principal.scopes.iter().cloned().collect(),
    }))
}
