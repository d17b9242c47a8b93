//! `/v1/me/profile` (personal data, envelope-encrypted) and the internal duplicate search.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use http::StatusCode;

use crate::context::{ServiceCtx, UserCtx};
use crate::dto::{DuplicateMatches, DuplicateQuery, ProfileInput, ProfileView, RevealQuery};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::problems::{
    BearerProblems, BodyProblems, IntegrityProblem, NotFoundProblem, UnavailableProblem,
};
use crate::state::AppState;

pub use app::vault::profile::record_context;

/// Store or replace the caller's profile. Each write gets a fresh data key. Changing the
/// national id of an existing profile needs a step-up.
#[utoipa::path(put, path = "/v1/me/profile", tag = "me", security(("bearer" = [])), request_body = ProfileInput,
    responses(
        (status = 200, description = "Stored; the national id is masked", body = ProfileView),
        (status = 422, description = "validation_failed naming each field: length, invalid_characters, invalid_date, not_iso_3166, or national_id required for a new profile", content_type = "application/problem+json", body = crate::error::Problem),
        BearerProblems, BodyProblems, UnavailableProblem,
    ))]
pub async fn put_profile(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<Json<ProfileView>, ApiError> {
    Ok(Json(
        state.app.put_profile(&ctx, input.into()).await?.into(),
    ))
}

/// The caller's profile, decrypted; the national id masked unless revealed after step-up.
#[utoipa::path(get, path = "/v1/me/profile", tag = "me", security(("bearer" = [])), params(RevealQuery),
    responses(
        (status = 200, description = "The profile", body = ProfileView),
        (status = 400, description = "Unknown query parameter or value", content_type = "application/problem+json", body = crate::error::Problem),
        BearerProblems, NotFoundProblem, IntegrityProblem, UnavailableProblem,
    ))]
pub async fn get_profile(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    query: Result<Query<RevealQuery>, QueryRejection>,
) -> Result<Json<ProfileView>, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::invalid_request("Unknown or malformed query parameter."))?;
    let reveal = match query.reveal.as_deref() {
        None => false,
        Some("national_id") => true,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "`reveal` accepts only `national_id`.",
            ));
        }
    };
    Ok(Json(state.app.profile(&ctx, reveal).await?.into()))
}

/// Crypto-shred the caller's profile (step-up): its data key is destroyed; reads answer 404.
#[utoipa::path(delete, path = "/v1/me/profile", tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "Destroyed"),
        BearerProblems, NotFoundProblem,
    ))]
pub async fn delete_profile(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
) -> Result<StatusCode, ApiError> {
    state.app.delete_profile(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Users whose national id matches (by blind index; nothing is decrypted). Scope
/// `profiles:search`.
pub async fn find_duplicates(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    ApiJson(body): ApiJson<DuplicateQuery>,
) -> Result<Json<DuplicateMatches>, ApiError> {
    let user_ids = state.app.find_duplicates(&ctx, &body.national_id).await?;
    Ok(Json(DuplicateMatches { user_ids }))
}
