//! Envelope encryption: a fresh 256-bit data key (DEK) per record seals its fields with
//! AES-256-GCM; the DEK is stored only wrapped by a key-encryption key (KEK) from a provider,
//! together with the KEK id and version. Field associated data names table, record and field,
//! so a ciphertext copied to another row or column fails to open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Bytes of a data key.
pub const DEK_BYTES: usize = 32;

/// A data key in memory; zeroized on drop, never printed.
#[derive(Clone)]
pub struct Dek(Zeroizing<[u8; DEK_BYTES]>);

impl std::fmt::Debug for Dek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dek([redacted])")
    }
}

impl Dek {
    pub fn generate() -> Result<Dek, CryptoError> {
        let mut bytes = Zeroizing::new([0_u8; DEK_BYTES]);
        aws_lc_rs::rand::fill(bytes.as_mut_slice()).map_err(|_| CryptoError::Randomness)?;
        Ok(Dek(bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Dek, CryptoError> {
        let array: [u8; DEK_BYTES] = bytes.try_into().map_err(|_| CryptoError::Integrity)?;
        Ok(Dek(Zeroizing::new(array)))
    }

    pub fn expose_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    fn key(&self) -> Result<LessSafeKey, CryptoError> {
        let key =
            UnboundKey::new(&AES_256_GCM, self.0.as_slice()).map_err(|_| CryptoError::Integrity)?;
        Ok(LessSafeKey::new(key))
    }

    /// A MAC key derived from this data key for one purpose (HMAC-SHA-256 as the KDF), e.g.
    /// the key a user's recovery codes are stored under.
    pub fn mac_key(&self, purpose: &str) -> crate::MacKey {
        let derivation = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.0.as_slice());
        let derived = Zeroizing::new(
            aws_lc_rs::hmac::sign(&derivation, purpose.as_bytes())
                .as_ref()
                .to_vec(),
        );
        crate::MacKey::new(&derived)
    }

    /// This key's bytes used directly as an HMAC-SHA-256 key (for a MAC key that was moved
    /// under a KEK provider as a data key).
    pub fn as_mac_key(&self) -> crate::MacKey {
        crate::MacKey::new(self.0.as_slice())
    }

    /// nonce || ciphertext || tag, bound to `associated_data`.
    pub fn seal(&self, associated_data: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal_with(&self.key()?, associated_data, plaintext)
    }

    pub fn open(
        &self,
        associated_data: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        open_with(&self.key()?, associated_data, sealed)
    }
}

pub(crate) fn seal_with(
    key: &LessSafeKey,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() > crate::SEALED_PLAINTEXT_BYTES_MAX {
        return Err(CryptoError::TooLarge);
    }
    let mut nonce = [0_u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::Randomness)?;
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(associated_data.as_bytes()),
        &mut in_out,
    )
    .map_err(|_| CryptoError::Integrity)?;
    let mut sealed = nonce.to_vec();
    sealed.extend(in_out);
    Ok(sealed)
}

pub(crate) fn open_with(
    key: &LessSafeKey,
    associated_data: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let nonce: [u8; NONCE_LEN] = sealed
        .get(..NONCE_LEN)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(CryptoError::Integrity)?;
    let mut in_out = Zeroizing::new(
        sealed
            .get(NONCE_LEN..)
            .ok_or(CryptoError::Integrity)?
            .to_vec(),
    );
    let plaintext = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated_data.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| CryptoError::Integrity)?;
    Ok(Zeroizing::new(plaintext.to_vec()))
}

/// A DEK as stored: wrapped by KEK `kek_id` at `kek_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDek {
    pub kek_id: String,
    pub kek_version: u32,
    pub bytes: Vec<u8>,
}
