//! `/v1/auth/*` and the JWKS: registration, login, refresh-token rotation, logout, sessions.

use app::identity::account::{LoginOutcome, Registration};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use secrecy::SecretString;

use crate::context::{Ctx, UserCtx, bearer_token};
use crate::cookies::{check_origin, cleared_cookie, presented_refresh_token, token_response};
use crate::dto::{
    LoginAnswer, LoginRequest, MfaChallenge, PageQuery, RegisterRequest, RegisterResponse,
    SessionList, SessionView, TokenResponse,
};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::problems::{
    BearerProblems, BodyProblems, CsrfProblem, NotFoundProblem, QueryProblems, RateLimitedProblem,
    UnavailableProblem,
};
use crate::state::AppState;

/// Create an account. An email that is already registered gets the same answer, after the
/// same work, and creates nothing.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        BodyProblems, RateLimitedProblem, UnavailableProblem,
        (status = 201, description = "Registered (or already registered: indistinguishable)", body = RegisterResponse,
            links(("login" = (operation_id = "login", request_body = json!({"email": "$request.body#/email", "password": "$request.body#/password"}),
                description = "Sign in with the credentials just registered")))),
        (status = 422, description = "weak_password, or validation_failed (email invalid, display_name length or invalid_characters)", content_type = "application/problem+json", body = crate::error::Problem),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let registration = Registration {
        email: body.email,
        password: SecretString::from(body.password),
        display_name: body.display_name,
    };
    let user_id = state.app.register(&ctx, registration).await?;
    Ok((StatusCode::CREATED, Json(RegisterResponse { user_id })))
}

/// Sign in with email and password. Wrong password and unknown email get the same 401 body
/// after the same Argon2 work.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (refresh cookie set), or a second factor is required", body = LoginAnswer,
            headers(("Set-Cookie" = String, description = "`__Host-strongroom_rt=...; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=N` when signed in"))),
        (status = 401, description = "invalid_credentials", content_type = "application/problem+json", body = crate::error::Problem),
        BodyProblems, RateLimitedProblem, UnavailableProblem,
    ))]
pub async fn login(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let password = SecretString::from(body.password);
    match state.app.login(&ctx, &body.email, password).await? {
        LoginOutcome::Tokens(tokens) => Ok(token_response(tokens)),
        LoginOutcome::SecondFactor(challenge) => {
            Ok(Json(MfaChallenge::from(challenge)).into_response())
        }
    }
}

/// Exchange the refresh cookie for a new access token and a rotated cookie.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    responses(
        (status = 200, description = "New tokens; the cookie is rotated", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "The rotated refresh cookie"))),
        (status = 401, description = "invalid_refresh_token or refresh_token_reused", content_type = "application/problem+json", body = crate::error::Problem),
        CsrfProblem, RateLimitedProblem,
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_origin(&state, &headers)?;
    let presented = presented_refresh_token(&headers).ok_or(app::Error::InvalidRefreshToken)?;
    Ok(token_response(state.app.refresh(&ctx, &presented).await?))
}

/// End the session named by the refresh cookie, or else by the bearer token. Idempotent.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        CsrfProblem,
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_origin(&state, &headers)?;
    let refresh = presented_refresh_token(&headers);
    state
        .app
        .logout(&ctx, refresh.as_ref(), bearer_token(&headers))
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie());
    Ok(response)
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Live sessions, newest first", body = SessionList),
        BearerProblems, QueryProblems,
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let page = state.app.sessions(&ctx, &super::page(query)?).await?;
    let current = &ctx.caller()?.session_id;
    Ok(Json(SessionList {
        items: page
            .items
            .into_iter()
            .map(|session| SessionView::of(session, current.as_str()))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revoke one of the caller's sessions; its access tokens stop working at once.
#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        BearerProblems, NotFoundProblem,
    ))]
pub async fn delete_session(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke_session(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWKS", content_type = "application/json", body = Object), crate::problems::EdgeProblems))]
pub async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.app.identity.keys.current().jwks())
}
