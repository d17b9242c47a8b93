//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, ±1 step) and recovery codes.
//!
//! `check` returns the matched step; the caller stores the last accepted step with a
//! compare-and-set so each code works once per credential, the setup code included.

pub use crate::limits::CODE_CHARS_MAX;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use totp_rs::{Algorithm, Secret, Totp};
use zeroize::Zeroizing;

pub const TOTP_SECRET_BYTES: usize = 20;
pub const TOTP_STEP_SECS: u64 = 30;
pub const TOTP_SKEW_STEPS: u16 = 1;
pub const TOTP_DIGITS: u8 = 6;
pub const RECOVERY_CODES_LEN: usize = 10;
/// Random bytes per recovery code: 96 bits, shown as 16 characters.
const RECOVERY_CODE_BYTES: usize = 12;
const ISSUER: &str = "Strongroom";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("no system randomness")]
    Randomness,
    #[error("invalid TOTP parameters")]
    Parameters,
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, TotpError> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_skew(TOTP_SKEW_STEPS)
        .with_step_duration(TOTP_STEP_SECS)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', ""))
        .build()
        .map_err(|_| TotpError::Parameters)
}

/// A fresh random secret.
pub fn new_secret() -> Result<Zeroizing<Vec<u8>>, TotpError> {
    let mut secret = Zeroizing::new(vec![0_u8; TOTP_SECRET_BYTES]);
    aws_lc_rs::rand::fill(secret.as_mut_slice()).map_err(|_| TotpError::Randomness)?;
    Ok(secret)
}

/// The base32 secret and the `otpauth://` URI for authenticator apps.
pub fn enrolment(secret: &[u8], account: &str) -> Result<(SecretString, SecretString), TotpError> {
    let totp = totp(secret, account)?;
    let base32 = Secret::from(secret.to_vec()).to_base32();
    let uri = totp.to_url().map_err(|_| TotpError::Parameters)?;
    Ok((SecretString::from(base32), SecretString::from(uri)))
}

/// The matched time step when `code` is valid at `now_secs` (±1 step), else `None`.
pub fn check(secret: &[u8], code: &str, now_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != usize::from(TOTP_DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "check").ok()?.check(code, now_secs)
}

/// The code for `time_secs` (tests and tools that play the authenticator).
pub fn code_at(secret: &[u8], time_secs: u64) -> Option<String> {
    totp(secret, "generate")
        .ok()
        .map(|totp| totp.generate(time_secs).to_string())
}

/// The code for `time_secs` from a base32 secret as shown at enrolment (for tools and tests
/// that play the authenticator app).
pub fn code_at_base32(secret_base32: &str, time_secs: u64) -> Option<String> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    code_at(secret.as_bytes(), time_secs)
}

/// Ten fresh recovery codes, `xxxx-xxxx-xxxx-xxxx` in lower-case base32-like text.
pub fn new_recovery_codes() -> Result<Vec<SecretString>, TotpError> {
    (0..RECOVERY_CODES_LEN)
        .map(|_| {
            let mut bytes = Zeroizing::new([0_u8; RECOVERY_CODE_BYTES]);
            aws_lc_rs::rand::fill(bytes.as_mut_slice()).map_err(|_| TotpError::Randomness)?;
            let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice());
            let letters: String = text
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        'x'
                    }
                })
                .take(16)
                .collect();
            let grouped = letters
                .as_bytes()
                .chunks(4)
                .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            Ok(SecretString::from(grouped))
        })
        .collect()
}

/// The canonical form of a typed recovery code: lower case, separators dropped.
pub fn normalise_recovery_code(code: &SecretString) -> Option<Zeroizing<String>> {
    let text = code.expose_secret();
    if text.len() > CODE_CHARS_MAX {
        return None;
    }
    let normalised: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (normalised.len() == 16 && normalised.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| Zeroizing::new(normalised))
}

#[cfg(test)]
mod tests;
