//! Extractors that turn a request into the `app::RequestContext` a use case takes: the client
//! address, the User-Agent, the request id, and who is calling — nobody (`Ctx`), a signed-in
//! user whose bearer token verifies and whose session is live (`UserCtx`, otherwise 401
//! `invalid_token` with `WWW-Authenticate`), or a recognised service on the internal
//! listener (`ServiceCtx`, otherwise 403).

use app::{Principal, RequestContext};
use axum::extract::FromRequestParts;
use http::header;
use http::request::Parts;

use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::middleware::{DeviceId, Located, RequestId};
use crate::principal::PeerIdentity;
use crate::state::AppState;

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

fn context(parts: &Parts, principal: Principal) -> Result<RequestContext, ApiError> {
    let ip = parts
        .extensions
        .get::<ClientIp>()
        .copied()
        .ok_or(ApiError::INTERNAL)?;
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(app::identity::clean_user_agent)
        .unwrap_or_default();
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let location = parts
        .extensions
        .get::<Located>()
        .and_then(|located| located.0.clone());
    let device = parts
        .extensions
        .get::<DeviceId>()
        .and_then(|device| device.0.clone());
    Ok(RequestContext {
        ip: ip.0,
        user_agent,
        request_id,
        principal,
        location,
        device,
    })
}

/// The context of a request made by nobody in particular.
#[derive(Debug)]
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        context(parts, Principal::Anonymous).map(Ctx)
    }
}

/// The context of a signed-in user's request. Account protection runs first: impossible
/// travel kills the session (401), and a quarantined account is refused (403
/// `account_quarantined`).
#[derive(Debug)]
pub struct UserCtx(pub RequestContext);

async fn user_context(
    parts: &Parts,
    state: &AppState,
    admit_quarantined: bool,
) -> Result<RequestContext, ApiError> {
    let token = bearer_token(&parts.headers).ok_or(ApiError::INVALID_TOKEN)?;
    let caller = state.app.authenticate(token).await?;
    // The access log names who made the request.
    if let Some(slot) = parts.extensions.get::<crate::middleware::LoggedPrincipal>() {
        let _ = slot.0.set(format!("user:{}", caller.user_id));
    }
    let ctx = context(parts, Principal::User(Box::new(caller)))?;
    state
        .app
        .screen_user_request(&ctx, admit_quarantined)
        .await?;
    Ok(ctx)
}

impl FromRequestParts<AppState> for UserCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        user_context(parts, state, false).await.map(UserCtx)
    }
}

/// A signed-in user's request that a quarantined account may still make: the step-up
/// endpoints (which lift the quarantine) and `GET /v1/me` (which shows it).
#[derive(Debug)]
pub struct QuarantineExemptCtx(pub RequestContext);

impl FromRequestParts<AppState> for QuarantineExemptCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        user_context(parts, state, true)
            .await
            .map(QuarantineExemptCtx)
    }
}

/// The context of a recognised service's request on the internal listener.
#[derive(Debug)]
pub struct ServiceCtx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for ServiceCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<PeerIdentity>() {
            Some(PeerIdentity::Service(principal)) => {
                context(parts, Principal::Service(principal.clone())).map(ServiceCtx)
            }
            _ => Err(ApiError::FORBIDDEN),
        }
    }
}
