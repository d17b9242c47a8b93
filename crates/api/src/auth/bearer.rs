//! `Caller`: the extractor for endpoints that need a signed-in user. Verifies the bearer token
//! (`identity::SigningKeys::verify`) and that its session is live in the session table;
//! anything else is 401 `invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"`.

use std::collections::HashMap;
use std::sync::Mutex;

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
        if self.claims.acr == Acr::Mfa && self.authenticated_within(max_age_secs) {
            Ok(())
        } else {
            Err(ApiError::StepUpRequired { max_age_secs })
        }
    }
}

impl Caller {
    /// True when the session's last authentication (sign-in or step-up) is at most
    /// `max_age_secs` old.
    pub fn authenticated_within(&self, max_age_secs: u64) -> bool {
        now_secs().saturating_sub(self.claims.auth_time) <= max_age_secs
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

/// Most verified tokens remembered; beyond it, expired ones are dropped, then all.
pub const VERIFIED_TOKENS_MAX: usize = 10_000;

/// Access tokens whose signature, header and claims already passed `SigningKeys::verify`,
/// keyed by the SHA-256 of the exact token bytes. A hit skips the Ed25519 verification (about
/// a fifth of an authenticated request's CPU) but never the time checks (re-run on every use)
/// or the session check (done by the caller). Holds no secret a client does not already have.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl VerifiedTokens {
    fn digest(token: &str) -> Option<[u8; 32]> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .ok()
    }

    pub fn get(&self, token: &str, now: u64) -> Option<AccessClaims> {
        let digest = Self::digest(token)?;
        let entries = self.entries.lock().ok()?;
        entries
            .get(&digest)
            .filter(|claims| claims.is_current(now))
            .cloned()
    }

    pub fn insert(&self, token: &str, claims: &AccessClaims, now: u64) {
        let (Some(digest), Ok(mut entries)) = (Self::digest(token), self.entries.lock()) else {
            return;
        };
        if entries.len() >= VERIFIED_TOKENS_MAX {
            entries.retain(|_, claims| claims.is_current(now));
            if entries.len() >= VERIFIED_TOKENS_MAX {
                entries.clear();
            }
        }
        entries.insert(digest, claims.clone());
    }
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
        let now = now_secs();
        let claims = match state.auth.verified.get(token, now) {
            Some(claims) => claims,
            None => {
                let claims = state
                    .auth
                    .keys
                    .verify(token, now)
                    .map_err(|_| ApiError::InvalidToken)?;
                state.auth.verified.insert(token, &claims, now);
                claims
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: u64, exp: u64) -> AccessClaims {
        AccessClaims {
            iss: "https://strongroom.test".to_owned(),
            aud: "strongroom".to_owned(),
            sub: "u1".to_owned(),
            sid: "s1".to_owned(),
            jti: "j1".to_owned(),
            iat,
            exp,
            auth_time: iat,
            acr: Acr::Pwd,
            amr: vec!["pwd".to_owned()],
            roles: Vec::new(),
        }
    }

    #[test]
    fn remembered_tokens_still_expire_and_only_the_exact_bytes_hit() {
        let cache = VerifiedTokens::default();
        cache.insert("token-a", &claims(1_000, 1_600), 1_000);
        assert_eq!(cache.get("token-a", 1_100), Some(claims(1_000, 1_600)));
        assert_eq!(cache.get("token-a ", 1_100), None);
        assert_eq!(cache.get("token-b", 1_100), None);
        assert_eq!(
            cache.get("token-a", 1_700),
            None,
            "expired claims are not served"
        );
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..VERIFIED_TOKENS_MAX + 10 {
            cache.insert(&format!("token-{i}"), &claims(1_000, 1_600), 1_000);
        }
        let len = cache
            .entries
            .lock()
            .map(|entries| entries.len())
            .unwrap_or(usize::MAX);
        assert!(len <= VERIFIED_TOKENS_MAX, "{len}");
    }
}
