//! Passkeys (WebAuthn, via webauthn-rs): registration, login as a second factor or
//! passwordless with discoverable credentials, and step-up. Ceremony state stays on the server,
//! single-use, for `CEREMONY_TTL_MS`; the client only ever holds a ceremony id.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use identity::Acr;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::PasskeyInsert;
use utoipa::ToSchema;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::auth::{Caller, new_id, now_ms};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, Problem};
use crate::json::{ApiJson, OptionalApiJson};
use crate::routes::auth::{TokenResponse, record_event, start_session, validation_failed};
use crate::routes::factors::{EnrolRequest, authorize_enrolment, factor_changed};
use crate::routes::mfa::MFA_TICKET_ATTEMPTS_MAX;
use crate::state::AppState;

/// How long a started ceremony may be finished.
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
const CEREMONY_ID_CHARS_MAX: usize = 64;

const KIND_REGISTER: &str = "register";
const KIND_LOGIN_MFA: &str = "login_mfa";
const KIND_LOGIN_PASSKEY: &str = "login_passkey";
const KIND_STEP_UP: &str = "step_up";

/// Longest passkey name, in characters.
pub const PASSKEY_NAME_CHARS_MAX: usize = 64;
const PASSKEY_NAME_DEFAULT: &str = "Passkey";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPasskeyRequest {
    pub ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: Value,
    /// A name to tell this passkey apart in the factor list (1–64 characters).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyRegistered {
    pub credential_id: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LoginOptionsRequest {
    /// From the password step; omit for passwordless (discoverable passkey) login.
    #[serde(default)]
    pub mfa_ticket: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertionRequest {
    pub ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// Members a credential object may have, by where they stand (WebAuthn Level 3 names;
/// anything else is refused like an unknown field of any other request).
const CREDENTIAL_FIELDS: &[&str] = &[
    "id",
    "rawId",
    "type",
    "response",
    "extensions",
    "clientExtensionResults",
    "authenticatorAttachment",
];
const ATTESTATION_RESPONSE_FIELDS: &[&str] = &[
    "attestationObject",
    "clientDataJSON",
    "transports",
    "authenticatorData",
    "publicKey",
    "publicKeyAlgorithm",
];
const ASSERTION_RESPONSE_FIELDS: &[&str] = &[
    "authenticatorData",
    "clientDataJSON",
    "signature",
    "userHandle",
];
const EXTENSION_OUTPUT_FIELDS: &[&str] = &[
    "appid",
    "credProps",
    "hmacCreateSecret",
    "hmacSecret",
    "hmacGetSecret",
    "hmac_get_secret",
    "credProtect",
    "minPinLength",
    "largeBlob",
    "prf",
];

/// Refuses members a credential object may not have (400 `unknown_field` naming the path),
/// then reads it into the WebAuthn library's type.
fn parse_credential<T: serde::de::DeserializeOwned>(
    credential: Value,
    response_fields: &[&str],
) -> Result<T, ApiError> {
    fn check(value: &Value, path: &str, allowed: &[&str]) -> Result<(), ApiError> {
        let Some(object) = value.as_object() else {
            return Ok(());
        };
        match object.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(unknown) => Err(ApiError::UnknownField {
                field: format!("{path}.{}", printable_key(unknown)),
            }),
            None => Ok(()),
        }
    }
    check(&credential, "credential", CREDENTIAL_FIELDS)?;
    if let Some(response) = credential.get("response") {
        check(response, "credential.response", response_fields)?;
    }
    for extensions in ["extensions", "clientExtensionResults"] {
        if let Some(outputs) = credential.get(extensions) {
            check(
                outputs,
                &format!("credential.{extensions}"),
                EXTENSION_OUTPUT_FIELDS,
            )?;
        }
    }
    serde_json::from_value(credential)
        .map_err(|_| ApiError::invalid_request("Field `credential` is not a valid credential."))
}

/// A client-chosen key, safe to echo: bounded printable ASCII.
fn printable_key(key: &str) -> &str {
    const ECHOED_KEY_LEN_MAX: usize = 64;
    let printable = key.bytes().all(|byte| byte.is_ascii_graphic());
    if printable && key.len() <= ECHOED_KEY_LEN_MAX {
        key
    } else {
        "(unprintable)"
    }
}

/// Names: trimmed, 1–64 characters, no control characters; absent means "Passkey".
fn passkey_name(raw: Option<&str>) -> Result<String, ApiError> {
    let Some(raw) = raw else {
        return Ok(PASSKEY_NAME_DEFAULT.to_owned());
    };
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > PASSKEY_NAME_CHARS_MAX {
        return Err(validation_failed("name", "length"));
    }
    if name.chars().any(char::is_control) {
        return Err(validation_failed("name", "invalid_characters"));
    }
    Ok(name.to_owned())
}

fn ceremony_response(ceremony_id: &str, options: &impl Serialize) -> Result<Json<Value>, ApiError> {
    let mut value = serde_json::to_value(options).map_err(|_| ApiError::Internal)?;
    let object = value.as_object_mut().ok_or(ApiError::Internal)?;
    object.insert(
        "ceremony_id".to_owned(),
        Value::String(ceremony_id.to_owned()),
    );
    Ok(Json(value))
}

async fn save_ceremony(
    state: &AppState,
    kind: &str,
    user_id: Option<&str>,
    ceremony: &impl Serialize,
) -> Result<String, ApiError> {
    let id = new_id();
    let json = serde_json::to_string(ceremony).map_err(|_| ApiError::Internal)?;
    let now = now_ms();
    state.store.purge_ceremonies(now).await?;
    state
        .store
        .save_ceremony(
            &id,
            kind,
            user_id,
            &json,
            now.saturating_add(CEREMONY_TTL_MS),
        )
        .await?;
    Ok(id)
}

/// Takes a ceremony of `kind`; any failure is the caller's `failure` error.
async fn take_ceremony<T: serde::de::DeserializeOwned>(
    state: &AppState,
    id: &str,
    kind: &str,
    failure: ApiError,
) -> Result<(Option<String>, T), ApiError> {
    if id.is_empty() || id.len() > CEREMONY_ID_CHARS_MAX {
        return Err(failure);
    }
    let record = state
        .store
        .take_ceremony(id, kind, now_ms())
        .await?
        .ok_or_else(|| failure.clone())?;
    let ceremony = serde_json::from_str(&record.state).map_err(|_| ApiError::Internal)?;
    Ok((record.user_id, ceremony))
}

async fn user_passkeys(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<(String, Passkey)>, ApiError> {
    state
        .store
        .passkeys(user_id)
        .await?
        .into_iter()
        .map(|(id, json)| {
            serde_json::from_str(&json)
                .map(|passkey| (id, passkey))
                .map_err(|_| ApiError::Internal)
        })
        .collect()
}

pub(crate) async fn has_passkeys(state: &AppState, user_id: &str) -> Result<bool, ApiError> {
    Ok(!state.store.passkeys(user_id).await?.is_empty())
}

fn credential_id_text(passkey: &Passkey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
}

fn user_uuid(user_id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(user_id).map_err(|_| ApiError::Internal)
}

/// Start registering a passkey for the signed-in user. With any factor enrolled already this
/// needs a step-up; the first factor needs a recent sign-in or the password re-entered.
#[utoipa::path(post, path = "/v1/mfa/webauthn/register/options", tag = "mfa", security(("bearer" = [])), request_body(content = Option<EnrolRequest>),
    responses(
        (status = 200, description = "`{ceremony_id, publicKey}` for navigator.credentials.create()", content_type = "application/json", body = Object),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token, step_up_required or invalid_credentials (re-entered password)", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "too_many_passkeys", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "rate_limited", content_type = "application/problem+json", body = Problem),
        (status = 503, description = "Hashing pool busy", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn register_options(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    OptionalApiJson(body): OptionalApiJson<EnrolRequest>,
) -> Result<Json<Value>, ApiError> {
    authorize_enrolment(&state, &caller, ip, body).await?;
    let existing = user_passkeys(&state, &caller.user_id).await?;
    if i64::try_from(existing.len()).unwrap_or(i64::MAX) >= store::PASSKEYS_PER_USER_MAX {
        return Err(ApiError::TooManyPasskeys);
    }
    let user = state
        .store
        .find_user(&caller.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let exclude = existing
        .iter()
        .map(|(_, passkey)| passkey.cred_id().clone())
        .collect::<Vec<_>>();
    let (mut options, registration) = state
        .auth
        .webauthn
        .start_passkey_registration(
            user_uuid(&user.id)?,
            &user.email,
            &user.display_name,
            Some(exclude),
        )
        .map_err(|_| ApiError::Internal)?;
    // Ask for a discoverable credential where the authenticator can store one, so the same
    // passkey also signs in without a password.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
        selection.require_resident_key = false;
    }
    let id = save_ceremony(&state, KIND_REGISTER, Some(&user.id), &registration).await?;
    ceremony_response(&id, &options)
}

/// Finish registering a passkey.
#[utoipa::path(post, path = "/v1/mfa/webauthn/register", tag = "mfa", security(("bearer" = [])), request_body = RegisterPasskeyRequest,
    responses(
        (status = 201, description = "Registered", body = PasskeyRegistered),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_assertion or invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "too_many_passkeys, or validation_failed (name)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterPasskeyRequest>,
) -> Result<(StatusCode, Json<PasskeyRegistered>), ApiError> {
    let credential: RegisterPublicKeyCredential =
        parse_credential(body.credential, ATTESTATION_RESPONSE_FIELDS)?;
    let name = passkey_name(body.name.as_deref())?;
    let (owner, registration): (_, PasskeyRegistration) = take_ceremony(
        &state,
        &body.ceremony_id,
        KIND_REGISTER,
        ApiError::InvalidAssertion,
    )
    .await?;
    if owner.as_deref() != Some(caller.user_id.as_str()) {
        return Err(ApiError::InvalidAssertion);
    }
    let passkey = state
        .auth
        .webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(|_| ApiError::InvalidAssertion)?;
    let credential_id = credential_id_text(&passkey);
    let json = serde_json::to_string(&passkey).map_err(|_| ApiError::Internal)?;
    match state
        .store
        .add_passkey(&credential_id, &caller.user_id, &name, &json, now_ms())
        .await?
    {
        PasskeyInsert::Added => {}
        PasskeyInsert::Duplicate => return Err(ApiError::InvalidAssertion),
        PasskeyInsert::TooMany => return Err(ApiError::TooManyPasskeys),
    }
    factor_changed(&state, &caller, "mfa_passkey_added", ip, &headers).await?;
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
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_code (ticket)", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn login_options(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginOptionsRequest>,
) -> Result<Json<Value>, ApiError> {
    match body.mfa_ticket {
        Some(ticket) => {
            let (user_id, ticket_hash) = crate::routes::mfa::ticket_user(&state, &ticket).await?;
            let passkeys: Vec<Passkey> = user_passkeys(&state, &user_id)
                .await?
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            if passkeys.is_empty() {
                return Err(ApiError::InvalidCode);
            }
            let (options, authentication) = state
                .auth
                .webauthn
                .start_passkey_authentication(&passkeys)
                .map_err(|_| ApiError::Internal)?;
            let ceremony = MfaCeremony {
                authentication,
                ticket_hash,
            };
            let id = save_ceremony(&state, KIND_LOGIN_MFA, Some(&user_id), &ceremony).await?;
            ceremony_response(&id, &options)
        }
        None => {
            let (options, authentication) = state
                .auth
                .webauthn
                .start_discoverable_authentication()
                .map_err(|_| ApiError::Internal)?;
            let id = save_ceremony(&state, KIND_LOGIN_PASSKEY, None, &authentication).await?;
            ceremony_response(&id, &options)
        }
    }
}

#[derive(Serialize, Deserialize)]
struct MfaCeremony {
    authentication: PasskeyAuthentication,
    ticket_hash: Vec<u8>,
}

/// Verifies an assertion against the user's passkeys and records the new signature counter.
async fn verify_assertion(
    state: &AppState,
    user_id: &str,
    credential: &PublicKeyCredential,
    authentication: &PasskeyAuthentication,
) -> Result<(), ApiError> {
    let result = state
        .auth
        .webauthn
        .finish_passkey_authentication(credential, authentication)
        .map_err(|_| ApiError::InvalidAssertion)?;
    update_counter(state, user_id, &result).await
}

async fn update_counter(
    state: &AppState,
    user_id: &str,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), ApiError> {
    for (id, mut passkey) in user_passkeys(state, user_id).await? {
        if passkey.update_credential(result).is_some() {
            let json = serde_json::to_string(&passkey).map_err(|_| ApiError::Internal)?;
            state.store.update_passkey(&id, &json, now_ms()).await?;
            return Ok(());
        }
    }
    Err(ApiError::InvalidAssertion)
}

/// Finish a passkey login.
#[utoipa::path(post, path = "/v1/auth/webauthn/login", tag = "auth", request_body = AssertionRequest,
    responses(
        (status = 200, description = "Signed in with acr=mfa; the refresh cookie is set", body = TokenResponse),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_assertion", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AssertionRequest>,
) -> Result<Response, ApiError> {
    let credential: PublicKeyCredential =
        parse_credential(body.credential, ASSERTION_RESPONSE_FIELDS)?;
    if let Ok((Some(user_id), ceremony)) = take_ceremony::<MfaCeremony>(
        &state,
        &body.ceremony_id,
        KIND_LOGIN_MFA,
        ApiError::InvalidAssertion,
    )
    .await
    {
        // The ticket's attempt is spent before the assertion is checked.
        if state
            .store
            .claim_mfa_attempt(&ceremony.ticket_hash, now_ms(), MFA_TICKET_ATTEMPTS_MAX)
            .await?
            .as_deref()
            != Some(user_id.as_str())
        {
            return Err(ApiError::InvalidAssertion);
        }
        if let Err(error) =
            verify_assertion(&state, &user_id, &credential, &ceremony.authentication).await
        {
            record_event(&state, &user_id, "mfa_failed", ip, &headers, None).await?;
            return Err(error);
        }
        if !state
            .store
            .consume_mfa_ticket(&ceremony.ticket_hash, now_ms(), MFA_TICKET_ATTEMPTS_MAX)
            .await?
        {
            return Err(ApiError::InvalidAssertion);
        }
        let user = state
            .store
            .find_user(&user_id)
            .await?
            .ok_or(ApiError::InvalidAssertion)?;
        return start_session(&state, &user, ip, &headers, Acr::Mfa, &["pwd", "hwk"]).await;
    }
    let (_, authentication): (_, DiscoverableAuthentication) = take_ceremony(
        &state,
        &body.ceremony_id,
        KIND_LOGIN_PASSKEY,
        ApiError::InvalidAssertion,
    )
    .await?;
    let (user_uuid, credential_id) = state
        .auth
        .webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|_| ApiError::InvalidAssertion)?;
    let user_id = user_uuid.to_string();
    let passkeys = user_passkeys(&state, &user_id).await?;
    let passkey = passkeys
        .iter()
        .map(|(_, passkey)| passkey)
        .find(|passkey| passkey.cred_id().as_slice() == credential_id)
        .ok_or(ApiError::InvalidAssertion)?;
    let result = state
        .auth
        .webauthn
        .finish_discoverable_authentication_v2(&credential, authentication, passkey)
        .map_err(|_| ApiError::InvalidAssertion)?;
    update_counter(&state, &user_id, &result).await?;
    let user = state
        .store
        .find_user(&user_id)
        .await?
        .ok_or(ApiError::InvalidAssertion)?;
    start_session(&state, &user, ip, &headers, Acr::Mfa, &["hwk", "user"]).await
}

/// Start a passkey step-up for the current session.
#[utoipa::path(post, path = "/v1/auth/step-up/webauthn/options", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "`{ceremony_id, publicKey}` for navigator.credentials.get()", content_type = "application/json", body = Object),
        (status = 401, description = "invalid_token or invalid_assertion (no passkey)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn step_up_options(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let passkeys: Vec<Passkey> = user_passkeys(&state, &caller.user_id)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if passkeys.is_empty() {
        return Err(ApiError::InvalidAssertion);
    }
    let (options, authentication) = state
        .auth
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|_| ApiError::Internal)?;
    let id = save_ceremony(
        &state,
        KIND_STEP_UP,
        Some(&caller.session_id),
        &authentication,
    )
    .await?;
    ceremony_response(&id, &options)
}

/// Finish a passkey step-up: fresh tokens with `acr=mfa` for the same session.
#[utoipa::path(post, path = "/v1/auth/step-up/webauthn", tag = "auth", security(("bearer" = [])), request_body = AssertionRequest,
    responses(
        (status = 200, description = "Fresh access token with acr=mfa", body = TokenResponse),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_assertion or invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn step_up(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AssertionRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let credential: PublicKeyCredential =
        parse_credential(body.credential, ASSERTION_RESPONSE_FIELDS)?;
    let (session_id, authentication): (_, PasskeyAuthentication) = take_ceremony(
        &state,
        &body.ceremony_id,
        KIND_STEP_UP,
        ApiError::InvalidAssertion,
    )
    .await?;
    if session_id.as_deref() != Some(caller.session_id.as_str()) {
        return Err(ApiError::InvalidAssertion);
    }
    verify_assertion(&state, &caller.user_id, &credential, &authentication).await?;
    let tokens = crate::routes::mfa::raise_session(&state, &caller, "hwk").await?;
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
