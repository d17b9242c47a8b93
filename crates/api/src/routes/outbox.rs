//! `/internal/v1/outbox`: the notifications outbox, for the operator's delivery service
//! (scope `notifications:read`); and `/internal/v1/events`, the ledger event stream (scope
//! `ledger:events`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use http::StatusCode;

use crate::context::ServiceCtx;
use crate::dto::{
    EventList, EventView, EventsQuery, NotificationList, NotificationView, OutboxAck, OutboxQuery,
};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::limits::{EVENTS_PAGE_LEN_DEFAULT, OUTBOX_PAGE_LEN_DEFAULT, OUTBOX_PAGE_LEN_MAX};
use crate::state::AppState;

/// Unacknowledged notifications, oldest first.
pub async fn list(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    query: Result<Query<OutboxQuery>, QueryRejection>,
) -> Result<Json<NotificationList>, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::invalid_request("Unknown or malformed query parameter."))?;
    let limit = query.limit.unwrap_or(OUTBOX_PAGE_LEN_DEFAULT);
    if !(1..=OUTBOX_PAGE_LEN_MAX).contains(&limit) {
        return Err(app::Error::field("limit", "out_of_range").into());
    }
    let page = state
        .app
        .outbox(&ctx, query.after.as_deref(), limit)
        .await?;
    Ok(Json(NotificationList {
        items: page.items.into_iter().map(NotificationView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Acknowledges every notification up to `up_to`: they are not served again.
pub async fn ack(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    ApiJson(body): ApiJson<OutboxAck>,
) -> Result<StatusCode, ApiError> {
    state.app.ack_outbox(&ctx, &body.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ledger events after `after` (scope `ledger:events`), in commit order.
pub async fn events(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventList>, ApiError> {
    let query = super::named_query(query)?;
    let after = query.after.unwrap_or(0);
    let events = state
        .app
        .ledger_events(&ctx, after, query.limit.unwrap_or(EVENTS_PAGE_LEN_DEFAULT))
        .await?;
    let next_after = events.last().map_or(after, |event| event.id);
    Ok(Json(EventList {
        items: events.into_iter().map(EventView::from).collect(),
        next_after,
    }))
}
