//! Passkeys (WebAuthn): registration, login as a second factor or passwordless, step-up.
//! Option endpoints answer `{ceremony_id, publicKey}`; finishing endpoints take
//! `{ceremony_id, credential}`.

use app::identity::passkeys::Ceremony;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::Value;

use crate::context::{Ctx, QuarantineExemptCtx, UserCtx};
use crate::cookies::token_response;
use crate::dto::{
    AssertionRequest, EnrolRequest, LoginOptionsRequest, PasskeyRegistered, RegisterPasskeyRequest,
    TokenResponse,
};
use crate::error::{ApiError, Problem};
use crate::json::{ApiJson, OptionalApiJson};
use crate::problems::{
    BearerProblems, BodyProblems, QuarantinedProblem, RateLimitedProblem, UnavailableProblem,
};
use crate::state::AppState;

/// `{ceremony_id, publicKey}`: the options with the ceremony's id beside them.
fn ceremony_response(ceremony: Ceremony) -> Result<Json<Value>, ApiError> {
    let mut options = ceremony.options;
    let object = options.as_object_mut().ok_or(ApiError::INTERNAL)?;
    object.insert("ceremony_id".to_owned(), Value::String(ceremony.id));
    Ok(Json(options))
}

/// Start registering a passkey for the signed-in user. With any factor enrolled already this
/// needs a step-up; the first factor needs a recent sign-in or the password re-entered.
#[utoipa::path(post, path = "/v1/mfa/webauthn/register/options", tag = "mfa", security(("bearer" = [])), request_body(content = Option<EnrolRequest>),
    responses(
        QuarantinedProblem,
        QuarantinedProblem,
        (status = 200, description = "`{ceremony_id, publicKey}` for navigator.credentials.create()", content_type = "application/json", body = Object),
        (status = 401, description = "invalid_token, step_up_required or invalid_credentials (re-entered password)", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "too_many_passkeys", content_type = "application/problem+json", body = Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn register_options(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    OptionalApiJson(body): OptionalApiJson<EnrolRequest>,
) -> Result<Json<Value>, ApiError> {
    let ceremony = state
        .app
        .passkey_registration_options(&ctx, EnrolRequest::password(body))
        .await?;
    ceremony_response(ceremony)
}

/// Finish registering a passkey; other sessions are signed out.
#[utoipa::path(post, path = "/v1/mfa/webauthn/register", tag = "mfa", security(("bearer" = [])), request_body = RegisterPasskeyRequest,
    responses(
        BodyProblems,
        (status = 201, description = "Registered", body = PasskeyRegistered),
        (status = 400, description = "invalid_request (malformed JSON or credential, wrong type, missing field) or unknown_field (also inside the credential, naming its path)", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_assertion (unknown or expired ceremony, attestation that does not verify, passkey already registered) or invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "validation_failed (name length or invalid_characters) or too_many_passkeys", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn register(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    ApiJson(body): ApiJson<RegisterPasskeyRequest>,
) -> Result<(StatusCode, Json<PasskeyRegistered>), ApiError> {
    let credential_id = state
        .app
        .register_passkey(
            &ctx,
            &body.ceremony_id,
            body.credential,
            body.name.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PasskeyRegistered { credential_id }),
    ))
}

/// Start a passkey login: with an `mfa_ticket` as the second factor, or with `{}` for
/// passwordless login with a discoverable passkey.
#[utoipa::path(post, path = "/v1/auth/webauthn/login/options", tag = "auth", request_body = LoginOptionsRequest,
    responses(
        (status = 200, description = "`{ceremony_id, publicKey}` for navigator.credentials.get()", content_type = "application/json", body = Object),
        (status = 401, description = "invalid_code (ticket)", content_type = "application/problem+json", body = Problem),
        BodyProblems,
    ))]
pub async fn login_options(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginOptionsRequest>,
) -> Result<Json<Value>, ApiError> {
    let ceremony = state
        .app
        .passkey_login_options(body.mfa_ticket.as_deref())
        .await?;
    ceremony_response(ceremony)
}

/// Finish a passkey login.
#[utoipa::path(post, path = "/v1/auth/webauthn/login", tag = "auth", request_body = AssertionRequest,
    responses(
        BodyProblems, RateLimitedProblem,
        (status = 200, description = "Signed in with acr=mfa; the refresh cookie is set", body = TokenResponse),
        (status = 400, description = "invalid_request (malformed JSON or credential, wrong type, missing field) or unknown_field (also inside the credential, naming its path)", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_assertion (unknown or expired ceremony, or an assertion that does not verify)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<AssertionRequest>,
) -> Result<Response, ApiError> {
    let tokens = state
        .app
        .passkey_login(&ctx, &body.ceremony_id, body.credential)
        .await?;
    Ok(token_response(tokens))
}

/// Start a passkey step-up for the current session.
#[utoipa::path(post, path = "/v1/auth/step-up/webauthn/options", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "`{ceremony_id, publicKey}` for navigator.credentials.get()", content_type = "application/json", body = Object),
        (status = 401, description = "invalid_token or invalid_assertion (no passkey)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn step_up_options(
    State(state): State<AppState>,
    QuarantineExemptCtx(ctx): QuarantineExemptCtx,
) -> Result<Json<Value>, ApiError> {
    ceremony_response(state.app.passkey_step_up_options(&ctx).await?)
}

/// Finish a passkey step-up: fresh tokens with `acr=mfa` for the same session.
#[utoipa::path(post, path = "/v1/auth/step-up/webauthn", tag = "auth", security(("bearer" = [])), request_body = AssertionRequest,
    responses(
        BearerProblems, BodyProblems,
        (status = 200, description = "Fresh access token with acr=mfa", body = TokenResponse),
        (status = 400, description = "invalid_request (malformed JSON or credential, wrong type, missing field) or unknown_field (also inside the credential, naming its path)", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token, or invalid_assertion (unknown or expired ceremony, or an assertion that does not verify)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn step_up(
    State(state): State<AppState>,
    QuarantineExemptCtx(ctx): QuarantineExemptCtx,
    ApiJson(body): ApiJson<AssertionRequest>,
) -> Result<Response, ApiError> {
    let tokens = state
        .app
        .passkey_step_up(&ctx, &body.ceremony_id, body.credential)
        .await?;
    Ok(token_response(tokens))
}
