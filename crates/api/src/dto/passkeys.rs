//! OpenAPI-only shapes of the WebAuthn credentials the finishing calls take (the handlers read
//! them as JSON and hand them to the WebAuthn library after refusing unknown members). Binary
//! members are unpadded base64url, as `PublicKeyCredential.toJSON()` writes them.

use utoipa::ToSchema;

/// `navigator.credentials.create()`'s answer.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RegistrationCredential)]
pub struct RegistrationCredentialDoc {
    /// The credential id (base64url); the one inside the attestation is what counts.
    pub id: String,
    #[schema(
        rename = "rawId",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub raw_id: String,
    #[schema(rename = "type", pattern = "^public-key$")]
    pub credential_type: String,
    pub response: AttestationResponseDoc,
    #[schema(rename = "clientExtensionResults", nullable = false)]
    pub client_extension_results: Option<RegistrationExtensionsDoc>,
    /// `platform` or `cross-platform`; informational.
    #[schema(rename = "authenticatorAttachment")]
    pub authenticator_attachment: Option<String>,
}

/// `AuthenticatorAttestationResponse`, binary members in base64url.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AttestationResponse)]
pub struct AttestationResponseDoc {
    #[schema(
        rename = "attestationObject",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub attestation_object: String,
    #[schema(
        rename = "clientDataJSON",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub client_data_json: String,
    /// `usb`, `nfc`, `ble`, `internal`, `hybrid`, ...; informational.
    pub transports: Option<Vec<String>>,
    /// Informational (the attestation object is what is verified).
    #[schema(
        rename = "authenticatorData",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub authenticator_data: Option<String>,
    /// Informational (the attestation object is what is verified).
    #[schema(
        rename = "publicKey",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub public_key: Option<String>,
    /// COSE algorithm identifier; informational.
    #[schema(rename = "publicKeyAlgorithm")]
    pub public_key_algorithm: Option<i64>,
}

/// Client extension outputs of a registration.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RegistrationExtensions)]
pub struct RegistrationExtensionsDoc {
    pub appid: Option<bool>,
    #[schema(rename = "credProps")]
    pub cred_props: Option<CredPropsDoc>,
    #[schema(rename = "hmacSecret")]
    pub hmac_secret: Option<bool>,
    #[schema(rename = "minPinLength", minimum = 0, maximum = 4_294_967_295_i64)]
    pub min_pin_length: Option<i64>,
}

/// The `credProps` extension output.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CredProps)]
pub struct CredPropsDoc {
    /// Whether the credential is discoverable (a resident key).
    pub rk: Option<bool>,
}

/// `navigator.credentials.get()`'s answer.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssertionCredential)]
pub struct AssertionCredentialDoc {
    /// The credential id (base64url).
    pub id: String,
    #[schema(
        rename = "rawId",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub raw_id: String,
    #[schema(rename = "type", pattern = "^public-key$")]
    pub credential_type: String,
    pub response: AssertionResponseDoc,
    #[schema(rename = "clientExtensionResults", nullable = false)]
    pub client_extension_results: Option<AssertionExtensionsDoc>,
    /// `platform` or `cross-platform`; informational.
    #[schema(rename = "authenticatorAttachment")]
    pub authenticator_attachment: Option<String>,
}

/// `AuthenticatorAssertionResponse`, binary members in base64url.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssertionResponse)]
pub struct AssertionResponseDoc {
    #[schema(
        rename = "authenticatorData",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub authenticator_data: String,
    #[schema(
        rename = "clientDataJSON",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub client_data_json: String,
    #[schema(
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub signature: String,
    /// The user handle of a discoverable credential (base64url).
    #[schema(
        rename = "userHandle",
        pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"
    )]
    pub user_handle: Option<String>,
}

/// Client extension outputs of an assertion.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssertionExtensions)]
pub struct AssertionExtensionsDoc {
    pub appid: Option<bool>,
}
