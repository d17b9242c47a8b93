//! `/v1/me/profile`: personal data, envelope-encrypted per record (see `vault`). Reads fail
//! closed: an unreachable key service is 503, a ciphertext or wrapped key that fails
//! authentication is 500 `data_integrity_error` plus a security event — never garbage.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use store::ProfileRecord;
use utoipa::{IntoParams, ToSchema};
use zeroize::Zeroizing;

use crate::auth::{Caller, now_ms};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, FieldError, Problem};
use crate::json::ApiJson;
use crate::principal::Service;
use crate::routes::auth::record_event;
use crate::state::AppState;

pub const LEGAL_NAME_CHARS_MAX: usize = 200;
pub const NATIONAL_ID_CHARS_MAX: usize = 64;
pub const ADDRESS_LINE_CHARS_MAX: usize = 200;
pub const CITY_CHARS_MAX: usize = 100;
pub const POSTAL_CODE_CHARS_MAX: usize = 20;
/// Step-up freshness for revealing the national id (API.md: 5 minutes).
pub const REVEAL_MAX_AGE_SECS: u64 = 300;
/// Characters of the national id left visible when masked.
const NATIONAL_ID_VISIBLE_CHARS: usize = 4;
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// ISO 3166-1 alpha-2 codes (officially assigned).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO \
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH \
    ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL \
    IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME \
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH \
    PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC \
    TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `GB`.
    pub country: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub legal_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub national_id: String,
    pub address: Address,
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevealQuery {
    /// `national_id` to include it in clear (needs `acr=mfa` within 5 minutes).
    pub reveal: Option<String>,
}

fn check_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &str,
    required: bool,
    chars_max: usize,
) {
    let chars = value.chars().count();
    if (required && value.trim().is_empty()) || chars > chars_max {
        errors.push(FieldError {
            field: field.to_owned(),
            code: "length",
        });
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError {
            field: field.to_owned(),
            code: "invalid_characters",
        });
    }
}

fn valid_date_of_birth(value: &str, today: time::Date) -> bool {
    let mut parts = value.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) =
        (year.parse::<i32>(), month.parse::<u8>(), day.parse::<u8>())
    else {
        return false;
    };
    let Ok(month) = time::Month::try_from(month) else {
        return false;
    };
    time::Date::from_calendar_date(year, month, day)
        .is_ok_and(|date| year >= EARLIEST_BIRTH_YEAR && date <= today)
}

/// Every field checked, every failure named, before anything is encrypted.
fn validate(input: &ProfileInput) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    check_text(
        &mut errors,
        "legal_name",
        &input.legal_name,
        true,
        LEGAL_NAME_CHARS_MAX,
    );
    let today = time::OffsetDateTime::now_utc().date();
    if !valid_date_of_birth(&input.date_of_birth, today) {
        errors.push(FieldError {
            field: "date_of_birth".into(),
            code: "invalid_date",
        });
    }
    let national = &input.national_id;
    if national.trim().is_empty() || national.chars().count() > NATIONAL_ID_CHARS_MAX {
        errors.push(FieldError {
            field: "national_id".into(),
            code: "length",
        });
    } else if !national
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        errors.push(FieldError {
            field: "national_id".into(),
            code: "invalid_characters",
        });
    }
    let address = &input.address;
    check_text(
        &mut errors,
        "address.line1",
        &address.line1,
        true,
        ADDRESS_LINE_CHARS_MAX,
    );
    check_text(
        &mut errors,
        "address.line2",
        address.line2.as_deref().unwrap_or_default(),
        false,
        ADDRESS_LINE_CHARS_MAX,
    );
    check_text(
        &mut errors,
        "address.city",
        &address.city,
        true,
        CITY_CHARS_MAX,
    );
    let postal = &address.postal_code;
    if postal.trim().is_empty() || postal.chars().count() > POSTAL_CODE_CHARS_MAX {
        errors.push(FieldError {
            field: "address.postal_code".into(),
            code: "length",
        });
    } else if !postal
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        errors.push(FieldError {
            field: "address.postal_code".into(),
            code: "invalid_characters",
        });
    }
    let country_ok = address.country.len() == 2
        && COUNTRIES
            .split_whitespace()
            .any(|code| code == address.country);
    if !country_ok {
        errors.push(FieldError {
            field: "address.country".into(),
            code: "not_iso_3166",
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::ValidationFailed { errors })
    }
}

/// The context a profile's data key is wrapped under (binds the wrapped key to its record).
pub fn record_context(user_id: &str) -> String {
    format!("profiles:{user_id}")
}

fn field_aad(user_id: &str, field: &str) -> String {
    format!("profiles:{user_id}:{field}")
}

fn mask(national_id: &str) -> String {
    let chars: Vec<char> = national_id.chars().collect();
    let visible = if chars.len() > NATIONAL_ID_VISIBLE_CHARS {
        NATIONAL_ID_VISIBLE_CHARS
    } else {
        0
    };
    let hidden = chars.len().saturating_sub(visible);
    let tail: String = chars.iter().skip(hidden).collect();
    format!("{}{tail}", "*".repeat(hidden))
}

/// Store or replace the caller's profile. Each write gets a fresh data key. Changing the
/// national id of an existing profile is irreversible identity change: it needs a step-up.
#[utoipa::path(put, path = "/v1/me/profile", tag = "me", security(("bearer" = [])), request_body = ProfileInput,
    responses(
        (status = 200, description = "Stored; the national id is masked", body = ProfileView),
        (status = 400, description = "Malformed body or unknown field", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token, or step_up_required (changing the national id)", content_type = "application/problem+json", body = Problem),
        (status = 413, description = "Body too large", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "validation_failed, naming each field", content_type = "application/problem+json", body = Problem),
        (status = 503, description = "key_service_unavailable", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn put_profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<Json<ProfileView>, ApiError> {
    validate(&input)?;
    let user_id = &caller.user_id;
    let national_id_index = state.vault.blind_index(&input.national_id);
    // The blind index tells whether the national id changes without decrypting anything.
    let changes_national_id = state
        .store
        .find_profile(user_id)
        .await?
        .is_some_and(|existing| existing.national_id_index != national_id_index);
    if changes_national_id {
        caller.require_mfa(state.auth.settings.step_up_max_age_secs)?;
    }
    let dek = crypto::Dek::generate().map_err(|_| ApiError::Internal)?;
    let seal = |field: &str, value: &[u8]| {
        dek.seal(&field_aad(user_id, field), value)
            .map_err(|_| ApiError::Internal)
    };
    let address_json =
        Zeroizing::new(serde_json::to_vec(&input.address).map_err(|_| ApiError::Internal)?);
    let wrapped = state.vault.wrap(&dek, &record_context(user_id)).await?;
    let record = ProfileRecord {
        user_id: user_id.clone(),
        kek_id: wrapped.kek_id,
        kek_version: i64::from(wrapped.kek_version),
        dek_wrapped: wrapped.bytes,
        legal_name: seal("legal_name", input.legal_name.as_bytes())?,
        date_of_birth: seal("date_of_birth", input.date_of_birth.as_bytes())?,
        national_id: seal("national_id", input.national_id.as_bytes())?,
        address: seal("address", &address_json)?,
        national_id_index,
        updated_at: now_ms(),
    };
    state.store.put_profile(&record).await?;
    Ok(Json(ProfileView {
        national_id_masked: mask(&input.national_id),
        legal_name: input.legal_name,
        date_of_birth: input.date_of_birth,
        national_id: None,
        address: input.address,
    }))
}

/// The caller's profile, decrypted; the national id masked unless revealed after step-up.
#[utoipa::path(get, path = "/v1/me/profile", tag = "me", security(("bearer" = [])), params(RevealQuery),
    responses(
        (status = 200, description = "The profile", body = ProfileView),
        (status = 400, description = "Unknown query parameter or value", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token or step_up_required (reveal)", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "No profile (or crypto-shredded)", content_type = "application/problem+json", body = Problem),
        (status = 500, description = "data_integrity_error", content_type = "application/problem+json", body = Problem),
        (status = 503, description = "key_service_unavailable", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn get_profile(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    query: Result<Query<RevealQuery>, QueryRejection>,
) -> Result<Json<ProfileView>, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::invalid_request("Unknown or malformed query parameter."))?;
    let reveal = match query.reveal.as_deref() {
        None => false,
        Some("national_id") => true,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "`reveal` accepts only `national_id`.",
            ));
        }
    };
    if reveal {
        caller.require_mfa(REVEAL_MAX_AGE_SECS)?;
    }
    let user_id = &caller.user_id;
    let record = state
        .store
        .find_profile(user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let opened = open_profile(&state, &record).await;
    let (legal_name, date_of_birth, national_id, address) = match opened {
        Ok(fields) => fields,
        Err(ApiError::DataIntegrity) => {
            tracing::error!(user_id, "profile failed authentication");
            record_event(
                &state,
                user_id,
                "data_integrity_error",
                ip,
                &headers,
                Some(&caller.session_id),
            )
            .await?;
            return Err(ApiError::DataIntegrity);
        }
        Err(other) => return Err(other),
    };
    if reveal {
        record_event(
            &state,
            user_id,
            "profile_revealed",
            ip,
            &headers,
            Some(&caller.session_id),
        )
        .await?;
    }
    Ok(Json(ProfileView {
        national_id_masked: mask(&national_id),
        national_id: reveal.then(|| national_id.to_string()),
        legal_name: legal_name.to_string(),
        date_of_birth: date_of_birth.to_string(),
        address,
    }))
}

type OpenedProfile = (
    Zeroizing<String>,
    Zeroizing<String>,
    Zeroizing<String>,
    Address,
);

async fn open_profile(state: &AppState, record: &ProfileRecord) -> Result<OpenedProfile, ApiError> {
    let wrapped = crypto::WrappedDek {
        kek_id: record.kek_id.clone(),
        kek_version: u32::try_from(record.kek_version).map_err(|_| ApiError::DataIntegrity)?,
        bytes: record.dek_wrapped.clone(),
    };
    let dek = state
        .vault
        .unwrap(&wrapped, &record_context(&record.user_id))
        .await?;
    let open = |field: &str, sealed: &[u8]| -> Result<Zeroizing<String>, ApiError> {
        let bytes = dek
            .open(&field_aad(&record.user_id, field), sealed)
            .map_err(|_| ApiError::DataIntegrity)?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| ApiError::DataIntegrity)
    };
    let address_json = open("address", &record.address)?;
    let address: Address =
        serde_json::from_str(&address_json).map_err(|_| ApiError::DataIntegrity)?;
    Ok((
        open("legal_name", &record.legal_name)?,
        open("date_of_birth", &record.date_of_birth)?,
        open("national_id", &record.national_id)?,
        address,
    ))
}

/// Crypto-shred the caller's profile (step-up): its data key is destroyed; reads answer 404.
#[utoipa::path(delete, path = "/v1/me/profile", tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "Destroyed"),
        (status = 401, description = "invalid_token or step_up_required", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "No profile", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn delete_profile(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require_mfa(state.auth.settings.step_up_max_age_secs)?;
    if !state.store.delete_profile(&caller.user_id).await? {
        return Err(ApiError::NotFound);
    }
    state.vault.forget(&record_context(&caller.user_id));
    record_event(
        &state,
        &caller.user_id,
        "profile_deleted",
        ip,
        &headers,
        Some(&caller.session_id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
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

/// Users whose national id matches (by blind index; nothing is decrypted). Scope
/// `profiles:search`.
pub async fn find_duplicates(
    State(state): State<AppState>,
    service: Service,
    ApiJson(body): ApiJson<DuplicateQuery>,
) -> Result<Json<DuplicateMatches>, ApiError> {
    service.require_scope("profiles:search")?;
    if body.national_id.trim().is_empty()
        || body.national_id.chars().count() > NATIONAL_ID_CHARS_MAX
    {
        return Err(crate::routes::auth::validation_failed(
            "national_id",
            "length",
        ));
    }
    let user_ids = state
        .store
        .profiles_by_national_id_index(&state.vault.blind_index(&body.national_id))
        .await?;
    Ok(Json(DuplicateMatches { user_ids }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids_are_masked_to_their_last_four() {
        assert_eq!(mask("AB123456C"), "*****456C");
        assert_eq!(mask("123"), "***");
    }

    #[test]
    fn dates_of_birth_are_real_past_dates() {
        let today = time::macros::date!(2026 - 11 - 23);
        assert!(valid_date_of_birth("1990-02-28", today));
        for bad in [
            "1990-02-30",
            "1899-12-31",
            "2030-01-01",
            "90-01-01",
            "1990-1-1",
            "1990-01-01x",
            "",
        ] {
            assert!(!valid_date_of_birth(bad, today), "{bad}");
        }
    }
}
