//! Second-factor management: which factors a user has, removing one, regenerating recovery
//! codes — and the rules that make enrolling a factor itself a sensitive action, so a stolen
//! password-level token can never plant the attacker's own factor.

use axum::Json;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};
use identity::password::Verification;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, now_ms, rfc3339};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, Problem};
use crate::routes::auth::record_event;
use crate::routes::mfa::{RecoveryCodes, has_totp, new_recovery_codes};
use crate::routes::webauthn::has_passkeys;
use crate::state::AppState;

/// Roles whose holders must keep at least one second factor.
pub const ROLES_REQUIRING_MFA: [&str; 3] = ["admin", "support", "auditor"];
/// Longest passkey id accepted in a path.
const PASSKEY_ID_CHARS_MAX: usize = 512;

/// Optional body of the enrolment calls.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The account password, re-entered: lets a user without any second factor enrol the
    /// first one when their sign-in is older than `auth.step_up_max_age_secs`.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FactorList {
    /// A confirmed TOTP authenticator.
    pub totp: bool,
    pub passkeys: Vec<PasskeyView>,
    /// Recovery codes not used yet.
    pub recovery_codes_remaining: i64,
}

/// True when the user has a confirmed TOTP or a passkey.
pub(crate) async fn has_any_factor(state: &AppState, user_id: &str) -> Result<bool, ApiError> {
    Ok(has_totp(state, user_id).await? || has_passkeys(state, user_id).await?)
}

/// May the caller enrol a new factor? With a factor already enrolled: only after a step-up
/// (`acr=mfa` within the window). Without one: a sign-in within the window, or the password
/// re-entered in `body` (counted by the login throttles).
pub(crate) async fn authorize_enrolment(
    state: &AppState,
    caller: &Caller,
    ip: ClientIp,
    body: Option<EnrolRequest>,
) -> Result<(), ApiError> {
    let max_age_secs = state.auth.settings.step_up_max_age_secs;
    if has_any_factor(state, &caller.user_id).await? {
        return caller.require_mfa(max_age_secs);
    }
    if caller.authenticated_within(max_age_secs) {
        return Ok(());
    }
    match body.and_then(|body| body.password) {
        Some(password) => reauthenticate(state, caller, ip, SecretString::from(password)).await,
        None => Err(ApiError::StepUpRequired { max_age_secs }),
    }
}

/// Checks the caller's password again (Argon2, behind the login throttles).
async fn reauthenticate(
    state: &AppState,
    caller: &Caller,
    ip: ClientIp,
    password: SecretString,
) -> Result<(), ApiError> {
    let user = state
        .store
        .find_user(&caller.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    state.auth.throttles.login(&user.email, ip.0)?;
    if identity::password::check_length(password.expose_secret())
        == Err(identity::password::PasswordError::TooLong)
    {
        return Err(ApiError::InvalidCredentials);
    }
    let admission = state.auth.hashing.admit().await?;
    let (verification, _) = state
        .auth
        .hashing
        .verify(admission, password, Some(user.password_hash))
        .await?;
    match verification {
        Verification::Valid { .. } => Ok(()),
        Verification::Invalid => Err(ApiError::InvalidCredentials),
    }
}

/// After any factor change: every other session of the user dies (a thief's session made
/// before the change cannot ride on it), and the change is recorded.
pub(crate) async fn factor_changed(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    ip: ClientIp,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let revoked = state
        .store
        .revoke_other_sessions(
            &caller.user_id,
            &caller.session_id,
            "factor_changed",
            now_ms(),
        )
        .await?;
    for session_id in &revoked {
        state.auth.sessions.revoke(session_id);
    }
    record_event(
        state,
        &caller.user_id,
        kind,
        ip,
        headers,
        Some(&caller.session_id),
    )
    .await
}

/// Refuses to remove the user's last factor while one of their roles requires MFA.
async fn keep_a_factor_for_roles(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let user = state
        .store
        .find_user(&caller.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let needs_mfa = user
        .roles
        .split(',')
        .any(|role| ROLES_REQUIRING_MFA.contains(&role));
    if needs_mfa {
        Err(ApiError::FactorRequired)
    } else {
        Ok(())
    }
}

/// Recovery codes only make sense beside a factor: when the last one goes, so do they.
async fn drop_recovery_codes_without_factor(
    state: &AppState,
    user_id: &str,
) -> Result<(), ApiError> {
    if !has_any_factor(state, user_id).await? {
        state
            .store
            .replace_recovery_codes(user_id, &[], now_ms())
            .await?;
    }
    Ok(())
}

/// The caller's second factors.
#[utoipa::path(get, path = "/v1/me/factors", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "TOTP, passkeys and the recovery codes left", body = FactorList),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn list_factors(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<FactorList>, ApiError> {
    let passkeys = state
        .store
        .passkey_list(&caller.user_id)
        .await?
        .into_iter()
        .map(|passkey| PasskeyView {
            id: passkey.id,
            name: passkey.name,
            created_at: rfc3339(passkey.created_at),
            last_used_at: passkey.last_used_at.map(rfc3339),
        })
        .collect();
    Ok(Json(FactorList {
        totp: has_totp(&state, &caller.user_id).await?,
        passkeys,
        recovery_codes_remaining: state
            .store
            .recovery_codes_remaining(&caller.user_id)
            .await?,
    }))
}

/// Remove the caller's TOTP authenticator (step-up). Other sessions are revoked.
#[utoipa::path(delete, path = "/v1/me/factors/totp", tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "invalid_token or step_up_required", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "No TOTP enrolled", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "factor_required: a role requires a second factor", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn delete_totp(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require_mfa(state.auth.settings.step_up_max_age_secs)?;
    if !has_totp(&state, &caller.user_id).await? {
        return Err(ApiError::NotFound);
    }
    if !has_passkeys(&state, &caller.user_id).await? {
        keep_a_factor_for_roles(&state, &caller).await?;
    }
    if !state.store.delete_totp(&caller.user_id).await? {
        return Err(ApiError::NotFound);
    }
    drop_recovery_codes_without_factor(&state, &caller.user_id).await?;
    factor_changed(&state, &caller, "mfa_totp_removed", ip, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove one of the caller's passkeys (step-up). Other sessions are revoked.
#[utoipa::path(delete, path = "/v1/me/factors/passkeys/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = String, Path, description = "Passkey id from GET /v1/me/factors")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "invalid_token or step_up_required", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "No such passkey of yours", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "factor_required: a role requires a second factor", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn delete_passkey(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_mfa(state.auth.settings.step_up_max_age_secs)?;
    if id.is_empty() || id.len() > PASSKEY_ID_CHARS_MAX {
        return Err(ApiError::NotFound);
    }
    let passkeys = state.store.passkey_list(&caller.user_id).await?;
    if !passkeys.iter().any(|passkey| passkey.id == id) {
        return Err(ApiError::NotFound);
    }
    if passkeys.len() == 1 && !has_totp(&state, &caller.user_id).await? {
        keep_a_factor_for_roles(&state, &caller).await?;
    }
    if !state.store.delete_passkey(&caller.user_id, &id).await? {
        return Err(ApiError::NotFound);
    }
    drop_recovery_codes_without_factor(&state, &caller.user_id).await?;
    factor_changed(&state, &caller, "mfa_passkey_removed", ip, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the caller's recovery codes with ten new ones (step-up); the old ones stop working.
#[utoipa::path(post, path = "/v1/me/recovery-codes", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "Ten new single-use codes; shown once", body = RecoveryCodes),
        (status = 401, description = "invalid_token or step_up_required", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "No second factor enrolled", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Json<RecoveryCodes>, ApiError> {
    caller.require_mfa(state.auth.settings.step_up_max_age_secs)?;
    if !has_any_factor(&state, &caller.user_id).await? {
        return Err(ApiError::NotFound);
    }
    let (codes, macs) = new_recovery_codes(&state, &caller.user_id).await?;
    state
        .store
        .replace_recovery_codes(&caller.user_id, &macs, now_ms())
        .await?;
    factor_changed(&state, &caller, "recovery_codes_regenerated", ip, &headers).await?;
    Ok(Json(codes))
}
