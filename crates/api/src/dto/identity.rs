//! Wire types of sign-up, sign-in, sessions, second factors and the signed-in user.

use app::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "ann@example.com",
    "password": "correct horse battery staple",
    "display_name": "Ann",
}))]
pub struct RegisterRequest {
    /// Compared after trimming, Unicode NFKC and lower-casing; the domain needs a dot.
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    /// 12 to 256 characters; common or guessable passwords, and ones built from the email or
    /// display name, are refused (422 `weak_password`).
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    /// 1–100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    #[schema(format = "uuid")]
    pub user_id: String,
}

/// Any text is accepted here: a malformed email or a wrong password is the same 401.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com", "password": "correct horse battery staple"}))]
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

#[derive(Serialize, ToSchema)]
pub struct MfaChallenge {
    pub mfa_required: bool,
    /// Single-use, valid for 5 minutes and 5 codes; never accepted as a bearer token.
    pub mfa_ticket: String,
    /// The second factors this user has: `totp`, `webauthn`.
    pub methods: Vec<String>,
}

/// What a successful password step answers: tokens, or a second-factor challenge.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(TokenResponse),
    Mfa(MfaChallenge),
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    #[schema(format = "uuid")]
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

impl SessionView {
    pub fn of(session: store::SessionRecord, current_session: &str) -> SessionView {
        SessionView {
            current: session.id == current_session,
            created_at: rfc3339(session.created_at),
            last_seen_at: rfc3339(session.last_seen_at),
            id: session.id,
            ip: session.ip,
            user_agent: session.user_agent,
            location: session.location,
        }
    }
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
    /// The six digits the authenticator app shows (any other text is a wrong code: 401).
    #[schema(pattern = "^[0-9]{6}$")]
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
    /// From the password step.
    pub mfa_ticket: String,
    /// The six digits the authenticator app shows (any other text is a wrong code: 401).
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRecoveryRequest {
    /// From the password step.
    pub mfa_ticket: String,
    /// One of the ten codes, `xxxx-xxxx-xxxx-xxxx`; case and separators are ignored.
    pub recovery_code: String,
}

/// Optional body of the enrolment calls.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The account password, re-entered: lets a user without any second factor enrol the
    /// first one when their sign-in is older than `auth.step_up_max_age_secs`.
    #[serde(default)]
    pub password: Option<String>,
}

impl EnrolRequest {
    pub fn password(body: Option<EnrolRequest>) -> Option<secrecy::SecretString> {
        body.and_then(|body| body.password)
            .map(secrecy::SecretString::from)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPasskeyRequest {
    /// From the options call; single-use, valid for 5 minutes.
    #[schema(format = "uuid")]
    pub ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, as JSON.
    #[schema(value_type = crate::dto::RegistrationCredentialDoc)]
    pub credential: serde_json::Value,
    /// A name to tell this passkey apart in the factor list (1–64 characters once trimmed, no
    /// control characters; default `Passkey`).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
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
    /// From the options call; single-use, valid for 5 minutes.
    #[schema(format = "uuid")]
    pub ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as JSON.
    #[schema(value_type = crate::dto::AssertionCredentialDoc)]
    pub credential: serde_json::Value,
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

impl From<app::identity::factors::Factors> for FactorList {
    fn from(factors: app::identity::factors::Factors) -> FactorList {
        FactorList {
            totp: factors.totp,
            passkeys: factors
                .passkeys
                .into_iter()
                .map(|passkey| PasskeyView {
                    id: passkey.id,
                    name: passkey.name,
                    created_at: rfc3339(passkey.created_at),
                    last_used_at: passkey.last_used_at.map(rfc3339),
                })
                .collect(),
            recovery_codes_remaining: factors.recovery_codes_remaining,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MfaStatus {
    pub totp: bool,
    pub webauthn: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    #[schema(format = "uuid")]
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub mfa: MfaStatus,
    pub status: String,
    /// True once the user used a verification token sent to `email`.
    pub email_verified: bool,
}

impl From<app::identity::account::Me> for Me {
    fn from(me: app::identity::account::Me) -> Me {
        let user = me.user;
        Me {
            roles: user
                .roles
                .split(',')
                .filter(|role| !role.is_empty())
                .map(str::to_owned)
                .collect(),
            email_verified: user.email_verified_at.is_some(),
            user_id: user.id,
            email: user.email,
            display_name: user.display_name,
            mfa: MfaStatus {
                totp: me.totp,
                webauthn: me.webauthn,
            },
            status: user.status,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"display_name": "Ann"}))]
pub struct UpdateMe {
    /// 1–100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEvent {
    pub id: String,
    /// `registered`, `login`, `login_failed`, `logout`, `session_revoked`,
    /// `refresh_token_reused`, `mfa_*`, `step_up`, `profile_*`, `impossible_travel`,
    /// `session_hijack_suspected`, `account_quarantined`, `quarantine_lifted` (docs/api.md).
    pub kind: String,
    pub created_at: String,
    pub ip: String,
    pub user_agent: String,
    /// City and country when GeoIP is configured and knew the address (`"London, GB"`).
    pub location: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEventList {
    pub items: Vec<SecurityEvent>,
    pub next_cursor: Option<String>,
}

impl From<store::SecurityEventRecord> for SecurityEvent {
    fn from(event: store::SecurityEventRecord) -> SecurityEvent {
        SecurityEvent {
            id: event.id,
            kind: event.kind,
            created_at: rfc3339(event.created_at),
            ip: event.ip,
            user_agent: event.user_agent,
            location: event.location,
        }
    }
}

impl From<app::identity::mfa::MfaChallenge> for MfaChallenge {
    fn from(challenge: app::identity::mfa::MfaChallenge) -> MfaChallenge {
        use secrecy::ExposeSecret;
        MfaChallenge {
            mfa_required: true,
            mfa_ticket: challenge.ticket.expose_secret().to_owned(),
            methods: challenge.methods.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}
