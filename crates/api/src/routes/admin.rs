//! `/v1/admin/*`: roles, containment, four-eyes approvals and the audit log. Each handler
//! reads its input and calls one `App` method; the role and step-up checks, and the audit
//! record of every call, are the use case's (`app::admin`).

use app::admin::{AdminOutcome, RoleAction};
use app::limits::{PAGE_LEN_DEFAULT, PAGE_LEN_MAX};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::context::UserCtx;
use crate::dto::{
    AdminUser, AdminUserQuery, ApprovalList, ApprovalQuery, ApprovalView, AuditList, AuditQuery,
    PendingApproval, RoleChange, RoleChangeAction,
};
use crate::error::{ApiError, Problem};
use crate::json::ApiJson;
use crate::problems::{
    AdminProblems, ApprovalProblems, BodyProblems, NotFoundProblem, QueryProblems,
};
use crate::state::AppState;

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|_| ApiError::invalid_request("Unknown or malformed query parameter."))
}

fn limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(PAGE_LEN_DEFAULT);
    if (1..=PAGE_LEN_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(app::Error::field("limit", "out_of_range").into())
    }
}

/// 204 when done now, 202 with the approval when it waits for a second admin.
fn outcome(outcome: AdminOutcome) -> Response {
    match outcome {
        AdminOutcome::Done => StatusCode::NO_CONTENT.into_response(),
        AdminOutcome::Pending { approval_id } => (
            StatusCode::ACCEPTED,
            Json(PendingApproval {
                approval_id,
                status: "pending".to_owned(),
            }),
        )
            .into_response(),
    }
}

/// Find a user by email (support, admin): no personal-data fields.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])), params(AdminUserQuery),
    responses(
        (status = 200, description = "The user", body = AdminUser),
        (status = 422, description = "validation_failed: email invalid", content_type = "application/problem+json", body = Problem),
        AdminProblems, NotFoundProblem,
        (status = 400, description = "invalid_request: unknown or malformed parameter", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn find_user(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    params: Result<Query<AdminUserQuery>, QueryRejection>,
) -> Result<Json<AdminUser>, ApiError> {
    let params = query(params)?;
    Ok(Json(
        state.app.admin_find_user(&ctx, &params.email).await?.into(),
    ))
}

/// Lock a user at once (support, admin): every session dies, sign-in answers invalid_credentials.
#[utoipa::path(post, path = "/v1/admin/users/{id}/lock", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Locked"), AdminProblems, NotFoundProblem))]
pub async fn lock(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.admin_lock(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unlock a user (admin): waits for a second admin's approval.
#[utoipa::path(post, path = "/v1/admin/users/{id}/unlock", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 202, description = "Pending approval", body = PendingApproval), AdminProblems, NotFoundProblem))]
pub async fn unlock(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        state.app.admin_restore_user(&ctx, &id, "unlock").await?,
    ))
}

/// Lift a quarantine (admin): waits for a second admin's approval.
#[utoipa::path(post, path = "/v1/admin/users/{id}/lift-quarantine", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 202, description = "Pending approval", body = PendingApproval), AdminProblems, NotFoundProblem))]
pub async fn lift_quarantine(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        state
            .app
            .admin_restore_user(&ctx, &id, "lift_quarantine")
            .await?,
    ))
}

/// Reset a user's second factors (admin): waits for a second admin's approval; then every
/// factor is removed, every session revoked and the user notified (`mfa_changed`).
#[utoipa::path(post, path = "/v1/admin/users/{id}/reset-mfa", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 202, description = "Pending approval", body = PendingApproval),
        (status = 422, description = "validation_failed: mfa not_enrolled (nothing to reset)", content_type = "application/problem+json", body = Problem),
        AdminProblems, NotFoundProblem,
    ))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        state.app.admin_restore_user(&ctx, &id, "reset_mfa").await?,
    ))
}

/// Grant (after approval) or revoke (at once) a role (admin).
#[utoipa::path(post, path = "/v1/admin/users/{id}/roles", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")), request_body = RoleChange,
    responses(
        (status = 202, description = "Grant pending approval", body = PendingApproval),
        (status = 204, description = "Revoked"),
        (status = 422, description = "validation_failed: role unknown_role", content_type = "application/problem+json", body = Problem),
        AdminProblems, NotFoundProblem, BodyProblems,
    ))]
pub async fn roles(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<Response, ApiError> {
    let action = match body.action {
        RoleChangeAction::Grant => RoleAction::Grant,
        RoleChangeAction::Revoke => RoleAction::Revoke,
    };
    Ok(outcome(
        state.app.admin_role(&ctx, &id, &body.role, action).await?,
    ))
}

/// Freeze a customer account at once (support, admin).
#[utoipa::path(post, path = "/v1/admin/accounts/{id}/freeze", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 204, description = "Frozen"), AdminProblems, NotFoundProblem))]
pub async fn freeze(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.admin_freeze(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unfreeze a customer account (admin): waits for a second admin's approval.
#[utoipa::path(post, path = "/v1/admin/accounts/{id}/unfreeze", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 202, description = "Pending approval", body = PendingApproval), AdminProblems, NotFoundProblem))]
pub async fn unfreeze(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(state.app.admin_unfreeze(&ctx, &id).await?))
}

/// Approvals by status, oldest first (admin).
#[utoipa::path(get, path = "/v1/admin/approvals", tag = "admin", security(("bearer" = [])), params(ApprovalQuery),
    responses((status = 200, description = "One page", body = ApprovalList), AdminProblems, QueryProblems))]
pub async fn approvals(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    params: Result<Query<ApprovalQuery>, QueryRejection>,
) -> Result<Json<ApprovalList>, ApiError> {
    let params = query(params)?;
    let limit = limit(params.limit)?;
    let (items, next_cursor) = state
        .app
        .admin_approvals(
            &ctx,
            params.status.as_deref(),
            params.cursor.as_deref(),
            limit,
        )
        .await?;
    Ok(Json(ApprovalList {
        items: items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Approve (admin, not the requester): the action executes now, atomically with the approval.
#[utoipa::path(post, path = "/v1/admin/approvals/{id}/approve", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Approval id")),
    responses((status = 200, description = "Approved and executed", body = ApprovalView), AdminProblems, ApprovalProblems, NotFoundProblem))]
pub async fn approve(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Json<ApprovalView>, ApiError> {
    let approved = state.app.admin_approve(&ctx, &id).await?;
    let mut view = ApprovalView::from(approved.approval);
    view.transfer_id = approved.transfer_id;
    Ok(Json(view))
}

/// Reject a pending approval (admin).
#[utoipa::path(post, path = "/v1/admin/approvals/{id}/reject", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Approval id")),
    responses((status = 200, description = "Rejected", body = ApprovalView), AdminProblems, ApprovalProblems, NotFoundProblem))]
pub async fn reject(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Json<ApprovalView>, ApiError> {
    Ok(Json(state.app.admin_reject(&ctx, &id).await?.into()))
}

/// The audit log, oldest first (auditor, admin); the read is itself audited.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "One page", body = AuditList), AdminProblems, QueryProblems))]
pub async fn audit(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    params: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditList>, ApiError> {
    let params = query(params)?;
    let limit = limit(params.limit)?;
    let page = state
        .app
        .admin_audit(&ctx, params.cursor.as_deref(), limit)
        .await?;
    Ok(Json(AuditList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}
