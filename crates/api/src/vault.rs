//! The personal-data vault: envelope encryption of profile fields with a per-record data key,
//! the KEK provider that wraps it, a bounded short-lived cache of unwrapped data keys (keeps
//! KMS calls off the hot path), and the blind index for duplicate detection.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crypto::{Dek, KekProvider, KmsError, MacKey, WrappedDek};

use crate::error::ApiError;

/// Unwrapped data keys kept in memory.
pub const DEK_CACHE_LEN_MAX: usize = 10_000;
/// How long an unwrapped data key stays cached.
pub const DEK_CACHE_TTL: Duration = Duration::from_secs(60);
/// `Retry-After` when the key service is down.
pub const KEY_SERVICE_RETRY_AFTER_SECS: u32 = 5;

pub struct Vault {
    pub provider: KekProvider,
    pub blind_index_key: MacKey,
    cache: Mutex<HashMap<Vec<u8>, (Dek, Instant)>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("provider", &self.provider)
            .finish()
    }
}

/// Why a record could not be opened.
pub fn kms_error(error: KmsError) -> ApiError {
    match error {
        KmsError::Unavailable | KmsError::Randomness => ApiError::KeyServiceUnavailable {
            retry_after_secs: KEY_SERVICE_RETRY_AFTER_SECS,
        },
        KmsError::Integrity | KmsError::UnknownKey => ApiError::DataIntegrity,
    }
}

impl Vault {
    pub fn new(provider: KekProvider, blind_index_key: MacKey) -> Vault {
        Vault {
            provider,
            blind_index_key,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn wrap(&self, dek: &Dek, context: &str) -> Result<WrappedDek, ApiError> {
        self.provider.wrap(dek, context).await.map_err(kms_error)
    }

    /// The data key of a record, from the cache or the KEK provider.
    pub async fn unwrap(&self, wrapped: &WrappedDek, context: &str) -> Result<Dek, ApiError> {
        let cache_key = [context.as_bytes(), b"\0", &wrapped.bytes].concat();
        let cached = self.cache.lock().ok().and_then(|cache| {
            cache
                .get(&cache_key)
                .filter(|(_, at)| at.elapsed() < DEK_CACHE_TTL)
                .map(|(dek, _)| dek.clone())
        });
        if let Some(dek) = cached {
            return Ok(dek);
        }
        let dek = self
            .provider
            .unwrap(wrapped, context)
            .await
            .map_err(kms_error)?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= DEK_CACHE_LEN_MAX {
                cache.retain(|_, (_, at)| at.elapsed() < DEK_CACHE_TTL);
                if cache.len() >= DEK_CACHE_LEN_MAX {
                    cache.clear();
                }
            }
            cache.insert(cache_key, (dek.clone(), Instant::now()));
        }
        Ok(dek)
    }

    /// Forgets every cached data key of a record (after crypto-shredding).
    pub fn forget(&self, context: &str) {
        let prefix = [context.as_bytes(), b"\0"].concat();
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|key, _| !key.starts_with(&prefix));
        }
    }

    /// HMAC-SHA-256 of a normalised national id under the blind-index key.
    pub fn blind_index(&self, national_id: &str) -> Vec<u8> {
        self.blind_index_key
            .mac(normalise_national_id(national_id).as_bytes())
    }
}

/// Upper case, separators and spaces removed: "ab 12-34" and "AB1234" are one identity.
pub fn normalise_national_id(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}
