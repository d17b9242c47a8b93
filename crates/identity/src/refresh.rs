//! Opaque secrets of session families: 256-bit refresh tokens stored only as SHA-256 hashes.
//! (The sealed "grace" answer for a concurrent refresh is `crypto::grace`: key bytes live in
//! `crypto` only.)

pub use crate::limits::REFRESH_TOKEN_CHARS_MAX;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

/// Random bytes in a refresh token (256 bits).
pub const REFRESH_TOKEN_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("no system randomness")]
    Randomness,
}

/// A new refresh token (base64url, 43 characters) and the hash that is stored.
pub fn new_refresh_token() -> Result<(SecretString, Vec<u8>), RefreshError> {
    let mut bytes = [0_u8; REFRESH_TOKEN_BYTES];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RefreshError::Randomness)?;
    let token = SecretString::from(URL_SAFE_NO_PAD.encode(bytes));
    zeroize::Zeroize::zeroize(&mut bytes);
    let hash = hash_refresh_token(&token);
    Ok((token, hash))
}

/// The stored form of a refresh token. Tokens carry 256 bits of entropy, so a plain hash is
/// enough (no salt or stretching needed) and lets lookups be exact-match on an index.
pub fn hash_refresh_token(token: &SecretString) -> Vec<u8> {
    digest(&SHA256, token.expose_secret().as_bytes())
        .as_ref()
        .to_vec()
}

/// True for a value that could be one of our refresh tokens (checked before hashing).
pub fn is_plausible_refresh_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= REFRESH_TOKEN_CHARS_MAX
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests;
