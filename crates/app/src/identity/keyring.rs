//! The token-signing keys in service, re-read from their file while the server runs: after
//! `strongroom keys rotate-signing` every instance signs with the new key (and publishes both
//! in the JWKS) within `SIGNING_KEYS_RELOAD_INTERVAL`; after `keys retire-signing` a retired
//! key's tokens are refused from that moment (the verified-token cache is emptied with it).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use identity::SigningKeys;

/// The keys in service and the file they come from.
pub struct KeyRing {
    /// The keys and their generation (bumped on every reload: a token verified under an
    /// older generation is verified again).
    current: RwLock<(Arc<SigningKeys>, u64)>,
    source: Option<KeySource>,
}

struct KeySource {
    path: PathBuf,
    issuer: String,
    audiences: Vec<String>,
    /// SHA-256 of the file contents last loaded.
    digest: Mutex<Vec<u8>>,
}

impl KeyRing {
    /// Keys loaded from `pem` (the contents of `path`), re-read when the file changes.
    pub fn watched(
        keys: SigningKeys,
        pem: &[u8],
        path: PathBuf,
        issuer: &str,
        audiences: &[String],
    ) -> KeyRing {
        KeyRing {
            current: RwLock::new((Arc::new(keys), 0)),
            source: Some(KeySource {
                path,
                issuer: issuer.to_owned(),
                audiences: audiences.to_vec(),
                digest: Mutex::new(digest(pem)),
            }),
        }
    }

    /// The keys in service now.
    pub fn current(&self) -> Arc<SigningKeys> {
        self.current_with_generation().0
    }

    /// The keys in service now and their generation.
    pub fn current_with_generation(&self) -> (Arc<SigningKeys>, u64) {
        match self.current.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the file when its contents changed. `Some(true)` when a new key set is in
    /// service, `Some(false)` when nothing changed, `None` when the file cannot be read or
    /// holds no usable key (the keys in service stay).
    pub fn reload_if_changed(&self) -> Option<bool> {
        let source = self.source.as_ref()?;
        let pem = match std::fs::read(&source.path) {
            Ok(pem) => pem,
            Err(error) => {
                tracing::error!(%error, path = %source.path.display(), "signing keys cannot be read; keeping the keys in service");
                return None;
            }
        };
        let new_digest = digest(&pem);
        let mut last = source.digest.lock().ok()?;
        if *last == new_digest {
            return Some(false);
        }
        match SigningKeys::from_pem_bundle(&pem, &source.issuer, &source.audiences) {
            Ok(keys) => {
                tracing::info!(
                    kids = ?keys.kids(),
                    active = keys.active_kid().unwrap_or_default(),
                    "signing keys reloaded"
                );
                if let Ok(mut slot) = self.current.write() {
                    let generation = slot.1.wrapping_add(1);
                    *slot = (Arc::new(keys), generation);
                }
                *last = new_digest;
                Some(true)
            }
            Err(error) => {
                tracing::error!(%error, path = %source.path.display(), "signing keys file holds no usable key; keeping the keys in service");
                None
            }
        }
    }
}

fn digest(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}
