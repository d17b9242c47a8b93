//! The sealed "grace" answer of a refresh-token rotation: the new token pair, sealed under a
//! key derived from the token being rotated and bound to the session, so that only whoever
//! presents that token (a concurrent refresh of the same client) can read it.

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::envelope::{open_with, seal_with};
pub use crate::limits::GRACE_PLAINTEXT_BYTES_MAX;

const GRACE_KEY_CONTEXT: &[u8] = b"strongroom refresh grace v1";

fn grace_key(old_token: &SecretString) -> Result<LessSafeKey, CryptoError> {
    let mut material = Zeroizing::new(GRACE_KEY_CONTEXT.to_vec());
    material.extend_from_slice(old_token.expose_secret().as_bytes());
    let key_bytes = digest(&SHA256, &material);
    let key =
        UnboundKey::new(&AES_256_GCM, key_bytes.as_ref()).map_err(|_| CryptoError::Integrity)?;
    Ok(LessSafeKey::new(key))
}

/// Seals `plaintext` under a key derived from `old_token`, bound to `session_id`.
pub fn seal(
    old_token: &SecretString,
    session_id: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() > GRACE_PLAINTEXT_BYTES_MAX {
        return Err(CryptoError::TooLarge);
    }
    seal_with(&grace_key(old_token)?, session_id, plaintext)
}

/// Opens a grace answer; `None` when the token or the session does not match.
pub fn open(
    old_token: &SecretString,
    session_id: &str,
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    open_with(&grace_key(old_token).ok()?, session_id, sealed).ok()
}

#[cfg(test)]
mod tests;
