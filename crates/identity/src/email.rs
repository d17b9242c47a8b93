//! Email addresses as identities: trimmed, Unicode NFKC, lower-cased, bounded.
//!
//! The whole address is lower-cased, not only the domain: RFC 5321 lets a local part be
//! case-sensitive, but no mainstream mailbox is, and two accounts that differ only by case
//! would invite confusion and account-takeover tricks.

pub use crate::limits::{EMAIL_BYTES_MAX, EMAIL_LOCAL_PART_BYTES_MAX};
use unicode_normalization::UnicodeNormalization;

/// A normalised email address; two spellings of one mailbox compare equal.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data: never in logs.
        f.write_str("Email([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is too long")]
    TooLong,
    #[error("email is not a valid address")]
    Invalid,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        if raw.len() > EMAIL_BYTES_MAX.saturating_mul(4) {
            return Err(EmailError::TooLong);
        }
        let normalised: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if normalised.len() > EMAIL_BYTES_MAX {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = normalised.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let domain = domain.to_lowercase();
        let local_ok = !local.is_empty()
            && local.len() <= EMAIL_LOCAL_PART_BYTES_MAX
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.');
        let domain_ok = domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let printable = normalised
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace());
        if !(local_ok && domain_ok && printable) {
            return Err(EmailError::Invalid);
        }
        Ok(Email(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An already-normalised value read back from the store.
    pub fn from_trusted(value: String) -> Email {
        Email(value)
    }
}

#[cfg(test)]
mod tests;
