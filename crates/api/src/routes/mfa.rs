//! Second factors: TOTP enrolment and confirmation with recovery codes, the MFA step of
//! login (`mfa_ticket`), and TOTP step-up (RFC 9470) for a live session.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use identity::Acr;
use identity::refresh::{hash_refresh_token, is_plausible_refresh_token, new_refresh_token};
use identity::totp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, now_ms, now_secs};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, Problem};
use crate::json::{ApiJson, OptionalApiJson};
use crate::routes::auth::{TokenResponse, mint_access_token, record_event, start_session};
use crate::routes::factors::{EnrolRequest, authorize_enrolment, factor_changed};
use crate::state::AppState;
use crate::vault::totp_aad;

/// Lifetime of the ticket between the password step and the second factor.
pub const MFA_TICKET_TTL_MS: i64 = 5 * 60 * 1000;
/// Wrong codes a ticket survives.
pub const MFA_TICKET_ATTEMPTS_MAX: i64 = 5;

#[derive(Serialize, ToSchema)]
pub struct MfaChallenge {
    pub mfa_required: bool,
    /// Single-use, short-lived; never accepted as a bearer token.
    pub mfa_ticket: String,
    pub methods: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret: String,
    pub otpauth_uri: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes; shown once.
    pub recovery_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketCodeRequest {
    pub mfa_ticket: String,
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRecoveryRequest {
    pub mfa_ticket: String,
    pub recovery_code: String,
}

/// The confirmed TOTP secret of a user, opened.
async fn confirmed_secret(
    state: &AppState,
    user_id: &str,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, ApiError> {
    let Some(record) = state.store.find_totp(user_id).await? else {
        return Ok(None);
    };
    let (Some(sealed), Some(_)) = (record.secret_sealed, record.confirmed_at) else {
        return Ok(None);
    };
    let key = state.vault.factor_key(&state.store, user_id).await?;
    let secret = key.open(&totp_aad(user_id), &sealed).map_err(|_| {
        tracing::error!(user_id, "stored TOTP secret failed authentication");
        ApiError::DataIntegrity
    })?;
    Ok(Some(secret))
}

pub(crate) async fn has_totp(state: &AppState, user_id: &str) -> Result<bool, ApiError> {
    Ok(state
        .store
        .find_totp(user_id)
        .await?
        .is_some_and(|record| record.confirmed_at.is_some()))
}

/// Verifies a TOTP code for a user and spends its step; `InvalidCode` otherwise.
async fn accept_totp(
    state: &AppState,
    user_id: &str,
    ip: ClientIp,
    code: &str,
) -> Result<(), ApiError> {
    state.auth.throttles.otp(user_id, ip.0).await?;
    let secret = confirmed_secret(state, user_id)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    let step = totp::check(&secret, code, now_secs()).ok_or(ApiError::InvalidCode)?;
    let step = i64::try_from(step).map_err(|_| ApiError::InvalidCode)?;
    if state.store.use_totp_step(user_id, step).await? {
        Ok(())
    } else {
        Err(ApiError::InvalidCode)
    }
}

/// Issues the challenge that replaces tokens when the user has a second factor.
pub(crate) async fn challenge(state: &AppState, user_id: &str) -> Result<Response, ApiError> {
    let mut methods = Vec::new();
    if has_totp(state, user_id).await? {
        methods.push("totp".to_owned());
    }
    if crate::routes::webauthn::has_passkeys(state, user_id).await? {
        methods.push("webauthn".to_owned());
    }
    let (ticket, ticket_hash) = new_refresh_token().map_err(|_| ApiError::Internal)?;
    state
        .store
        .create_mfa_ticket(
            &ticket_hash,
            user_id,
            now_ms().saturating_add(MFA_TICKET_TTL_MS),
        )
        .await?;
    let body = MfaChallenge {
        mfa_required: true,
        mfa_ticket: ticket.expose_secret().to_owned(),
        methods,
    };
    Ok(Json(body).into_response())
}

/// Spends one attempt of a live ticket before any code is checked; the ticket's user and hash.
pub(crate) async fn claim_ticket(
    state: &AppState,
    ticket: &str,
    failure: ApiError,
) -> Result<(String, Vec<u8>), ApiError> {
    if !is_plausible_refresh_token(ticket) {
        return Err(failure);
    }
    let hash = hash_refresh_token(&SecretString::from(ticket.to_owned()));
    let user_id = state
        .store
        .claim_mfa_attempt(&hash, now_ms(), MFA_TICKET_ATTEMPTS_MAX)
        .await?
        .ok_or(failure)?;
    Ok((user_id, hash))
}

/// Ten new recovery codes for `user_id` and the MACs they are stored as.
pub(crate) async fn new_recovery_codes(
    state: &AppState,
    user_id: &str,
) -> Result<(RecoveryCodes, Vec<Vec<u8>>), ApiError> {
    let codes = totp::new_recovery_codes().map_err(|_| ApiError::Internal)?;
    let mut macs = Vec::with_capacity(codes.len());
    for code in &codes {
        if let Some(normalised) = totp::normalise_recovery_code(code) {
            macs.push(recovery_code_mac(state, user_id, &normalised).await?);
        }
    }
    let codes = RecoveryCodes {
        recovery_codes: codes
            .iter()
            .map(|code| code.expose_secret().to_owned())
            .collect(),
    };
    Ok((codes, macs))
}

/// The MAC a normalised recovery code of `user_id` is stored and looked up as.
async fn recovery_code_mac(
    state: &AppState,
    user_id: &str,
    normalised: &str,
) -> Result<Vec<u8>, ApiError> {
    state
        .vault
        .recovery_code_mac(&state.store, user_id, normalised)
        .await
}

/// Records a second factor that was checked and failed (the user sees guessing in their
/// security events).
async fn record_failed_factor(
    state: &AppState,
    user_id: &str,
    ip: ClientIp,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    record_event(state, user_id, "mfa_failed", ip, headers, None).await
}

/// The user behind a live ticket, and the ticket's hash (no attempt spent).
pub(crate) async fn ticket_user(
    state: &AppState,
    ticket: &str,
) -> Result<(String, Vec<u8>), ApiError> {
    if !is_plausible_refresh_token(ticket) {
        return Err(ApiError::InvalidCode);
    }
    let hash = hash_refresh_token(&SecretString::from(ticket.to_owned()));
    let user_id = state
        .store
        .mfa_ticket_user(&hash, now_ms(), MFA_TICKET_ATTEMPTS_MAX)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    Ok((user_id, hash))
}

/// Start TOTP enrolment: a new secret to put in an authenticator app. With any factor
/// enrolled already this needs a step-up; the first factor needs a recent sign-in or the
/// password re-entered in the body.
#[utoipa::path(post, path = "/v1/mfa/totp/enroll", tag = "mfa", security(("bearer" = [])), request_body(content = Option<EnrolRequest>),
    responses(
        (status = 200, description = "A pending secret; confirm it with a code", body = TotpEnrolment),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token, step_up_required or invalid_credentials (re-entered password)", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
        (status = 503, description = "Hashing pool busy", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn enroll(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    OptionalApiJson(body): OptionalApiJson<EnrolRequest>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    authorize_enrolment(&state, &caller, ip, body).await?;
    let user = state
        .store
        .find_user(&caller.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let secret = totp::new_secret().map_err(|_| ApiError::Internal)?;
    let sealed = state
        .vault
        .factor_key(&state.store, &user.id)
        .await?
        .seal(&totp_aad(&user.id), &secret)
        .map_err(|_| ApiError::Internal)?;
    state
        .store
        .set_pending_totp(&user.id, &sealed, now_ms())
        .await?;
    let (base32, uri) = totp::enrolment(&secret, &user.email).map_err(|_| ApiError::Internal)?;
    Ok(Json(TotpEnrolment {
        secret: base32.expose_secret().to_owned(),
        otpauth_uri: uri.expose_secret().to_owned(),
    }))
}

/// Confirm TOTP enrolment with a current code; returns ten single-use recovery codes.
#[utoipa::path(post, path = "/v1/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])), request_body = CodeRequest,
    responses(
        (status = 200, description = "TOTP is active", body = RecoveryCodes),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_code or invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    state.auth.throttles.otp(&caller.user_id, ip.0).await?;
    let record = state
        .store
        .find_totp(&caller.user_id)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    let pending = record.pending_sealed.ok_or(ApiError::InvalidCode)?;
    let secret = state
        .vault
        .factor_key(&state.store, &caller.user_id)
        .await?
        .open(&totp_aad(&caller.user_id), &pending)
        .map_err(|_| ApiError::DataIntegrity)?;
    let step = totp::check(&secret, &body.code, now_secs()).ok_or(ApiError::InvalidCode)?;
    let step = i64::try_from(step).map_err(|_| ApiError::InvalidCode)?;
    let (codes, macs) = new_recovery_codes(&state, &caller.user_id).await?;
    if !state
        .store
        .confirm_totp(&caller.user_id, &pending, step, &macs, now_ms())
        .await?
    {
        return Err(ApiError::InvalidCode);
    }
    factor_changed(&state, &caller, "mfa_totp_enabled", ip, &headers).await?;
    Ok(Json(codes))
}

/// Second login step with a TOTP code.
#[utoipa::path(post, path = "/v1/auth/mfa/totp", tag = "auth", request_body = TicketCodeRequest,
    responses(
        (status = 200, description = "Signed in with acr=mfa; the refresh cookie is set", body = TokenResponse),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_code", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn login_totp(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TicketCodeRequest>,
) -> Result<Response, ApiError> {
    let (user_id, ticket_hash) =
        claim_ticket(&state, &body.mfa_ticket, ApiError::InvalidCode).await?;
    if let Err(error) = accept_totp(&state, &user_id, ip, &body.code).await {
        if matches!(error, ApiError::InvalidCode) {
            record_failed_factor(&state, &user_id, ip, &headers).await?;
        }
        return Err(error);
    }
    finish_mfa_login(
        &state,
        &user_id,
        &ticket_hash,
        ip,
        &headers,
        &["pwd", "otp"],
    )
    .await
}

/// Second login step with a recovery code (each works once).
#[utoipa::path(post, path = "/v1/auth/mfa/recovery", tag = "auth", request_body = TicketRecoveryRequest,
    responses(
        (status = 200, description = "Signed in; the refresh cookie is set", body = TokenResponse),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_code", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn login_recovery(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TicketRecoveryRequest>,
) -> Result<Response, ApiError> {
    let (user_id, ticket_hash) =
        claim_ticket(&state, &body.mfa_ticket, ApiError::InvalidCode).await?;
    state.auth.throttles.otp(&user_id, ip.0).await?;
    let normalised = totp::normalise_recovery_code(&SecretString::from(body.recovery_code));
    let used = match normalised {
        Some(code) => {
            let mac = recovery_code_mac(&state, &user_id, &code).await?;
            let mut used = state
                .store
                .use_recovery_code(&user_id, &mac, now_ms())
                .await?;
            // Codes issued before per-user keys, while any remain.
            if let (false, Some(legacy)) = (used, state.vault.legacy_recovery_code_mac(&code)) {
                used = state
                    .store
                    .use_recovery_code(&user_id, &legacy, now_ms())
                    .await?;
            }
            used
        }
        None => false,
    };
    if !used {
        record_failed_factor(&state, &user_id, ip, &headers).await?;
        return Err(ApiError::InvalidCode);
    }
    record_event(&state, &user_id, "recovery_code_used", ip, &headers, None).await?;
    finish_mfa_login(&state, &user_id, &ticket_hash, ip, &headers, &["pwd", "rc"]).await
}

async fn finish_mfa_login(
    state: &AppState,
    user_id: &str,
    ticket_hash: &[u8],
    ip: ClientIp,
    headers: &HeaderMap,
    amr: &[&str],
) -> Result<Response, ApiError> {
    if !state
        .store
        .consume_mfa_ticket(ticket_hash, now_ms(), MFA_TICKET_ATTEMPTS_MAX)
        .await?
    {
        return Err(ApiError::InvalidCode);
    }
    let user = state
        .store
        .find_user(user_id)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    start_session(state, &user, ip, headers, Acr::Mfa, amr).await
}

/// Step up the current session with a TOTP code: fresh tokens with `acr=mfa`.
#[utoipa::path(post, path = "/v1/auth/step-up/totp", tag = "auth", security(("bearer" = [])), request_body = CodeRequest,
    responses(
        (status = 200, description = "Fresh access token with acr=mfa", body = TokenResponse),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_code or invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn step_up_totp(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    accept_totp(&state, &caller.user_id, ip, &body.code).await?;
    let tokens = raise_session(&state, &caller, "otp").await?;
    record_event(
        &state,
        &caller.user_id,
        "step_up",
        ip,
        &headers,
        Some(&caller.session_id),
    )
    .await?;
    Ok(Json(tokens))
}

/// Records a fresh multi-factor authentication (`method` joins `amr`) on the caller's session
/// and mints an access token with `acr=mfa` for it.
pub(crate) async fn raise_session(
    state: &AppState,
    caller: &Caller,
    method: &str,
) -> Result<TokenResponse, ApiError> {
    let now = now_ms();
    let session = state
        .store
        .find_session(&caller.session_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let mut amr: Vec<&str> = session
        .amr
        .split(',')
        .filter(|existing| !existing.is_empty())
        .collect();
    if !amr.contains(&method) {
        amr.push(method);
    }
    state
        .store
        .set_session_authentication(&session.id, "mfa", &amr.join(","), now)
        .await?;
    let session = state
        .store
        .find_session(&caller.session_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let user = state
        .store
        .find_user(&caller.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let (access_token, exp) = mint_access_token(state, &user.roles, &session, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: exp.saturating_sub(u64::try_from(now / 1000).unwrap_or(0)),
    })
}
