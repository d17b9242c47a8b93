//! Key material: the local key-encryption key (KEK) from `strongroom init`, and keys derived
//! from it for one purpose each (HMAC-SHA-256 as the KDF, the purpose label as context), so
//! a key used to seal TOTP secrets can never open anything else.
//!
//! Sealing is AES-256-GCM with a random 96-bit nonce and associated data that binds the
//! ciphertext to where it is stored (table, record, field): moved elsewhere, it fails to open.
//! Envelope encryption with per-record data keys and external KEK providers (OpenBao,
//! PKCS#11) builds on this crate.

pub mod audit_key;
pub mod envelope;
pub mod grace;
pub mod limits;
pub mod openbao;
pub mod pkcs11;
pub mod provider;

use std::path::Path;

pub use audit_key::{AuditKey, AuditKeyError, audit_key_id, verify_audit_signature};
pub use envelope::{Dek, WrappedDek};
pub use provider::{KekProvider, LocalKeyring};

pub use crate::limits::SEALED_PLAINTEXT_BYTES_MAX;
use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::hmac;
use zeroize::Zeroizing;

/// Bytes of the local KEK file.
pub const LOCAL_KEK_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// The key service cannot be reached or refused to work; retry later.
    #[error("the key service is unavailable")]
    Unavailable,
    /// A wrapped key failed authentication: tampered or wrapped under another context.
    #[error("a wrapped key failed authentication")]
    Integrity,
    #[error("the wrapped key names an unknown KEK or version")]
    UnknownKey,
    #[error("no system randomness")]
    Randomness,
}

/// Why a KEK version could not be retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetireError {
    #[error("the current KEK version wraps new data keys and cannot be retired")]
    CurrentVersion,
    #[error("no such KEK version")]
    UnknownVersion,
    #[error("{0}")]
    Kms(KmsError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the key file cannot be read or is not {LOCAL_KEK_BYTES} bytes")]
    BadKeyFile,
    #[error("no system randomness")]
    Randomness,
    #[error("plaintext too large")]
    TooLarge,
    /// Wrong key, wrong associated data, or tampered ciphertext.
    #[error("ciphertext failed authentication")]
    Integrity,
}

/// The local KEK. Never `Debug`-printed, zeroized on drop.
pub struct LocalKek {
    bytes: Zeroizing<[u8; LOCAL_KEK_BYTES]>,
}

impl std::fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKek([redacted])")
    }
}

impl LocalKek {
    pub fn from_file(path: &Path) -> Result<LocalKek, CryptoError> {
        // The first version of the key file; later versions (after `keys rotate-kek`) only
        // wrap data keys, so keys derived here stay stable across rotations.
        let raw = Zeroizing::new(std::fs::read(path).map_err(|_| CryptoError::BadKeyFile)?);
        if raw.is_empty() || raw.len() % LOCAL_KEK_BYTES != 0 {
            return Err(CryptoError::BadKeyFile);
        }
        let bytes: [u8; LOCAL_KEK_BYTES] = raw
            .get(..LOCAL_KEK_BYTES)
            .and_then(|first| first.try_into().ok())
            .ok_or(CryptoError::BadKeyFile)?;
        // A retired first version (all zeros) derives nothing.
        if bytes.iter().all(|byte| *byte == 0) {
            return Err(CryptoError::BadKeyFile);
        }
        Ok(LocalKek {
            bytes: Zeroizing::new(bytes),
        })
    }

    fn derive(&self, purpose: &str) -> Zeroizing<Vec<u8>> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.bytes.as_slice());
        Zeroizing::new(hmac::sign(&key, purpose.as_bytes()).as_ref().to_vec())
    }

    /// The bytes of the key derived for `purpose`, as a data key: lets keys that were derived
    /// from the local KEK file be moved under the configured KEK provider (wrapped like any
    /// data key), after which the file no longer roots them.
    pub fn derived_key(&self, purpose: &str) -> Result<Dek, CryptoError> {
        Dek::from_bytes(&self.derive(purpose))
    }

    /// An AEAD key for one purpose.
    pub fn sealing_key(&self, purpose: &str) -> Result<SealingKey, CryptoError> {
        let derived = self.derive(purpose);
        let key = UnboundKey::new(&AES_256_GCM, &derived).map_err(|_| CryptoError::BadKeyFile)?;
        Ok(SealingKey {
            key: LessSafeKey::new(key),
        })
    }

    /// A MAC key for one purpose (e.g. hashing recovery codes so a database dump alone cannot
    /// be brute-forced offline).
    pub fn mac_key(&self, purpose: &str) -> MacKey {
        MacKey::new(&self.derive(purpose))
    }
}

pub struct SealingKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

impl SealingKey {
    /// nonce || ciphertext || tag.
    pub fn seal(&self, associated_data: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        envelope::seal_with(&self.key, associated_data, plaintext)
    }

    pub fn open(
        &self,
        associated_data: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        envelope::open_with(&self.key, associated_data, sealed)
    }
}

/// Writes a new random 32-byte key file at `path`, mode 0600 from its creation, replacing any
/// file there (`strongroom init --force`). Key bytes never leave this crate.
pub fn generate_key_file(path: &Path) -> Result<(), CryptoError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = Zeroizing::new([0_u8; LOCAL_KEK_BYTES]);
    aws_lc_rs::rand::fill(bytes.as_mut_slice()).map_err(|_| CryptoError::Randomness)?;
    if path.exists() {
        std::fs::remove_file(path).map_err(|_| CryptoError::BadKeyFile)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|_| CryptoError::BadKeyFile)?;
    file.write_all(bytes.as_slice())
        .and_then(|()| file.sync_all())
        .map_err(|_| CryptoError::BadKeyFile)
}

pub struct MacKey {
    key: hmac::Key,
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

/// Whether two secrets are equal, in time that depends on neither their contents nor their
/// lengths (their SHA-256 digests are compared in constant time).
pub fn secrets_equal(presented: &[u8], expected: &[u8]) -> bool {
    use aws_lc_rs::digest::{SHA256, digest};
    aws_lc_rs::constant_time::verify_slices_are_equal(
        digest(&SHA256, presented).as_ref(),
        digest(&SHA256, expected).as_ref(),
    )
    .is_ok()
}

impl MacKey {
    pub(crate) fn new(key_bytes: &[u8]) -> MacKey {
        MacKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, key_bytes),
        }
    }

    pub fn mac(&self, message: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, message).as_ref().to_vec()
    }

    /// True when `tag` is this key's MAC of `message` (constant-time).
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.key, message, tag).is_ok()
    }
}

#[cfg(test)]
mod tests;
