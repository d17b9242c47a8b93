//! TOTP: enrolment and confirmation with recovery codes, the MFA step of login
//! (`mfa_ticket`), and TOTP step-up (RFC 9470).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};

use crate::context::{Ctx, QuarantineExemptCtx, UserCtx};
use crate::cookies::token_response;
use crate::dto::{
    CodeRequest, EnrolRequest, RecoveryCodes, TicketCodeRequest, TicketRecoveryRequest,
    TokenResponse, TotpEnrolment,
};
use crate::error::{ApiError, Problem};
use crate::json::{ApiJson, OptionalApiJson};
use crate::problems::{BodyProblems, QuarantinedProblem, RateLimitedProblem, UnavailableProblem};
use crate::state::AppState;

/// Start TOTP enrolment: a new secret to put in an authenticator app. With any factor
/// enrolled already this needs a step-up; the first factor needs a recent sign-in or the
/// password re-entered in the body.
#[utoipa::path(post, path = "/v1/mfa/totp/enroll", tag = "mfa", security(("bearer" = [])), request_body(content = Option<EnrolRequest>),
    responses(
        QuarantinedProblem,
        QuarantinedProblem,
        (status = 200, description = "A pending secret; confirm it with a code", body = TotpEnrolment),
        (status = 401, description = "invalid_token, step_up_required or invalid_credentials (re-entered password)", content_type = "application/problem+json", body = Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn enroll(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    OptionalApiJson(body): OptionalApiJson<EnrolRequest>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let enrolment = state
        .app
        .enroll_totp(&ctx, EnrolRequest::password(body))
        .await?;
    Ok(Json(TotpEnrolment {
        secret: enrolment.secret.expose_secret().to_owned(),
        otpauth_uri: enrolment.otpauth_uri.expose_secret().to_owned(),
    }))
}

/// Confirm TOTP enrolment with a current code; returns ten single-use recovery codes.
#[utoipa::path(post, path = "/v1/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])), request_body = CodeRequest,
    responses(
        (status = 200, description = "TOTP is active; other sessions are signed out", body = RecoveryCodes),
        (status = 401, description = "invalid_code or invalid_token", content_type = "application/problem+json", body = Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let codes = state.app.confirm_totp(&ctx, &body.code).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: app::identity::mfa::reveal_codes(&codes),
    }))
}

/// Second login step with a TOTP code.
#[utoipa::path(post, path = "/v1/auth/mfa/totp", tag = "auth", request_body = TicketCodeRequest,
    responses(
        (status = 200, description = "Signed in with acr=mfa; the refresh cookie is set", body = TokenResponse),
        (status = 401, description = "invalid_code", content_type = "application/problem+json", body = Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn login_totp(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<TicketCodeRequest>,
) -> Result<Response, ApiError> {
    let tokens = state
        .app
        .login_totp(&ctx, &body.mfa_ticket, &body.code)
        .await?;
    Ok(token_response(tokens))
}

/// Second login step with a recovery code (each works once).
#[utoipa::path(post, path = "/v1/auth/mfa/recovery", tag = "auth", request_body = TicketRecoveryRequest,
    responses(
        (status = 200, description = "Signed in; the refresh cookie is set", body = TokenResponse),
        (status = 401, description = "invalid_code", content_type = "application/problem+json", body = Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn login_recovery(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<TicketRecoveryRequest>,
) -> Result<Response, ApiError> {
    let code = SecretString::from(body.recovery_code);
    let tokens = state
        .app
        .login_recovery(&ctx, &body.mfa_ticket, code)
        .await?;
    Ok(token_response(tokens))
}

/// Step up the current session with a TOTP code: fresh tokens with `acr=mfa`.
#[utoipa::path(post, path = "/v1/auth/step-up/totp", tag = "auth", security(("bearer" = [])), request_body = CodeRequest,
    responses(
        (status = 200, description = "Fresh access token with acr=mfa", body = TokenResponse),
        (status = 401, description = "invalid_code or invalid_token", content_type = "application/problem+json", body = Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn step_up_totp(
    State(state): State<AppState>,
    QuarantineExemptCtx(ctx): QuarantineExemptCtx,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    Ok(token_response(
        state.app.step_up_totp(&ctx, &body.code).await?,
    ))
}
