//! Wire types of the personal-data profile.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// 1–200 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub line1: String,
    /// At most 200 characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub line2: Option<String>,
    /// 1–100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub city: String,
    /// Letters, digits, spaces and hyphens, not only spaces; at most 20.
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = "^[A-Za-z0-9 -]*[A-Za-z0-9-][A-Za-z0-9 -]*$"
    )]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `GB` (an officially assigned code; the enum lists them).
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
}

impl From<Address> for app::vault::profile::Address {
    fn from(address: Address) -> Self {
        app::vault::profile::Address {
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            postal_code: address.postal_code,
            country: address.country,
        }
    }
}

impl From<app::vault::profile::Address> for Address {
    fn from(address: app::vault::profile::Address) -> Self {
        Address {
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            postal_code: address.postal_code,
            country: address.country,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "legal_name": "Ann Example",
    "date_of_birth": "1990-04-01",
    "national_id": "AB 12 34 56 C",
    "address": {"line1": "1 High Street", "city": "London", "postal_code": "SW1A 1AA", "country": "GB"},
}))]
pub struct ProfileInput {
    /// 1–200 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub legal_name: String,
    /// `YYYY-MM-DD`, a real date since 1900, not in the future (the served document's
    /// pattern admits the dates up to the day it was served).
    #[schema(format = Date, pattern = "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub date_of_birth: String,
    /// Letters, digits, spaces and hyphens, not only spaces; at most 64. Required for a new
    /// profile; on an existing one, omit it to keep the stored id — sending it (changed or
    /// not) needs a step-up.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9 -]*[A-Za-z0-9-][A-Za-z0-9 -]*$"
    )]
    pub national_id: Option<String>,
    pub address: Address,
}

impl From<ProfileInput> for app::vault::profile::ProfileInput {
    fn from(input: ProfileInput) -> Self {
        app::vault::profile::ProfileInput {
            legal_name: input.legal_name,
            date_of_birth: input.date_of_birth,
            national_id: input.national_id,
            address: input.address.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProfileView {
    pub legal_name: String,
    pub date_of_birth: String,
    pub national_id_masked: String,
    /// Only with `?reveal=national_id` after a recent step-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national_id: Option<String>,
    pub address: Address,
}

impl From<app::vault::profile::Profile> for ProfileView {
    fn from(profile: app::vault::profile::Profile) -> Self {
        ProfileView {
            legal_name: profile.legal_name.to_string(),
            date_of_birth: profile.date_of_birth.to_string(),
            national_id_masked: profile.national_id_masked,
            national_id: profile.national_id.map(|id| id.to_string()),
            address: profile.address.into(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevealQuery {
    /// `national_id` to include it in clear (needs `acr=mfa` within 5 minutes).
    #[param(pattern = "^national_id$")]
    pub reveal: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateQuery {
    pub national_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct DuplicateMatches {
    pub user_ids: Vec<String>,
}
