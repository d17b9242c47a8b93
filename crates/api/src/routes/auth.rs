//! `/v1/auth/*` and the JWKS: registration, login, refresh-token rotation with reuse detection,
//! logout and session management.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use identity::password::{PasswordError, Verification};
use identity::refresh::{self, hash_refresh_token, is_plausible_refresh_token};
use identity::{AccessClaims, Acr, Email};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use store::{SecurityEventRecord, SessionRecord, UserRecord};
use utoipa::ToSchema;

use crate::auth::bearer::{authenticate, bearer_token};
use crate::auth::{
    Caller, REFRESH_COOKIE, REFRESH_GRACE_MS, TOKEN_AUDIENCE, new_id, now_ms, rfc3339,
};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, FieldError, Problem};
use crate::json::ApiJson;
use crate::routes::me::{Page, PageQuery};
use crate::state::AppState;

/// Longest display name, in characters.
pub const DISPLAY_NAME_CHARS_MAX: usize = 100;
/// User-Agent characters kept with a session or event.
pub const USER_AGENT_CHARS_MAX: usize = 256;
/// Longest session id accepted in a path.
const SESSION_ID_CHARS_MAX: usize = 64;
const DEFAULT_ROLE: &str = "customer";
const STATUS_ACTIVE: &str = "active";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    /// 12 to 256 characters; common or guessable passwords are refused.
    pub password: String,
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// What a successful password step answers: tokens, or a second-factor challenge.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(TokenResponse),
    Mfa(crate::routes::mfa::MfaChallenge),
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub ip: String,
    pub user_agent: String,
    /// City and country when GeoIP is configured.
    pub location: Option<String>,
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
    pub next_cursor: Option<String>,
}

pub(crate) fn validation_failed(field: &str, code: &'static str) -> ApiError {
    ApiError::ValidationFailed {
        errors: vec![FieldError {
            field: field.to_owned(),
            code,
        }],
    }
}

/// Display names: trimmed, 1–100 characters, no control characters.
pub(crate) fn validate_display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > DISPLAY_NAME_CHARS_MAX {
        return Err(validation_failed("display_name", "length"));
    }
    if name.chars().any(char::is_control) {
        return Err(validation_failed("display_name", "invalid_characters"));
    }
    Ok(name.to_owned())
}

pub(crate) fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_CHARS_MAX)
        .collect()
}

pub(crate) async fn record_event(
    state: &AppState,
    user_id: &str,
    kind: &str,
    ip: ClientIp,
    headers: &HeaderMap,
    session_id: Option<&str>,
) -> Result<(), ApiError> {
    let event = SecurityEventRecord {
        id: new_id(),
        user_id: user_id.to_owned(),
        kind: kind.to_owned(),
        created_at: now_ms(),
        ip: ip.0.to_string(),
        user_agent: user_agent(headers),
        session_id: session_id.map(str::to_owned),
    };
    state.store.record_security_event(&event).await?;
    tracing::info!(target: "strongroom::security", kind, user_id, "security event");
    Ok(())
}

/// Records a security event off the response path: used where writing it inline would make
/// one branch measurably slower than another (which email exists, whether a password was
/// right). A failure to record is logged.
pub(crate) fn record_event_detached(
    state: &AppState,
    user_id: &str,
    kind: &'static str,
    ip: ClientIp,
    headers: &HeaderMap,
) {
    let state = state.clone();
    let user_id = user_id.to_owned();
    let user_agent = user_agent(headers);
    tokio::spawn(async move {
        let event = SecurityEventRecord {
            id: new_id(),
            user_id,
            kind: kind.to_owned(),
            created_at: now_ms(),
            ip: ip.0.to_string(),
            user_agent,
            session_id: None,
        };
        match state.store.record_security_event(&event).await {
            Ok(()) => {
                tracing::info!(target: "strongroom::security", kind, user_id = event.user_id, "security event");
            }
            Err(error) => {
                tracing::error!(%error, kind, "security event could not be recorded");
            }
        }
    });
}

/// Create an account. An email that is already registered gets the same answer, after the
/// same work, and creates nothing.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered (or already registered: indistinguishable)", body = RegisterResponse),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 413, description = "Body too large", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "weak_password or validation_failed", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
        (status = 503, description = "Hashing pool busy", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    state.auth.throttles.register(ip.0)?;
    // A place in the Argon2 pool first: a flood is turned away before any other work.
    let admission = state.auth.hashing.admit().await?;
    let password = SecretString::from(body.password);
    let email = Email::parse(&body.email).map_err(|_| validation_failed("email", "invalid"))?;
    let display_name = validate_display_name(&body.display_name)?;
    let local_part = email
        .as_str()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    identity::password::check_policy(password.expose_secret(), &[&local_part, &display_name])
        .map_err(|_: PasswordError| ApiError::WeakPassword)?;
    let password_hash = state.auth.hashing.hash(admission, password).await?;
    let user = UserRecord {
        id: new_id(),
        email: email.as_str().to_owned(),
        display_name,
        password_hash,
        roles: DEFAULT_ROLE.to_owned(),
        status: STATUS_ACTIVE.to_owned(),
        created_at: now_ms(),
    };
    // Both branches make one insert attempt; the event is written off the response path so
    // a new and an existing email take the same time.
    if state.store.create_user(&user).await? {
        record_event_detached(&state, &user.id, "registered", ip, &headers);
    }
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse { user_id: user.id }),
    ))
}

/// Sign in with email and password. Wrong password and unknown email get the same 401 body
/// after the same Argon2 work.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (refresh cookie set), or a second factor is required", body = LoginAnswer),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_credentials", content_type = "application/problem+json", body = Problem),
        (status = 413, description = "Body too large", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
        (status = 503, description = "Hashing pool busy", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    const ACCOUNT_KEY_CHARS_MAX: usize = 256;
    let password = SecretString::from(body.password);
    let email = Email::parse(&body.email).ok();
    let account_key = email.as_ref().map_or_else(
        || {
            body.email
                .trim()
                .to_lowercase()
                .chars()
                .take(ACCOUNT_KEY_CHARS_MAX)
                .collect()
        },
        |email| email.as_str().to_owned(),
    );
    state.auth.throttles.login(&account_key, ip.0)?;
    if identity::password::check_length(password.expose_secret()) == Err(PasswordError::TooLong) {
        return Err(ApiError::InvalidCredentials);
    }
    // A place in the Argon2 pool before the user lookup: a flood is turned away before it
    // costs a database read. The answer (503) is the same whether the email exists.
    let admission = state.auth.hashing.admit().await?;
    let user = match &email {
        Some(email) => state.store.find_user_by_email(email.as_str()).await?,
        None => None,
    };
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let (verification, rehashed) = state
        .auth
        .hashing
        .verify(admission, password, stored)
        .await?;
    let Some(user) = user else {
        return Err(ApiError::InvalidCredentials);
    };
    if !matches!(verification, Verification::Valid { .. }) || user.status != STATUS_ACTIVE {
        // Off the response path: a wrong password must take as long as an unknown email.
        record_event_detached(&state, &user.id, "login_failed", ip, &headers);
        return Err(ApiError::InvalidCredentials);
    }
    if let Some(new_hash) = rehashed {
        state
            .store
            .update_password_hash(&user.id, &new_hash)
            .await?;
    }
    if crate::routes::mfa::has_totp(&state, &user.id).await?
        || crate::routes::webauthn::has_passkeys(&state, &user.id).await?
    {
        return crate::routes::mfa::challenge(&state, &user.id).await;
    }
    start_session(&state, &user, ip, &headers, Acr::Pwd, &["pwd"]).await
}

/// Creates a session and its refresh family, and answers with tokens and the cookie.
pub(crate) async fn start_session(
    state: &AppState,
    user: &UserRecord,
    ip: ClientIp,
    headers: &HeaderMap,
    acr: Acr,
    amr: &[&str],
) -> Result<Response, ApiError> {
    let now = now_ms();
    let family_ttl_ms = i64::try_from(state.auth.settings.refresh_family_ttl_secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    let session = SessionRecord {
        id: new_id(),
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.saturating_add(family_ttl_ms),
        ip: ip.0.to_string(),
        user_agent: user_agent(headers),
        auth_time: now,
        acr: acr_name(acr).to_owned(),
        amr: amr.join(","),
        generation: 0,
        rotated_at: None,
        grace_blob: None,
        revoked_at: None,
    };
    let (refresh_token, refresh_hash) =
        refresh::new_refresh_token().map_err(|_| ApiError::Internal)?;
    state.store.create_session(&session, &refresh_hash).await?;
    state
        .auth
        .sessions
        .insert(&session.id, &user.id, session.expires_at);
    record_event(state, &user.id, "login", ip, headers, Some(&session.id)).await?;
    let (access_token, exp) = mint_access_token(state, &user.roles, &session, now)?;
    Ok(token_response(
        &access_token,
        exp,
        &refresh_token,
        session.expires_at,
        now,
    ))
}

fn acr_name(acr: Acr) -> &'static str {
    match acr {
        Acr::Pwd => "pwd",
        Acr::Mfa => "mfa",
    }
}

/// Signs an access token for `session`; returns it with its `exp` (seconds).
pub(crate) fn mint_access_token(
    state: &AppState,
    roles: &str,
    session: &SessionRecord,
    now_ms: i64,
) -> Result<(String, u64), ApiError> {
    let iat = u64::try_from(now_ms / 1000).unwrap_or(0);
    let session_end = u64::try_from(session.expires_at / 1000).unwrap_or(0);
    let exp = iat
        .saturating_add(state.auth.settings.access_token_ttl_secs)
        .min(session_end);
    let claims = AccessClaims {
        iss: state.auth.keys.issuer().to_owned(),
        aud: TOKEN_AUDIENCE.to_owned(),
        sub: session.user_id.clone(),
        sid: session.id.clone(),
        jti: new_id(),
        iat,
        exp,
        auth_time: u64::try_from(session.auth_time / 1000).unwrap_or(0),
        acr: if session.acr == "mfa" {
            Acr::Mfa
        } else {
            Acr::Pwd
        },
        amr: session
            .amr
            .split(',')
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect(),
        roles: roles
            .split(',')
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let token = state
        .auth
        .keys
        .sign(&claims)
        .map_err(|_| ApiError::Internal)?;
    Ok((token, exp))
}

fn refresh_cookie(token: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let value = format!(
        "{REFRESH_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    );
    HeaderValue::from_str(&value).ok()
}

fn token_response(
    access_token: &str,
    exp: u64,
    refresh_token: &SecretString,
    family_expires_at_ms: i64,
    now_ms: i64,
) -> Response {
    let now_secs = u64::try_from(now_ms / 1000).unwrap_or(0);
    let body = TokenResponse {
        access_token: access_token.to_owned(),
        token_type: "Bearer".to_owned(),
        expires_in: exp.saturating_sub(now_secs),
    };
    let mut response = Json(body).into_response();
    let max_age = family_expires_at_ms.saturating_sub(now_ms).max(0) / 1000;
    if let Some(cookie) = refresh_cookie(refresh_token.expose_secret(), max_age) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The refresh token from the `__Host-` cookie, if present and plausible.
fn presented_refresh_token(headers: &HeaderMap) -> Option<SecretString> {
    let prefix = format!("{REFRESH_COOKIE}=");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(prefix.as_str()).map(str::to_owned))
        .filter(|token| is_plausible_refresh_token(token))
        .map(SecretString::from)
}

/// Cookie-authenticated endpoints refuse a foreign `Origin` (CSRF defence beside SameSite).
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(origin)
            if state
                .auth
                .trusted_origins
                .iter()
                .any(|trusted| trusted == origin) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::CsrfRejected),
    }
}

/// What a concurrent refresh inside the grace window gets back: the pair already issued, and
/// the client it was issued to (only the same client may have it).
#[derive(Serialize, Deserialize)]
struct GraceAnswer {
    access_token: String,
    exp: u64,
    refresh_token: String,
    ip: std::net::IpAddr,
    user_agent: String,
}

/// The same client: the same User-Agent, from the same IPv4 address or IPv6 /64.
fn same_client(answer: &GraceAnswer, ip: ClientIp, headers: &HeaderMap) -> bool {
    use crate::auth::throttle::client_network;
    client_network(answer.ip) == client_network(ip.0) && answer.user_agent == user_agent(headers)
}

/// Exchange the refresh cookie for a new access token and a rotated cookie.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    responses(
        (status = 200, description = "New tokens; the cookie is rotated", body = TokenResponse),
        (status = 401, description = "invalid_refresh_token or refresh_token_reused", content_type = "application/problem+json", body = Problem),
        (status = 403, description = "csrf_rejected", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_origin(&state, &headers)?;
    state.auth.throttles.refresh(ip.0)?;
    let presented = presented_refresh_token(&headers).ok_or(ApiError::InvalidRefreshToken)?;
    let (session_id, generation) = state
        .store
        .find_refresh_token(&hash_refresh_token(&presented))
        .await?
        .ok_or(ApiError::InvalidRefreshToken)?;
    let now = now_ms();
    let session = live_session(&state, &session_id, now).await?;
    if generation == session.generation {
        let user = state
            .store
            .find_user(&session.user_id)
            .await?
            .ok_or(ApiError::InvalidRefreshToken)?;
        let (new_token, new_hash) = refresh::new_refresh_token().map_err(|_| ApiError::Internal)?;
        let (access_token, exp) = mint_access_token(&state, &user.roles, &session, now)?;
        let answer = GraceAnswer {
            access_token: access_token.clone(),
            exp,
            refresh_token: new_token.expose_secret().to_owned(),
            ip: ip.0,
            user_agent: user_agent(&headers),
        };
        let plaintext = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal)?;
        let sealed = refresh::seal_grace(&presented, &session.id, &plaintext)
            .map_err(|_| ApiError::Internal)?;
        if state
            .store
            .rotate_refresh(&session.id, generation, &new_hash, &sealed, now)
            .await?
        {
            return Ok(token_response(
                &access_token,
                exp,
                &new_token,
                session.expires_at,
                now,
            ));
        }
    }
    // Lost the race, or an older token: the concurrent-refresh grace, or theft.
    let session = live_session(&state, &session_id, now).await?;
    let within_grace = generation.checked_add(1) == Some(session.generation)
        && session
            .rotated_at
            .is_some_and(|rotated| now.saturating_sub(rotated) <= REFRESH_GRACE_MS);
    if within_grace {
        let answer = session
            .grace_blob
            .as_deref()
            .and_then(|sealed| refresh::open_grace(&presented, &session.id, sealed))
            .and_then(|plaintext| serde_json::from_slice::<GraceAnswer>(&plaintext).ok())
            .filter(|answer| same_client(answer, ip, &headers));
        if let Some(answer) = answer {
            let token = SecretString::from(answer.refresh_token);
            return Ok(token_response(
                &answer.access_token,
                answer.exp,
                &token,
                session.expires_at,
                now,
            ));
        }
    }
    if state
        .store
        .revoke_session(&session.id, "refresh_token_reused", now)
        .await?
    {
        record_event(
            &state,
            &session.user_id,
            "refresh_token_reused",
            ip,
            &headers,
            Some(&session.id),
        )
        .await?;
    }
    state.auth.sessions.revoke(&session.id);
    Err(ApiError::RefreshTokenReused)
}

async fn live_session(
    state: &AppState,
    session_id: &str,
    now: i64,
) -> Result<SessionRecord, ApiError> {
    let session = state
        .store
        .find_session(session_id)
        .await?
        .ok_or(ApiError::InvalidRefreshToken)?;
    if session.revoked_at.is_some() || session.expires_at <= now {
        return Err(ApiError::InvalidRefreshToken);
    }
    Ok(session)
}

fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-strongroom_rt=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

/// End the session named by the refresh cookie, or else by the bearer token. Idempotent.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 403, description = "csrf_rejected", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_origin(&state, &headers)?;
    let mut session_id = None;
    if let Some(token) = presented_refresh_token(&headers) {
        session_id = state
            .store
            .find_refresh_token(&hash_refresh_token(&token))
            .await?
            .map(|(id, _)| id);
    }
    if session_id.is_none() && bearer_token(&headers).is_some() {
        session_id = authenticate(&state, &headers)
            .await
            .ok()
            .map(|caller| caller.session_id);
    }
    let session = match session_id {
        Some(id) => state.store.find_session(&id).await?,
        None => None,
    };
    if let Some(session) = session {
        if state
            .store
            .revoke_session(&session.id, "logout", now_ms())
            .await?
        {
            record_event(
                &state,
                &session.user_id,
                "logout",
                ip,
                &headers,
                Some(&session.id),
            )
            .await?;
        }
        state.auth.sessions.revoke(&session.id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie());
    Ok(response)
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Live sessions, newest first", body = SessionList),
        (status = 400, description = "Malformed or foreign cursor, unknown parameter", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "limit out of range", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let page = Page::from_query(query)?;
    if let Some(cursor) = &page.cursor {
        // A cursor is the id of one of the caller's own sessions; anything else is refused.
        let owned = state
            .store
            .find_session(cursor)
            .await?
            .is_some_and(|session| session.user_id == caller.user_id);
        if !owned {
            return Err(ApiError::invalid_request("Unknown cursor."));
        }
    }
    let sessions = state
        .store
        .list_sessions(
            &caller.user_id,
            now_ms(),
            page.cursor.as_deref(),
            page.limit.saturating_add(1),
        )
        .await?;
    let (sessions, more) = page.split(sessions);
    let next_cursor = more
        .then(|| sessions.last().map(|session| session.id.clone()))
        .flatten();
    let items = sessions
        .into_iter()
        .map(|session| SessionView {
            current: session.id == caller.session_id,
            created_at: rfc3339(session.created_at),
            last_seen_at: rfc3339(session.last_seen_at),
            id: session.id,
            ip: session.ip,
            user_agent: session.user_agent,
            location: None,
        })
        .collect();
    Ok(Json(SessionList { items, next_cursor }))
}

/// Revoke one of the caller's sessions; its access tokens stop working at once.
#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "No such session of yours", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if id.len() > SESSION_ID_CHARS_MAX {
        return Err(ApiError::NotFound);
    }
    let session = state
        .store
        .find_session(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if session.user_id != caller.user_id || session.revoked_at.is_some() {
        return Err(ApiError::NotFound);
    }
    if state
        .store
        .revoke_session(&session.id, "revoked_by_user", now_ms())
        .await?
    {
        record_event(
            &state,
            &caller.user_id,
            "session_revoked",
            ip,
            &headers,
            Some(&session.id),
        )
        .await?;
    }
    state.auth.sessions.revoke(&session.id);
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWKS", content_type = "application/json", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.auth.keys.jwks())
}
