//! `POST /internal/v1/introspect` (scope `tokens:introspect`): RFC 7662 token introspection,
//! so a service learns at once that an access token's session was revoked — on any instance —
//! instead of trusting its signature until it expires.

use axum::Json;
use axum::extract::State;

use crate::context::ServiceCtx;
use crate::dto::{IntrospectRequest, Introspection};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// Whether `token` is active: signed by a key in service, unexpired, and its session live.
pub async fn introspect(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    ApiJson(body): ApiJson<IntrospectRequest>,
) -> Result<Json<Introspection>, ApiError> {
    let answer = match state.app.introspect(&ctx, &body.token).await? {
        Some(claims) => Introspection {
            active: true,
            token_type: Some("Bearer"),
            sub: Some(claims.sub),
            sid: Some(claims.sid),
            iss: Some(claims.iss),
            aud: Some(claims.aud),
            iat: Some(claims.iat),
            exp: Some(claims.exp),
            auth_time: Some(claims.auth_time),
            acr: Some(match claims.acr {
                identity::Acr::Mfa => "mfa",
                identity::Acr::Pwd => "pwd",
            }),
            roles: Some(claims.roles),
        },
        None => Introspection::inactive(),
    };
    Ok(Json(answer))
}
