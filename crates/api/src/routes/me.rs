//! `/v1/me`: the signed-in user's own account and security events.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, rfc3339};
use crate::error::{ApiError, Problem};
use crate::json::ApiJson;
use crate::routes::auth::{validate_display_name, validation_failed};
use crate::state::AppState;

/// Items per page unless `limit` says otherwise (API.md).
pub const PAGE_LEN_DEFAULT: i64 = 50;
pub const PAGE_LEN_MAX: i64 = 200;
const CURSOR_CHARS_MAX: usize = 64;

#[derive(Serialize, ToSchema)]
pub struct MfaStatus {
    pub totp: bool,
    pub webauthn: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub mfa: MfaStatus,
    pub status: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEvent {
    pub id: String,
    /// `registered`, `login`, `login_failed`, `logout`, `session_revoked`, `refresh_token_reused`.
    pub kind: String,
    pub created_at: String,
    pub ip: String,
    pub user_agent: String,
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEventList {
    pub items: Vec<SecurityEvent>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A validated page request: `limit` in 1..=200 (default 50), and a cursor of the shape our
/// ids have (time-ordered UUIDs). Whether the cursor names one of the caller's items is for
/// the handler to check.
#[derive(Debug)]
pub struct Page {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl Page {
    pub fn from_query(
        query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Page, ApiError> {
        let Query(query) = query
            .map_err(|_| ApiError::invalid_request("Unknown or malformed query parameter."))?;
        let limit = query.limit.unwrap_or(PAGE_LEN_DEFAULT);
        if !(1..=PAGE_LEN_MAX).contains(&limit) {
            return Err(validation_failed("limit", "out_of_range"));
        }
        if let Some(cursor) = &query.cursor {
            let well_formed = !cursor.is_empty()
                && cursor.len() <= CURSOR_CHARS_MAX
                && cursor.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
            if !well_formed {
                return Err(ApiError::invalid_request("Malformed cursor."));
            }
        }
        Ok(Page {
            limit,
            cursor: query.cursor,
        })
    }

    /// Splits rows fetched with `limit + 1` into the page and whether another follows.
    pub fn split<T>(&self, mut rows: Vec<T>) -> (Vec<T>, bool) {
        let limit = usize::try_from(self.limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        (rows, more)
    }
}

async fn me_view(state: &AppState, caller: &Caller) -> Result<Me, ApiError> {
    let user = state
        .store
        .find_user(&caller.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(Me {
        user_id: user.id,
        email: user.email,
        display_name: user.display_name,
        roles: user
            .roles
            .split(',')
            .filter(|role| !role.is_empty())
            .map(str::to_owned)
            .collect(),
        mfa: MfaStatus {
            totp: crate::routes::mfa::has_totp(state, &caller.user_id).await?,
            webauthn: crate::routes::webauthn::has_passkeys(state, &caller.user_id).await?,
        },
        status: user.status,
    })
}

/// The signed-in user.
#[utoipa::path(get, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Me),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn get_me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    Ok(Json(me_view(&state, &caller).await?))
}

/// Change the display name — the only field a user may change here.
#[utoipa::path(patch, path = "/v1/me", tag = "me", security(("bearer" = [])), request_body = UpdateMe,
    responses(
        (status = 200, description = "Updated", body = Me),
        (status = 400, description = "unknown_field (roles, status, ...) or malformed", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 413, description = "Body too large", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "validation_failed", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn patch_me(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UpdateMe>,
) -> Result<Json<Me>, ApiError> {
    let name = validate_display_name(&body.display_name)?;
    state
        .store
        .update_display_name(&caller.user_id, &name)
        .await?;
    Ok(Json(me_view(&state, &caller).await?))
}

/// The signed-in user's security events, newest first.
#[utoipa::path(get, path = "/v1/me/security-events", tag = "me", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "One page", body = SecurityEventList),
        (status = 400, description = "Malformed query", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "limit out of range", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn security_events(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SecurityEventList>, ApiError> {
    let page = Page::from_query(query)?;
    let events = state
        .store
        .list_security_events(
            &caller.user_id,
            page.cursor.as_deref(),
            page.limit.saturating_add(1),
        )
        .await?;
    let (events, has_more) = page.split(events);
    let items: Vec<SecurityEvent> = events
        .into_iter()
        .map(|event| SecurityEvent {
            id: event.id,
            kind: event.kind,
            created_at: rfc3339(event.created_at),
            ip: event.ip,
            user_agent: event.user_agent,
        })
        .collect();
    let next_cursor = if has_more {
        items.last().map(|event| event.id.clone())
    } else {
        None
    };
    Ok(Json(SecurityEventList { items, next_cursor }))
}
