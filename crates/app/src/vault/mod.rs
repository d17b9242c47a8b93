//! The personal-data vault: envelope encryption of profile fields with a per-record data key,
//! the KEK provider that wraps it, a bounded short-lived cache of unwrapped data keys (keeps
//! KMS calls off the hot path), and the blind index for duplicate detection.
//!
//! Second-factor secrets live here too: each user has a data key ("factors:USER", created on
//! first use) that seals their TOTP secret and keys their recovery-code MACs, so they are under
//! the configured KEK provider like personal data. Secrets sealed before that (under keys
//! derived from the local KEK file) are converted at start-up by `migrate_legacy_factor_secrets`.

pub mod profile;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crypto::{Dek, KekProvider, KmsError, MacKey, WrappedDek};

use crate::error::Error;
use crate::limits::{DEK_CACHE_LEN_MAX, DEK_CACHE_TTL, KEY_SERVICE_RETRY_AFTER_SECS};

pub struct Vault {
    pub provider: KekProvider,
    pub blind_index_key: MacKey,
    cache: Mutex<HashMap<Vec<u8>, (Dek, Instant)>>,
    /// The MAC key of recovery codes issued before per-user keys, while any remain.
    legacy_recovery: std::sync::RwLock<Option<Dek>>,
    clock: crate::Clock,
}

/// The `data_keys` id (and wrap context) of a user's second-factor key.
pub fn factor_key_id(user_id: &str) -> String {
    format!("factors:{user_id}")
}

/// The `data_keys` id of the recovery-code MAC key that used to be derived from the local KEK.
pub const LEGACY_RECOVERY_KEY_ID: &str = "legacy:recovery-code/v1";
/// Purposes under which keys were derived from the local KEK file before per-user keys.
const LEGACY_TOTP_PURPOSE: &str = "strongroom/totp-secret/v1";
const LEGACY_RECOVERY_PURPOSE: &str = "strongroom/recovery-code/v1";
/// Purpose of the recovery-code MAC key derived from a user's factor key.
const RECOVERY_CODE_PURPOSE: &str = "strongroom/recovery-code/v2";

/// Associated data of a sealed TOTP secret: binds it to its user's row.
pub fn totp_aad(user_id: &str) -> String {
    format!("totp_credentials:{user_id}")
}

/// What the start-up conversion of legacy second-factor secrets did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LegacyMigration {
    pub totp_resealed: u64,
    pub totp_failed: u64,
    /// Recovery codes still verified with the moved legacy MAC key.
    pub legacy_recovery_codes: i64,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("provider", &self.provider)
            .finish()
    }
}

/// Why a record could not be opened.
pub fn kms_error(error: KmsError) -> Error {
    match error {
        KmsError::Unavailable | KmsError::Randomness => Error::KeyServiceUnavailable {
            retry_after_secs: KEY_SERVICE_RETRY_AFTER_SECS,
        },
        KmsError::Integrity | KmsError::UnknownKey => Error::DataIntegrity,
    }
}

impl Vault {
    pub fn new(provider: KekProvider, blind_index_key: MacKey, clock: crate::Clock) -> Vault {
        Vault {
            provider,
            blind_index_key,
            cache: Mutex::new(HashMap::new()),
            legacy_recovery: std::sync::RwLock::new(None),
            clock,
        }
    }

    /// The data key that seals `user_id`'s second-factor secrets, created on first use.
    pub async fn factor_key(&self, store: &store::Store, user_id: &str) -> Result<Dek, Error> {
        let id = factor_key_id(user_id);
        if let Some(record) = store.find_data_key(&id).await? {
            return self.unwrap(&wrapped_dek(&record)?, &id).await;
        }
        let dek = Dek::generate().map_err(|_| Error::Internal)?;
        let wrapped = self.wrap(&dek, &id).await?;
        let record = store::DataKeyRecord {
            kek_id: wrapped.kek_id,
            kek_version: i64::from(wrapped.kek_version),
            dek_wrapped: wrapped.bytes,
        };
        if store
            .insert_data_key(&id, &record, self.clock.now_ms())
            .await?
        {
            return Ok(dek);
        }
        // Another request created it first: use theirs.
        let record = store.find_data_key(&id).await?.ok_or(Error::Internal)?;
        self.unwrap(&wrapped_dek(&record)?, &id).await
    }

    /// The MAC a normalised recovery code of `user_id` is stored as.
    pub async fn recovery_code_mac(
        &self,
        store: &store::Store,
        user_id: &str,
        normalised: &str,
    ) -> Result<Vec<u8>, Error> {
        let key = self.factor_key(store, user_id).await?;
        Ok(key
            .mac_key(RECOVERY_CODE_PURPOSE)
            .mac(normalised.as_bytes()))
    }

    /// The MAC under the legacy key, while recovery codes issued before per-user keys remain.
    pub fn legacy_recovery_code_mac(&self, normalised: &str) -> Option<Vec<u8>> {
        let guard = self.legacy_recovery.read().ok()?;
        guard
            .as_ref()
            .map(|key| key.as_mac_key().mac(normalised.as_bytes()))
    }

    pub async fn wrap(&self, dek: &Dek, context: &str) -> Result<WrappedDek, Error> {
        let started = Instant::now();
        let wrapped = self.provider.wrap(dek, context).await;
        kms_observed("wrap", started, wrapped.is_ok());
        wrapped.map_err(kms_error)
    }

    /// The data key of a record, from the cache or the KEK provider.
    pub async fn unwrap(&self, wrapped: &WrappedDek, context: &str) -> Result<Dek, Error> {
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
        let started = Instant::now();
        let dek = self.provider.unwrap(wrapped, context).await;
        kms_observed("unwrap", started, dek.is_ok());
        let dek = dek.map_err(kms_error)?;
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

fn wrapped_dek(record: &store::DataKeyRecord) -> Result<WrappedDek, Error> {
    Ok(WrappedDek {
        kek_id: record.kek_id.clone(),
        kek_version: u32::try_from(record.kek_version).map_err(|_| Error::DataIntegrity)?,
        bytes: record.dek_wrapped.clone(),
    })
}

/// Converts second-factor secrets sealed under keys derived from the local KEK file (before
/// per-user keys) so the configured KEK provider roots them: TOTP secrets are resealed under
/// their user's factor key; the legacy recovery-code MAC key (the codes themselves cannot be
/// re-keyed without their plaintext) is moved under the provider as a data key until no such
/// code is left. Afterwards the local key file's first version roots nothing. Idempotent; run
/// at start-up and before key rotation or retirement.
pub async fn migrate_legacy_factor_secrets(
    store: &store::Store,
    vault: &Vault,
    local_kek_file: &std::path::Path,
) -> Result<LegacyMigration, String> {
    let mut report = LegacyMigration::default();
    let mut local_kek: Option<crypto::LocalKek> = None;
    let load_kek =
        |slot: &mut Option<crypto::LocalKek>| -> Result<(), String> {
            if slot.is_none() {
                *slot = Some(crypto::LocalKek::from_file(local_kek_file).map_err(|error| {
                format!(
                    "second-factor secrets sealed under the local KEK file need {}: {error}",
                    local_kek_file.display()
                )
            })?);
            }
            Ok(())
        };
    let mut failed: Vec<String> = Vec::new();
    loop {
        let rows = store
            .legacy_totp_credentials()
            .await
            .map_err(|error| error.to_string())?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|(user_id, _, _)| !failed.contains(user_id))
            .collect();
        if rows.is_empty() {
            break;
        }
        // Without the key file these rows cannot be converted: they are reported (and block
        // `keys retire-kek`), and the server still starts.
        let sealing = match load_kek(&mut local_kek).and_then(|()| {
            local_kek
                .as_ref()
                .ok_or_else(|| "no local KEK".to_owned())?
                .sealing_key(LEGACY_TOTP_PURPOSE)
                .map_err(|error| error.to_string())
        }) {
            Ok(sealing) => sealing,
            Err(reason) => {
                tracing::error!(%reason, rows = rows.len(), "legacy TOTP secrets cannot be converted");
                report.totp_failed = report
                    .totp_failed
                    .saturating_add(u64::try_from(rows.len()).unwrap_or(u64::MAX));
                failed.extend(rows.into_iter().map(|(user_id, _, _)| user_id));
                continue;
            }
        };
        for (user_id, secret, pending) in rows {
            let aad = totp_aad(&user_id);
            let key = vault
                .factor_key(store, &user_id)
                .await
                .map_err(|error| format!("the key service refused a factor key: {}", error))?;
            // A field may already be under the user's key (a pending secret written by a new
            // instance beside a legacy one): keep it; otherwise open it the old way and reseal.
            let reseal = |sealed: &Option<Vec<u8>>| -> Result<Option<Vec<u8>>, ()> {
                sealed
                    .as_deref()
                    .map(|sealed| {
                        if key.open(&aad, sealed).is_ok() {
                            return Ok(sealed.to_vec());
                        }
                        let plaintext = sealing.open(&aad, sealed).map_err(|_| ())?;
                        key.seal(&aad, &plaintext).map_err(|_| ())
                    })
                    .transpose()
            };
            match (reseal(&secret), reseal(&pending)) {
                (Ok(new_secret), Ok(new_pending)) => {
                    store
                        .reseal_totp(
                            &user_id,
                            (secret.as_deref(), pending.as_deref()),
                            (new_secret.as_deref(), new_pending.as_deref()),
                        )
                        .await
                        .map_err(|error| error.to_string())?;
                    report.totp_resealed = report.totp_resealed.saturating_add(1);
                }
                _ => {
                    tracing::error!(
                        user_id,
                        "a legacy TOTP secret failed authentication; left as it was"
                    );
                    report.totp_failed = report.totp_failed.saturating_add(1);
                    failed.push(user_id);
                }
            }
        }
    }
    report.legacy_recovery_codes = store
        .legacy_recovery_codes()
        .await
        .map_err(|error| error.to_string())?;
    let moved = store
        .find_data_key(LEGACY_RECOVERY_KEY_ID)
        .await
        .map_err(|error| error.to_string())?;
    let legacy_key = match (report.legacy_recovery_codes > 0, moved) {
        (false, moved) => {
            if moved.is_some() {
                store
                    .delete_data_key(LEGACY_RECOVERY_KEY_ID)
                    .await
                    .map_err(|error| error.to_string())?;
            }
            None
        }
        (true, Some(record)) => Some(
            vault
                .unwrap(
                    &wrapped_dek(&record).map_err(|_| "a stored data key is malformed")?,
                    LEGACY_RECOVERY_KEY_ID,
                )
                .await
                .map_err(|error| {
                    format!("the legacy recovery-code key cannot be opened: {}", error)
                })?,
        ),
        (true, None) => {
            load_kek(&mut local_kek)?;
            let key = local_kek
                .as_ref()
                .ok_or("no local KEK")?
                .derived_key(LEGACY_RECOVERY_PURPOSE)
                .map_err(|error| error.to_string())?;
            let wrapped = vault
                .wrap(&key, LEGACY_RECOVERY_KEY_ID)
                .await
                .map_err(|error| format!("the key service refused to wrap: {}", error))?;
            let record = store::DataKeyRecord {
                kek_id: wrapped.kek_id,
                kek_version: i64::from(wrapped.kek_version),
                dek_wrapped: wrapped.bytes,
            };
            store
                .insert_data_key(LEGACY_RECOVERY_KEY_ID, &record, vault.clock.now_ms())
                .await
                .map_err(|error| error.to_string())?;
            Some(key)
        }
    };
    if let Ok(mut slot) = vault.legacy_recovery.write() {
        *slot = legacy_key;
    }
    Ok(report)
}

/// A KEK provider call in the metrics: its latency, and whether it failed.
fn kms_observed(operation: &'static str, started: Instant, ok: bool) {
    metrics::histogram!("strongroom_kms_request_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    if !ok {
        metrics::counter!("strongroom_kms_errors_total", "operation" => operation).increment(1);
    }
}
