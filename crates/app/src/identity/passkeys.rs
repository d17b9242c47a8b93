//! Passkeys (WebAuthn, via webauthn-rs): registration, login as a second factor or
//! passwordless with discoverable credentials, and step-up. Ceremony state stays on the
//! server, single-use, for `CEREMONY_TTL_MS`; the client only ever holds a ceremony id.

use identity::Acr;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::PasskeyInsert;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::tokens::IssuedTokens;
use crate::limits::{
    CEREMONY_TTL_MS, ID_CHARS_MAX, MFA_TICKET_ATTEMPTS_MAX, PASSKEY_NAME_CHARS_MAX,
};
use crate::{App, Error, RequestContext, Result, new_id};

const KIND_REGISTER: &str = "register";
const KIND_LOGIN_MFA: &str = "login_mfa";
const KIND_LOGIN_PASSKEY: &str = "login_passkey";
const KIND_STEP_UP: &str = "step_up";
const PASSKEY_NAME_DEFAULT: &str = "Passkey";

/// A started ceremony: its id and the options for the browser.
#[derive(Debug)]
pub struct Ceremony {
    pub id: String,
    /// `{publicKey: ...}` for `navigator.credentials.create()` / `.get()`.
    pub options: Value,
}

#[derive(Serialize, Deserialize)]
struct MfaCeremony {
    authentication: PasskeyAuthentication,
    ticket_hash: Vec<u8>,
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

/// Refuses members a credential object may not have (naming the path), then reads it into
/// the WebAuthn library's type.
fn parse_credential<T: serde::de::DeserializeOwned>(
    credential: Value,
    response_fields: &[&str],
) -> std::result::Result<T, CredentialError> {
    fn check(
        value: &Value,
        path: &str,
        allowed: &[&str],
    ) -> std::result::Result<(), CredentialError> {
        let Some(object) = value.as_object() else {
            return Ok(());
        };
        match object.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(unknown) => Err(CredentialError::UnknownMember(format!(
                "{path}.{}",
                printable_key(unknown)
            ))),
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
    serde_json::from_value(credential).map_err(|_| CredentialError::Malformed)
}

/// Why a credential object was not accepted before verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("unknown member {0}")]
    UnknownMember(String),
    #[error("not a valid credential")]
    Malformed,
}

impl From<CredentialError> for Error {
    fn from(error: CredentialError) -> Error {
        match error {
            CredentialError::UnknownMember(path) => Error::UnknownMember { path },
            CredentialError::Malformed => {
                Error::invalid_input("Field `credential` is not a valid credential.")
            }
        }
    }
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
fn passkey_name(raw: Option<&str>) -> Result<String> {
    let Some(raw) = raw else {
        return Ok(PASSKEY_NAME_DEFAULT.to_owned());
    };
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > PASSKEY_NAME_CHARS_MAX {
        return Err(Error::field("name", "length"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::field("name", "invalid_characters"));
    }
    Ok(name.to_owned())
}

fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|error| crate::error::internal("ceremony state", error))
}

fn credential_id_text(passkey: &Passkey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
}

impl App {
    async fn save_ceremony(
        &self,
        kind: &str,
        owner: Option<&str>,
        state: &impl Serialize,
        options: &impl Serialize,
    ) -> Result<Ceremony> {
        let id = new_id();
        self.store
            .save_ceremony(
                &id,
                kind,
                owner,
                &to_json(state)?,
                self.clock.now_ms().saturating_add(CEREMONY_TTL_MS),
            )
            .await?;
        let options = serde_json::to_value(options)
            .map_err(|error| crate::error::internal("ceremony options", error))?;
        Ok(Ceremony { id, options })
    }

    /// Takes a ceremony of `kind`; any failure is the caller's `failure` error.
    async fn take_ceremony<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
        kind: &str,
        failure: Error,
    ) -> Result<(Option<String>, T)> {
        if id.is_empty() || id.len() > ID_CHARS_MAX {
            return Err(failure);
        }
        let record = self
            .store
            .take_ceremony(id, kind, self.clock.now_ms())
            .await?
            .ok_or_else(|| failure.clone())?;
        let ceremony = serde_json::from_str(&record.state)
            .map_err(|error| crate::error::internal("stored ceremony state", error))?;
        Ok((record.user_id, ceremony))
    }

    async fn user_passkeys(&self, user_id: &str) -> Result<Vec<(String, Passkey)>> {
        self.store
            .passkeys(user_id)
            .await?
            .into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json)
                    .map(|passkey| (id, passkey))
                    .map_err(|error| crate::error::internal("stored passkey", error))
            })
            .collect()
    }

    pub async fn has_passkeys(&self, user_id: &str) -> Result<bool> {
        Ok(!self.store.passkeys(user_id).await?.is_empty())
    }

    /// Starts registering a passkey for the signed-in user (see `authorize_enrolment`).
    pub async fn passkey_registration_options(
        &self,
        ctx: &RequestContext,
        password: Option<secrecy::SecretString>,
    ) -> Result<Ceremony> {
        let caller = self.authorize_enrolment(ctx, password).await?;
        let existing = self.user_passkeys(caller.user_id.as_str()).await?;
        if i64::try_from(existing.len()).unwrap_or(i64::MAX) >= store::PASSKEYS_PER_USER_MAX {
            return Err(Error::TooManyPasskeys);
        }
        let user = self
            .store
            .find_user(caller.user_id.as_str())
            .await?
            .ok_or(Error::InvalidToken)?;
        let exclude = existing
            .iter()
            .map(|(_, passkey)| passkey.cred_id().clone())
            .collect::<Vec<_>>();
        let user_uuid = Uuid::parse_str(&user.id)
            .map_err(|error| crate::error::internal("user id is not a UUID", error))?;
        let (mut options, registration) = self
            .identity
            .webauthn
            .start_passkey_registration(user_uuid, &user.email, &user.display_name, Some(exclude))
            .map_err(|error| crate::error::internal("passkey registration options", error))?;
        // Ask for a discoverable credential where the authenticator can store one, so the
        // same passkey also signs in without a password.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            selection.require_resident_key = false;
        }
        self.save_ceremony(KIND_REGISTER, Some(&user.id), &registration, &options)
            .await
    }

    /// Finishes registering a passkey; its credential id.
    pub async fn register_passkey(
        &self,
        ctx: &RequestContext,
        ceremony_id: &str,
        credential: Value,
        name: Option<&str>,
    ) -> Result<String> {
        let caller = ctx.caller()?;
        let credential: RegisterPublicKeyCredential =
            parse_credential(credential, ATTESTATION_RESPONSE_FIELDS)?;
        let name = passkey_name(name)?;
        let (owner, registration): (_, PasskeyRegistration) = self
            .take_ceremony(ceremony_id, KIND_REGISTER, Error::InvalidAssertion)
            .await?;
        if owner.as_deref() != Some(caller.user_id.as_str()) {
            return Err(Error::InvalidAssertion);
        }
        let passkey = self
            .identity
            .webauthn
            .finish_passkey_registration(&credential, &registration)
            .map_err(|_| Error::InvalidAssertion)?;
        let credential_id = credential_id_text(&passkey);
        let outcome = self
            .store
            .add_passkey(
                &credential_id,
                caller.user_id.as_str(),
                &name,
                &to_json(&passkey)?,
                self.clock.now_ms(),
            )
            .await?;
        match outcome {
            PasskeyInsert::Added => {}
            PasskeyInsert::Duplicate => return Err(Error::InvalidAssertion),
            PasskeyInsert::TooMany => return Err(Error::TooManyPasskeys),
        }
        self.factor_changed(ctx, "mfa_passkey_added").await?;
        Ok(credential_id)
    }

    /// Starts a passkey login: with an `mfa_ticket` as the second factor, or without for
    /// passwordless login with a discoverable passkey.
    pub async fn passkey_login_options(&self, mfa_ticket: Option<&str>) -> Result<Ceremony> {
        let webauthn = &self.identity.webauthn;
        match mfa_ticket {
            Some(ticket) => {
                let (user_id, ticket_hash) = self.ticket_user(ticket).await?;
                let passkeys: Vec<Passkey> = self
                    .user_passkeys(&user_id)
                    .await?
                    .into_iter()
                    .map(|(_, passkey)| passkey)
                    .collect();
                if passkeys.is_empty() {
                    return Err(Error::InvalidCode);
                }
                let (options, authentication) = webauthn
                    .start_passkey_authentication(&passkeys)
                    .map_err(|error| crate::error::internal("passkey login options", error))?;
                let ceremony = MfaCeremony {
                    authentication,
                    ticket_hash,
                };
                self.save_ceremony(KIND_LOGIN_MFA, Some(&user_id), &ceremony, &options)
                    .await
            }
            None => {
                let (options, authentication) = webauthn
                    .start_discoverable_authentication()
                    .map_err(|error| crate::error::internal("passkey login options", error))?;
                self.save_ceremony(KIND_LOGIN_PASSKEY, None, &authentication, &options)
                    .await
            }
        }
    }

    /// Verifies an assertion against the user's passkeys and records the new counter.
    async fn verify_assertion(
        &self,
        user_id: &str,
        credential: &PublicKeyCredential,
        authentication: &PasskeyAuthentication,
    ) -> Result<()> {
        let result = self
            .identity
            .webauthn
            .finish_passkey_authentication(credential, authentication)
            .map_err(|_| Error::InvalidAssertion)?;
        self.update_counter(user_id, &result).await
    }

    async fn update_counter(
        &self,
        user_id: &str,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<()> {
        for (id, mut passkey) in self.user_passkeys(user_id).await? {
            if passkey.update_credential(result).is_some() {
                self.store
                    .update_passkey(&id, &to_json(&passkey)?, self.clock.now_ms())
                    .await?;
                return Ok(());
            }
        }
        Err(Error::InvalidAssertion)
    }

    /// Finishes a passkey login (second factor or passwordless).
    pub async fn passkey_login(
        &self,
        ctx: &RequestContext,
        ceremony_id: &str,
        credential: Value,
    ) -> Result<IssuedTokens> {
        let credential: PublicKeyCredential =
            parse_credential(credential, ASSERTION_RESPONSE_FIELDS)?;
        if let Ok((Some(user_id), ceremony)) = self
            .take_ceremony::<MfaCeremony>(ceremony_id, KIND_LOGIN_MFA, Error::InvalidAssertion)
            .await
        {
            // The ticket's attempt is spent before the assertion is checked.
            let claimed = self
                .store
                .claim_mfa_attempt(
                    &ceremony.ticket_hash,
                    self.clock.now_ms(),
                    MFA_TICKET_ATTEMPTS_MAX,
                )
                .await?;
            if claimed.as_deref() != Some(user_id.as_str()) {
                return Err(Error::InvalidAssertion);
            }
            if let Err(error) = self
                .verify_assertion(&user_id, &credential, &ceremony.authentication)
                .await
            {
                self.record_failed_factor(ctx, &user_id).await?;
                return Err(error);
            }
            return self
                .finish_mfa_login(ctx, &user_id, &ceremony.ticket_hash, &["pwd", "hwk"])
                .await
                .map_err(|error| match error {
                    Error::InvalidCode => Error::InvalidAssertion,
                    other => other,
                });
        }
        let (_, authentication): (_, DiscoverableAuthentication) = self
            .take_ceremony(ceremony_id, KIND_LOGIN_PASSKEY, Error::InvalidAssertion)
            .await?;
        let webauthn = &self.identity.webauthn;
        let (user_uuid, credential_id) = webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(|_| Error::InvalidAssertion)?;
        let user_id = user_uuid.to_string();
        let passkeys = self.user_passkeys(&user_id).await?;
        let passkey = passkeys
            .iter()
            .map(|(_, passkey)| passkey)
            .find(|passkey| passkey.cred_id().as_slice() == credential_id)
            .ok_or(Error::InvalidAssertion)?;
        let result = webauthn
            .finish_discoverable_authentication_v2(&credential, authentication, passkey)
            .map_err(|_| Error::InvalidAssertion)?;
        self.update_counter(&user_id, &result).await?;
        let user = self
            .store
            .find_user(&user_id)
            .await?
            .filter(|user| super::may_sign_in(&user.status))
            .ok_or(Error::InvalidAssertion)?;
        self.identity.throttles.remember_network(&user_id, ctx.ip);
        self.start_session(ctx, &user, Acr::Mfa, &["hwk", "user"])
            .await
    }

    /// Starts a passkey step-up for the current session.
    pub async fn passkey_step_up_options(&self, ctx: &RequestContext) -> Result<Ceremony> {
        let caller = ctx.caller()?;
        let passkeys: Vec<Passkey> = self
            .user_passkeys(caller.user_id.as_str())
            .await?
            .into_iter()
            .map(|(_, passkey)| passkey)
            .collect();
        if passkeys.is_empty() {
            return Err(Error::InvalidAssertion);
        }
        let (options, authentication) = self
            .identity
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|error| crate::error::internal("passkey step-up options", error))?;
        self.save_ceremony(
            KIND_STEP_UP,
            Some(caller.session_id.as_str()),
            &authentication,
            &options,
        )
        .await
    }

    /// Finishes a passkey step-up: fresh tokens with `acr=mfa` for the same session.
    pub async fn passkey_step_up(
        &self,
        ctx: &RequestContext,
        ceremony_id: &str,
        credential: Value,
    ) -> Result<IssuedTokens> {
        let caller = ctx.caller()?;
        let credential: PublicKeyCredential =
            parse_credential(credential, ASSERTION_RESPONSE_FIELDS)?;
        let (session_id, authentication): (_, PasskeyAuthentication) = self
            .take_ceremony(ceremony_id, KIND_STEP_UP, Error::InvalidAssertion)
            .await?;
        if session_id.as_deref() != Some(caller.session_id.as_str()) {
            return Err(Error::InvalidAssertion);
        }
        if let Err(error) = self
            .verify_assertion(caller.user_id.as_str(), &credential, &authentication)
            .await
        {
            self.record_failed_factor(ctx, caller.user_id.as_str())
                .await?;
            return Err(error);
        }
        let tokens = self.raise_session(ctx, "hwk").await?;
        self.record_event(
            ctx,
            caller.user_id.as_str(),
            "step_up",
            Some(caller.session_id.as_str()),
        )
        .await?;
        Ok(tokens)
    }
}
