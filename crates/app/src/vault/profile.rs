//! Personal data: profiles envelope-encrypted per record (a fresh data key per write, fields
//! bound to their row and column by associated data), reads that fail closed (an unreachable
//! key service is `KeyServiceUnavailable`, a ciphertext that fails authentication is
//! `DataIntegrity` plus a security event — never garbage), crypto-shredding, the national id
//! masked unless revealed after a step-up, and the blind-index duplicate search.

use serde::{Deserialize, Serialize};
use store::ProfileRecord;
use zeroize::Zeroizing;

use crate::limits::{
    ADDRESS_LINE_CHARS_MAX, CITY_CHARS_MAX, LEGAL_NAME_CHARS_MAX, NATIONAL_ID_CHARS_MAX,
    POSTAL_CODE_CHARS_MAX, REVEAL_MAX_AGE_SECS,
};
use crate::{App, Error, FieldError, RequestContext, Result};

/// Characters of the national id left visible when masked.
const NATIONAL_ID_VISIBLE_CHARS: usize = 4;
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// ISO 3166-1 alpha-2 codes (officially assigned), space-separated; the OpenAPI lists them too.
pub const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO \
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH \
    ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL \
    IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME \
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH \
    PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC \
    TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A postal address (also the sealed form of the `address` field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// A profile as written by its owner.
#[derive(Debug)]
pub struct ProfileInput {
    pub legal_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Required for a new profile. On an existing one: absent keeps the stored national id;
    /// present (even unchanged) needs a step-up, so the answer never tells a caller without
    /// one whether a guessed id is the stored one.
    pub national_id: Option<String>,
    pub address: Address,
}

/// A profile as read back: the national id masked, and in clear only when revealed.
#[derive(Debug)]
pub struct Profile {
    pub legal_name: Zeroizing<String>,
    pub date_of_birth: Zeroizing<String>,
    pub national_id_masked: String,
    pub national_id: Option<Zeroizing<String>>,
    pub address: Address,
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

/// The `date_of_birth` texts `valid_date_of_birth` accepts on `today`, as a regular expression
/// that ECMA-262 and Python read alike (for the OpenAPI document): a year from 1900 to last
/// year, or this year up to today. Days past a month's end are left to `format: date`.
pub fn date_of_birth_pattern(today: time::Date) -> String {
    const ANY_MONTH: &str = "(?:0[1-9]|1[0-2])";
    const ANY_DAY: &str = "(?:0[1-9]|[12][0-9]|3[01])";
    let (year, month, day) = (today.year(), u8::from(today.month()), today.day());
    let two_digits = |numbers: std::ops::Range<u8>| {
        numbers
            .map(|number| format!("{number:02}"))
            .collect::<Vec<_>>()
            .join("|")
    };
    let mut branches = Vec::new();
    if year > EARLIEST_BIRTH_YEAR {
        let years: Vec<String> = (EARLIEST_BIRTH_YEAR..year)
            .map(|earlier| earlier.to_string())
            .collect();
        branches.push(format!("(?:{})-{ANY_MONTH}-{ANY_DAY}", years.join("|")));
    }
    if month > 1 {
        branches.push(format!("{year:04}-(?:{})-{ANY_DAY}", two_digits(1..month)));
    }
    branches.push(format!(
        "{year:04}-{month:02}-(?:{})",
        two_digits(1..day.saturating_add(1))
    ));
    format!("^(?:{})$", branches.join("|"))
}

/// Every field checked, every failure named, before anything is encrypted.
fn validate(input: &ProfileInput, today: time::Date) -> Result<()> {
    let mut errors = Vec::new();
    check_text(
        &mut errors,
        "legal_name",
        &input.legal_name,
        true,
        LEGAL_NAME_CHARS_MAX,
    );
    if !valid_date_of_birth(&input.date_of_birth, today) {
        errors.push(FieldError {
            field: "date_of_birth".into(),
            code: "invalid_date",
        });
    }
    let national = input.national_id.as_deref().unwrap_or("present");
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
        Err(Error::Validation { errors })
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

type OpenedFields = (
    Zeroizing<String>,
    Zeroizing<String>,
    Zeroizing<String>,
    Address,
);

impl App {
    /// `date_of_birth_pattern` for today.
    pub fn date_of_birth_pattern(&self) -> String {
        date_of_birth_pattern(self.today())
    }

    fn today(&self) -> time::Date {
        let nanos = i128::from(self.clock.now_ms()).saturating_mul(1_000_000);
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_or(time::Date::MIN, time::OffsetDateTime::date)
    }

    /// Stores or replaces the caller's profile; each write gets a fresh data key. Writing the
    /// national id of an existing profile is an irreversible identity change: step-up.
    pub async fn put_profile(&self, ctx: &RequestContext, input: ProfileInput) -> Result<Profile> {
        let caller = ctx.caller()?;
        validate(&input, self.today())?;
        let user_id = caller.user_id.as_str();
        let existing = self.store.find_profile(user_id).await?;
        let national_id = match (existing, input.national_id) {
            (None, None) => return Err(Error::field("national_id", "required")),
            (None, Some(national_id)) => Zeroizing::new(national_id),
            (Some(_), Some(national_id)) => {
                self.require_step_up_or_enrolment(ctx).await?;
                Zeroizing::new(national_id)
            }
            (Some(record), None) => self.open_profile(&record).await?.2,
        };
        let national_id_index = self.vault.blind_index(&national_id);
        let dek = crypto::Dek::generate()
            .map_err(|error| crate::error::internal("no randomness for a data key", error))?;
        let seal = |field: &str, value: &[u8]| {
            dek.seal(&field_aad(user_id, field), value)
                .map_err(|error| crate::error::internal("cannot seal a profile field", error))
        };
        let address_json = Zeroizing::new(
            serde_json::to_vec(&input.address)
                .map_err(|error| crate::error::internal("address", error))?,
        );
        let wrapped = self.vault.wrap(&dek, &record_context(user_id)).await?;
        let record = ProfileRecord {
            user_id: user_id.to_owned(),
            kek_id: wrapped.kek_id,
            kek_version: i64::from(wrapped.kek_version),
            dek_wrapped: wrapped.bytes,
            legal_name: seal("legal_name", input.legal_name.as_bytes())?,
            date_of_birth: seal("date_of_birth", input.date_of_birth.as_bytes())?,
            national_id: seal("national_id", national_id.as_bytes())?,
            address: seal("address", &address_json)?,
            national_id_index,
            updated_at: self.clock.now_ms(),
        };
        self.store.put_profile(&record).await?;
        Ok(Profile {
            national_id_masked: mask(&national_id),
            legal_name: Zeroizing::new(input.legal_name),
            date_of_birth: Zeroizing::new(input.date_of_birth),
            national_id: None,
            address: input.address,
        })
    }

    /// The caller's profile, decrypted; the national id in clear only when `reveal` and the
    /// caller stepped up within five minutes (recorded as `profile_revealed`).
    pub async fn profile(&self, ctx: &RequestContext, reveal: bool) -> Result<Profile> {
        let caller = ctx.caller()?;
        if reveal {
            caller.require_mfa(self.clock.now_secs(), REVEAL_MAX_AGE_SECS)?;
        }
        let user_id = caller.user_id.as_str();
        let record = self
            .store
            .find_profile(user_id)
            .await?
            .ok_or(Error::NotFound)?;
        let (legal_name, date_of_birth, national_id, address) =
            match self.open_profile(&record).await {
                Ok(fields) => fields,
                Err(Error::DataIntegrity) => {
                    tracing::error!(user_id, "profile failed authentication");
                    self.record_event(
                        ctx,
                        user_id,
                        "data_integrity_error",
                        Some(caller.session_id.as_str()),
                    )
                    .await?;
                    return Err(Error::DataIntegrity);
                }
                Err(other) => return Err(other),
            };
        if reveal {
            self.record_event(
                ctx,
                user_id,
                "profile_revealed",
                Some(caller.session_id.as_str()),
            )
            .await?;
        }
        Ok(Profile {
            national_id_masked: mask(&national_id),
            national_id: reveal.then_some(national_id),
            legal_name,
            date_of_birth,
            address,
        })
    }

    async fn open_profile(&self, record: &ProfileRecord) -> Result<OpenedFields> {
        let wrapped = crypto::WrappedDek {
            kek_id: record.kek_id.clone(),
            kek_version: u32::try_from(record.kek_version).map_err(|_| Error::DataIntegrity)?,
            bytes: record.dek_wrapped.clone(),
        };
        let dek = self
            .vault
            .unwrap(&wrapped, &record_context(&record.user_id))
            .await?;
        let open = |field: &str, sealed: &[u8]| -> Result<Zeroizing<String>> {
            let bytes = dek
                .open(&field_aad(&record.user_id, field), sealed)
                .map_err(|_| Error::DataIntegrity)?;
            String::from_utf8(bytes.to_vec())
                .map(Zeroizing::new)
                .map_err(|_| Error::DataIntegrity)
        };
        let address_json = open("address", &record.address)?;
        let address: Address =
            serde_json::from_str(&address_json).map_err(|_| Error::DataIntegrity)?;
        Ok((
            open("legal_name", &record.legal_name)?,
            open("date_of_birth", &record.date_of_birth)?,
            open("national_id", &record.national_id)?,
            address,
        ))
    }

    /// Crypto-shreds the caller's profile (step-up): its data key is destroyed.
    pub async fn delete_profile(&self, ctx: &RequestContext) -> Result<()> {
        let caller = self.require_step_up_or_enrolment(ctx).await?;
        if !self.store.delete_profile(caller.user_id.as_str()).await? {
            return Err(Error::NotFound);
        }
        self.vault.forget(&record_context(caller.user_id.as_str()));
        self.record_event(
            ctx,
            caller.user_id.as_str(),
            "profile_deleted",
            Some(caller.session_id.as_str()),
        )
        .await
    }

    /// Users whose national id matches, by blind index (nothing is decrypted). Scope
    /// `profiles:search`.
    pub async fn find_duplicates(
        &self,
        ctx: &RequestContext,
        national_id: &str,
    ) -> Result<Vec<String>> {
        ctx.service("profiles:search")?;
        if national_id.trim().is_empty() || national_id.chars().count() > NATIONAL_ID_CHARS_MAX {
            return Err(Error::field("national_id", "length"));
        }
        Ok(self
            .store
            .profiles_by_national_id_index(&self.vault.blind_index(national_id))
            .await?)
    }
}

#[cfg(test)]
mod tests;
