//! `/internal/v1/holds`: two-phase postings for services (scope `ledger:hold`) — place a hold
//! on a customer account's available balance, capture it (one transfer of at most the held
//! amount) or void it.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::ledger::{posted, replayed};
use crate::context::ServiceCtx;
use crate::dto::{CaptureBody, HoldBody, NewHoldBody};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use app::ledger::holds::HoldPlaced;

/// Place a hold: 201 with the hold (`status: "held"`); the account's `available` drops, its
/// balance does not. The same `idempotency_key` and body answer the same hold again.
pub async fn create(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    ApiJson(body): ApiJson<NewHoldBody>,
) -> Result<Response, ApiError> {
    Ok(match state.app.create_hold(&ctx, body.into()).await? {
        HoldPlaced::New(hold) => (StatusCode::CREATED, Json(hold)).into_response(),
        HoldPlaced::Replayed(body) => replayed(body),
    })
}

/// Capture a hold: 201 with the posted `capture` transfer; the rest of the hold is released.
pub async fn capture(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CaptureBody>,
) -> Result<Response, ApiError> {
    Ok(posted(
        state.app.capture_hold(&ctx, &id, body.into()).await?,
    ))
}

/// Void a hold: 200 with the hold, now `voided` (or `expired`, if it was due).
pub async fn void(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    Path(id): Path<String>,
) -> Result<Json<HoldBody>, ApiError> {
    Ok(Json(state.app.void_hold(&ctx, &id).await?))
}

/// A hold as it is now.
pub async fn show(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    Path(id): Path<String>,
) -> Result<Json<HoldBody>, ApiError> {
    Ok(Json(state.app.hold(&ctx, &id).await?))
}
