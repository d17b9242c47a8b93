//! `Caller`: the extractor for endpoints that need a signed-in user. Verifies the bearer token
//! (`identity::SigningKeys::verify`) and that its session is live in the session table;
//! anything else is 401 `invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"`.

use axum::extract::FromRequestParts;
use http::header;
use http::request::Parts;
use identity::{AccessClaims, Acr};

use crate::auth::{now_ms, now_secs};
use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated user of this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub session_id: String,
    pub claims: AccessClaims,
}

impl Caller {
    /// RFC 9470 step-up: `acr=mfa` and an authentication no older than `max_age_secs`.
    pub fn require_mfa(&self, max_age_secs: u64) -> Result<(), ApiError> {
        let fresh = now_secs().saturating_sub(self.claims.auth_time) <= max_age_secs;
        if self.claims.acr == Acr::Mfa && fresh {
            Ok(())
        } else {
            Err(ApiError::StepUpRequired { max_age_secs })
        }
    }
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers).await
    }
}

/// The caller named by the bearer token of `headers`, if it is valid and its session live.
pub async fn authenticate(state: &AppState, headers: &http::HeaderMap) -> Result<Caller, ApiError> {
    {
        let token = bearer_token(headers).ok_or(ApiError::InvalidToken)?;
        let claims = state
            .auth
            .keys
            .verify(token, now_secs())
            .map_err(|_| ApiError::InvalidToken)?;
        let live = state
            .auth
            .sessions
            .is_live(&state.store, &claims.sid, &claims.sub, now_ms())
            .await
            .map_err(ApiError::from)?;
        if !live {
            return Err(ApiError::InvalidToken);
        }
        Ok(Caller {
            user_id: claims.sub.clone(),
            session_id: claims.sid.clone(),
            claims,
        })
    }
}
