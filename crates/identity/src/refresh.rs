//! Opaque secrets of session families: 256-bit refresh tokens stored only as SHA-256 hashes,
//! and the sealed "grace" answer that lets a concurrent refresh within the grace window get the
//! same new pair — readable only by whoever presents the token that was just rotated.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

/// Random bytes in a refresh token (256 bits).
pub const REFRESH_TOKEN_BYTES: usize = 32;
/// Longest refresh cookie value accepted before hashing.
pub const REFRESH_TOKEN_CHARS_MAX: usize = 64;
/// A sealed grace answer larger than this is refused.
pub const GRACE_PLAINTEXT_BYTES_MAX: usize = 8192;
const GRACE_KEY_CONTEXT: &[u8] = b"strongroom refresh grace v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("no system randomness")]
    Randomness,
    #[error("sealing failed")]
    Seal,
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

fn grace_key(old_token: &SecretString) -> Result<LessSafeKey, RefreshError> {
    let mut material = GRACE_KEY_CONTEXT.to_vec();
    material.extend_from_slice(old_token.expose_secret().as_bytes());
    let key_bytes = digest(&SHA256, &material);
    zeroize::Zeroize::zeroize(&mut material);
    let key = UnboundKey::new(&AES_256_GCM, key_bytes.as_ref()).map_err(|_| RefreshError::Seal)?;
    Ok(LessSafeKey::new(key))
}

/// Seals `plaintext` (the new token pair) under a key derived from the token being rotated,
/// bound to the session id. Output: nonce || ciphertext || tag.
pub fn seal_grace(
    old_token: &SecretString,
    session_id: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, RefreshError> {
    if plaintext.len() > GRACE_PLAINTEXT_BYTES_MAX {
        return Err(RefreshError::Seal);
    }
    let key = grace_key(old_token)?;
    let mut nonce_bytes = [0_u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce_bytes).map_err(|_| RefreshError::Randomness)?;
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(session_id.as_bytes()),
        &mut in_out,
    )
    .map_err(|_| RefreshError::Seal)?;
    let mut sealed = nonce_bytes.to_vec();
    sealed.extend(in_out);
    Ok(sealed)
}

/// Opens a grace answer; `None` when the token or the session does not match.
pub fn open_grace(old_token: &SecretString, session_id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    let key = grace_key(old_token).ok()?;
    let nonce_bytes: [u8; NONCE_LEN] = sealed.get(..NONCE_LEN)?.try_into().ok()?;
    let mut in_out = sealed.get(NONCE_LEN..)?.to_vec();
    let plaintext = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(session_id.as_bytes()),
            &mut in_out,
        )
        .ok()?;
    Some(plaintext.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_256_bit_and_hashed() {
        let (a, hash_a) = new_refresh_token().unwrap();
        let (b, _) = new_refresh_token().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), 43);
        assert!(is_plausible_refresh_token(a.expose_secret()));
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert!(!is_plausible_refresh_token("a;b"));
    }

    #[test]
    fn grace_answers_open_only_with_the_rotated_token_and_session() {
        let (old, _) = new_refresh_token().unwrap();
        let (other, _) = new_refresh_token().unwrap();
        let sealed = seal_grace(&old, "session-1", b"new pair").unwrap();
        assert_eq!(
            open_grace(&old, "session-1", &sealed).as_deref(),
            Some(&b"new pair"[..])
        );
        assert_eq!(open_grace(&other, "session-1", &sealed), None);
        assert_eq!(open_grace(&old, "session-2", &sealed), None);
    }
}
