//! The account lifecycle: forgotten and changed passwords, email verification and change,
//! closing an account and exporting one's data.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use secrecy::SecretString;

use crate::context::{Ctx, UserCtx};
use crate::cookies::cleared_cookie;
use crate::dto::{
    ChangeEmailRequest, ChangePasswordRequest, DataExport, ForgotPasswordRequest,
    ResetPasswordRequest, VerifyEmailRequest,
};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::problems::{BearerProblems, BodyProblems, RateLimitedProblem, UnavailableProblem};
use crate::state::AppState;

/// Ask for a password-reset token. The answer is the same, after the same work, whether or
/// not the address has an account; for one that does, a `password_reset` notification with
/// a single-use token (30 minutes) goes to the outbox.
#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted (whether or not the address has an account)"),
        (status = 422, description = "validation_failed: email invalid", content_type = "application/problem+json", body = crate::error::Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn forgot_password(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<ForgotPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state.app.forgot_password(&ctx, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with a reset token. Every session of the user is revoked; second
/// factors stay (the next sign-in still asks for one).
#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password set; every session revoked"),
        (status = 400, description = "invalid_reset_token (unknown, used or expired), or a malformed body", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 422, description = "weak_password (`errors` names the rule: too_short, too_long, too_common)", content_type = "application/problem+json", body = crate::error::Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn reset_password(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .reset_password(&ctx, &body.token, SecretString::from(body.new_password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Verify an email address with the token sent to it. For an email change, the new address
/// replaces the old one now (and the old one is told).
#[utoipa::path(post, path = "/v1/auth/email/verify", tag = "auth", request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "Verified"),
        (status = 400, description = "invalid_verification_token (unknown, used, expired, or the address was taken meanwhile), or a malformed body", content_type = "application/problem+json", body = crate::error::Problem),
        BodyProblems, RateLimitedProblem,
    ))]
pub async fn verify_email(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<StatusCode, ApiError> {
    state.app.verify_email(&ctx, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password with the current one (and a fresh step-up when a second factor is
/// enrolled). Every other session is revoked.
#[utoipa::path(post, path = "/v1/me/password", tag = "me", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session revoked"),
        (status = 422, description = "weak_password (`errors` names the rule)", content_type = "application/problem+json", body = crate::error::Problem),
        BearerProblems, BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .change_password(
            &ctx,
            SecretString::from(body.current_password),
            SecretString::from(body.new_password),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the email address (step-up): a verification token goes to the new address and a
/// notice to the old one, which stays the login name until the new one is verified. A taken
/// address gets the same answer. The current address asks for a new verification token.
#[utoipa::path(post, path = "/v1/me/email", tag = "me", security(("bearer" = [])), request_body = ChangeEmailRequest,
    responses(
        (status = 202, description = "Accepted; a verification token is on its way"),
        (status = 422, description = "validation_failed: new_email invalid", content_type = "application/problem+json", body = crate::error::Problem),
        BearerProblems, BodyProblems, RateLimitedProblem,
    ))]
pub async fn change_email(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    ApiJson(body): ApiJson<ChangeEmailRequest>,
) -> Result<StatusCode, ApiError> {
    state.app.change_email(&ctx, &body.new_email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Close the account (step-up). Refused while any of its accounts holds money. The profile
/// is crypto-shredded, email and display name replaced by tombstones, factors removed and
/// every session revoked; ledger history stays under the pseudonymous user id.
#[utoipa::path(delete, path = "/v1/me", tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "Closed; the refresh cookie is cleared",
            headers(("Set-Cookie" = String, description = "The cleared refresh cookie"))),
        (status = 409, description = "balance_not_zero", content_type = "application/problem+json", body = crate::error::Problem),
        BearerProblems, UnavailableProblem,
    ))]
pub async fn close_account(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
) -> Result<Response, ApiError> {
    state.app.close_account(&ctx).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie());
    Ok(response)
}

/// Everything held about the signed-in user (step-up): the account, the decrypted profile,
/// live sessions, security events, ledger accounts and their entries.
#[utoipa::path(get, path = "/v1/me/export", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "The export", body = DataExport),
        BearerProblems, UnavailableProblem,
    ))]
pub async fn export(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
) -> Result<Json<DataExport>, ApiError> {
    let export = state.app.export(&ctx).await?;
    let me = state.app.me(&ctx).await?;
    let session = ctx.caller()?.session_id.as_str().to_owned();
    Ok(Json(DataExport::of(
        export,
        me.into(),
        &session,
        state.app.clock.now_ms(),
    )))
}
