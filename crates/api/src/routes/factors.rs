//! Second-factor management: list, remove TOTP or a passkey, regenerate recovery codes. Every
//! change needs a step-up and signs out the user's other sessions.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;

use crate::context::UserCtx;
use crate::dto::{FactorList, RecoveryCodes};
use crate::error::{ApiError, Problem};
use crate::problems::{BearerProblems, NotFoundProblem};
use crate::state::AppState;

/// The caller's second factors.
#[utoipa::path(get, path = "/v1/me/factors", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "TOTP, passkeys and the recovery codes left", body = FactorList),
        BearerProblems,
    ))]
pub async fn list_factors(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
) -> Result<Json<FactorList>, ApiError> {
    Ok(Json(state.app.factors(&ctx).await?.into()))
}

/// Remove the caller's TOTP authenticator (step-up). Other sessions are revoked.
#[utoipa::path(delete, path = "/v1/me/factors/totp", tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "factor_required: a role requires a second factor", content_type = "application/problem+json", body = Problem),
        BearerProblems, NotFoundProblem,
    ))]
pub async fn delete_totp(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
) -> Result<StatusCode, ApiError> {
    state.app.remove_totp(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove one of the caller's passkeys (step-up). Other sessions are revoked.
#[utoipa::path(delete, path = "/v1/me/factors/passkeys/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = String, Path, description = "Passkey id from GET /v1/me/factors")),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "factor_required: a role requires a second factor", content_type = "application/problem+json", body = Problem),
        BearerProblems, NotFoundProblem,
    ))]
pub async fn delete_passkey(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.remove_passkey(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the caller's recovery codes with ten new ones (step-up); the old ones stop working.
#[utoipa::path(post, path = "/v1/me/recovery-codes", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "Ten new single-use codes; shown once", body = RecoveryCodes),
        BearerProblems, NotFoundProblem,
    ))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let codes = state.app.regenerate_recovery_codes(&ctx).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: app::identity::mfa::reveal_codes(&codes),
    }))
}
