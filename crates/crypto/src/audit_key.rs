//! The audit key: an Ed25519 key, separate from the token-signing key, that signs checkpoints
//! of the audit and ledger heads. The file holds the PKCS#8 document (mode 0600); only the
//! public key and signatures leave this module. Its id is the first 16 hex digits of the
//! SHA-256 of the public key, so a checkpoint names the key that signed it.

use std::path::Path;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::limits::AUDIT_KEY_FILE_BYTES_MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuditKeyError {
    #[error("the audit key file cannot be read")]
    Unreadable,
    #[error("the audit key file is not an Ed25519 PKCS#8 key")]
    Malformed,
    #[error("the audit key file cannot be written")]
    Unwritable,
    #[error("no system randomness")]
    Randomness,
}

/// The audit signing key. Never `Debug`-printed.
pub struct AuditKey {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The id of an Ed25519 public key: 16 hex digits of its SHA-256.
pub fn audit_key_id(public_key: &[u8]) -> String {
    digest(&SHA256, public_key)
        .as_ref()
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// True when `signature` is the Ed25519 signature of `message` under `public_key`.
pub fn verify_audit_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

impl AuditKey {
    /// Writes a new key at `path` (mode 0600 from its creation), replacing any file there.
    pub fn generate_file(path: &Path) -> Result<(), AuditKeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let document =
            Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| AuditKeyError::Randomness)?;
        if path.exists() {
            std::fs::remove_file(path).map_err(|_| AuditKeyError::Unwritable)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|_| AuditKeyError::Unwritable)?;
        file.write_all(document.as_ref())
            .and_then(|()| file.sync_all())
            .map_err(|_| AuditKeyError::Unwritable)
    }

    pub fn from_file(path: &Path) -> Result<AuditKey, AuditKeyError> {
        let metadata = std::fs::metadata(path).map_err(|_| AuditKeyError::Unreadable)?;
        if metadata.len() > AUDIT_KEY_FILE_BYTES_MAX {
            return Err(AuditKeyError::Malformed);
        }
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|_| AuditKeyError::Unreadable)?);
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&bytes)
            .map_err(|_| AuditKeyError::Malformed)?;
        let key_id = audit_key_id(pair.public_key().as_ref());
        Ok(AuditKey { pair, key_id })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}
