//! The refresh cookie (`__Host-strongroom_rt`, docs/api.md) and the CSRF defence of the endpoints
//! it authenticates: a present `Origin` must be our own or on the CORS allowlist.

use app::identity::IssuedTokens;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use identity::refresh::is_plausible_refresh_token;
use secrecy::{ExposeSecret, SecretString};

use crate::dto::TokenResponse;
use crate::error::ApiError;
use crate::state::AppState;

/// Name of the refresh cookie (docs/api.md).
pub const REFRESH_COOKIE: &str = "__Host-strongroom_rt";

fn refresh_cookie(token: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let value = format!(
        "{REFRESH_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    );
    HeaderValue::from_str(&value).ok()
}

pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-strongroom_rt=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

/// Tokens as JSON, and the refresh cookie when a new refresh token was issued.
pub fn token_response(tokens: IssuedTokens) -> Response {
    let body = TokenResponse {
        access_token: tokens.access_token,
        token_type: "Bearer".to_owned(),
        expires_in: tokens.expires_in,
    };
    let mut response = Json(body).into_response();
    if let Some(refresh) = tokens.refresh
        && let Some(cookie) = refresh_cookie(refresh.token.expose_secret(), refresh.max_age_secs)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if let Some(device) = tokens.device_cookie
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{}={device}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
            app::protection::device_cookie::DEVICE_COOKIE,
            app::protection::device_cookie::DEVICE_COOKIE_MAX_AGE_SECS
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The refresh token from the `__Host-` cookie, if present and plausible.
pub fn presented_refresh_token(headers: &HeaderMap) -> Option<SecretString> {
    crate::middleware::cookie_value(headers, REFRESH_COOKIE)
        .filter(|token| is_plausible_refresh_token(token))
        .map(|token| SecretString::from(token.to_owned()))
}

/// Cookie-authenticated endpoints refuse a foreign `Origin` (CSRF defence beside SameSite).
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(origin)
            if state
                .trusted_origins
                .iter()
                .any(|trusted| trusted == origin) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::CsrfRejected),
    }
}
