//! `/v1/me`: the signed-in user's own account and security events.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

use crate::context::{QuarantineExemptCtx, UserCtx};
use crate::dto::{Me, PageQuery, SecurityEventList, UpdateMe};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::problems::{BearerProblems, BodyProblems, QueryProblems};
use crate::state::AppState;

/// The signed-in user.
#[utoipa::path(get, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "The account", body = Me), BearerProblems))]
pub async fn get_me(
    State(state): State<AppState>,
    QuarantineExemptCtx(ctx): QuarantineExemptCtx,
) -> Result<Json<Me>, ApiError> {
    Ok(Json(state.app.me(&ctx).await?.into()))
}

/// Change the display name — the only field a user may change here.
#[utoipa::path(patch, path = "/v1/me", tag = "me", security(("bearer" = [])), request_body = UpdateMe,
    responses(
        (status = 200, description = "Updated", body = Me),
        (status = 422, description = "validation_failed: display_name length or invalid_characters", content_type = "application/problem+json", body = crate::error::Problem),
        BearerProblems, BodyProblems,
    ))]
pub async fn patch_me(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    ApiJson(body): ApiJson<UpdateMe>,
) -> Result<Json<Me>, ApiError> {
    let me = state
        .app
        .update_display_name(&ctx, &body.display_name)
        .await?;
    Ok(Json(me.into()))
}

/// The signed-in user's security events, newest first.
#[utoipa::path(get, path = "/v1/me/security-events", tag = "me", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "One page", body = SecurityEventList),
        BearerProblems, QueryProblems,
    ))]
pub async fn security_events(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<SecurityEventList>, ApiError> {
    let page = state
        .app
        .security_events(&ctx, &super::page(query)?)
        .await?;
    Ok(Json(SecurityEventList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}
