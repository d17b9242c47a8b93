//! Key-encryption-key providers behind one interface. `local`: versioned 32-byte keys in the
//! key file (each `keys rotate-kek` appends one). OpenBao/Vault Transit and PKCS#11 providers
//! plug in here as further variants.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use zeroize::Zeroizing;

use crate::envelope::{Dek, WrappedDek, open_with, seal_with};
pub use crate::limits::LOCAL_KEK_VERSIONS_MAX;
use crate::{CryptoError, KmsError, LOCAL_KEK_BYTES, RetireError};

const LOCAL_KEK_ID: &str = "local";

/// The configured KEK provider.
pub enum KekProvider {
    /// Reloaded from its file whenever the file changes (another process rotated it).
    Local(std::sync::RwLock<LocalKeyring>),
    OpenBao(crate::openbao::OpenBaoTransit),
    Pkcs11(crate::pkcs11::Pkcs11Hsm),
}

impl std::fmt::Debug for KekProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KekProvider::Local(_) => f.write_str("Local"),
            KekProvider::OpenBao(transit) => write!(f, "OpenBao({})", transit.kek_id()),
            KekProvider::Pkcs11(hsm) => write!(f, "Pkcs11({})", hsm.kek_id()),
        }
    }
}

impl KekProvider {
    /// Wraps a DEK under the current KEK version; `context` binds it to its record.
    pub fn local(keyring: LocalKeyring) -> KekProvider {
        KekProvider::Local(std::sync::RwLock::new(keyring))
    }

    /// The local keyring, reloaded first if its file changed since it was read.
    fn local_keyring(
        lock: &std::sync::RwLock<LocalKeyring>,
    ) -> Result<std::sync::RwLockReadGuard<'_, LocalKeyring>, KmsError> {
        let stale = lock.read().map_err(|_| KmsError::Unavailable)?.is_stale();
        if stale {
            let mut keyring = lock.write().map_err(|_| KmsError::Unavailable)?;
            let fresh = LocalKeyring::load(&keyring.path).map_err(|_| KmsError::Unavailable)?;
            *keyring = fresh;
        }
        lock.read().map_err(|_| KmsError::Unavailable)
    }

    pub async fn wrap(&self, dek: &Dek, context: &str) -> Result<WrappedDek, KmsError> {
        match self {
            KekProvider::Local(lock) => Self::local_keyring(lock)?.wrap(dek, context),
            KekProvider::OpenBao(transit) => transit.wrap(dek, context).await,
            KekProvider::Pkcs11(hsm) => hsm.wrap(dek, context).await,
        }
    }

    pub async fn unwrap(&self, wrapped: &WrappedDek, context: &str) -> Result<Dek, KmsError> {
        match self {
            KekProvider::Local(lock) => Self::local_keyring(lock)?.unwrap(wrapped, context),
            KekProvider::OpenBao(transit) => transit.unwrap(wrapped, context).await,
            KekProvider::Pkcs11(hsm) => hsm.unwrap(wrapped, context).await,
        }
    }

    /// Makes a new KEK version current; returns it.
    pub async fn rotate(&self) -> Result<u32, KmsError> {
        match self {
            KekProvider::Local(lock) => {
                let mut keyring = lock.write().map_err(|_| KmsError::Unavailable)?;
                keyring.rotate().map_err(|_| KmsError::Unavailable)
            }
            KekProvider::OpenBao(transit) => transit.rotate().await,
            KekProvider::Pkcs11(hsm) => hsm.rotate().await,
        }
    }

    /// Removes KEK version `version` so nothing wrapped by it can be opened again. The caller
    /// checks first that no data key still uses it. Local: the version's bytes in the key file
    /// are overwritten with zeros (later versions keep their numbers). OpenBao: the Transit
    /// key's `min_decryption_version` moves past it and its key ring is trimmed (so every older
    /// version goes too). PKCS#11:
    /// the key object is destroyed on the token.
    pub async fn retire(&self, version: u32) -> Result<(), RetireError> {
        let (_, current) = self.current().await.map_err(RetireError::Kms)?;
        if version >= current {
            return Err(if version == current {
                RetireError::CurrentVersion
            } else {
                RetireError::UnknownVersion
            });
        }
        if version == 0 {
            return Err(RetireError::UnknownVersion);
        }
        match self {
            KekProvider::Local(lock) => {
                let mut keyring = lock
                    .write()
                    .map_err(|_| RetireError::Kms(KmsError::Unavailable))?;
                keyring.retire(version)
            }
            KekProvider::OpenBao(transit) => transit.retire(version).await,
            KekProvider::Pkcs11(hsm) => hsm.retire(version).await,
        }
    }

    /// True when retiring a version also retires every older one (OpenBao Transit).
    pub fn retires_older_versions(&self) -> bool {
        matches!(self, KekProvider::OpenBao(_))
    }

    /// The KEK id and version new data keys are wrapped with.
    pub async fn current(&self) -> Result<(String, u32), KmsError> {
        match self {
            KekProvider::Local(lock) => Ok((
                LOCAL_KEK_ID.to_owned(),
                Self::local_keyring(lock)?.current_version(),
            )),
            KekProvider::OpenBao(transit) => {
                Ok((transit.kek_id(), transit.current_version().await?))
            }
            KekProvider::Pkcs11(hsm) => Ok((hsm.kek_id(), hsm.current_version().await?)),
        }
    }
}

/// All versions of the local KEK, oldest first; a retired version is `None` (all-zero bytes in
/// the file, so later versions keep their numbers).
pub struct LocalKeyring {
    path: PathBuf,
    versions: Vec<Option<LessSafeKey>>,
    /// Size and modification time of the file when read, to notice rotations.
    loaded_stamp: Option<(u64, std::time::SystemTime)>,
}

fn file_stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

fn wrap_context(context: &str) -> String {
    format!("strongroom/dek/v1/{context}")
}

impl LocalKeyring {
    pub fn load(path: &Path) -> Result<LocalKeyring, CryptoError> {
        let raw = Zeroizing::new(std::fs::read(path).map_err(|_| CryptoError::BadKeyFile)?);
        if raw.is_empty()
            || raw.len() % LOCAL_KEK_BYTES != 0
            || raw.len() / LOCAL_KEK_BYTES > LOCAL_KEK_VERSIONS_MAX
        {
            return Err(CryptoError::BadKeyFile);
        }
        let versions = raw
            .chunks(LOCAL_KEK_BYTES)
            .map(|chunk| {
                if chunk.iter().all(|byte| *byte == 0) {
                    return Ok(None);
                }
                UnboundKey::new(&AES_256_GCM, chunk)
                    .map(|key| Some(LessSafeKey::new(key)))
                    .map_err(|_| CryptoError::BadKeyFile)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if versions.last().is_none_or(Option::is_none) {
            return Err(CryptoError::BadKeyFile);
        }
        Ok(LocalKeyring {
            path: path.to_path_buf(),
            versions,
            loaded_stamp: file_stamp(path),
        })
    }

    fn is_stale(&self) -> bool {
        file_stamp(&self.path) != self.loaded_stamp
    }

    pub fn current_version(&self) -> u32 {
        u32::try_from(self.versions.len()).unwrap_or(u32::MAX)
    }

    fn wrap(&self, dek: &Dek, context: &str) -> Result<WrappedDek, KmsError> {
        let key = self
            .versions
            .last()
            .and_then(Option::as_ref)
            .ok_or(KmsError::UnknownKey)?;
        let bytes = seal_with(key, &wrap_context(context), dek.expose_bytes())
            .map_err(|_| KmsError::Randomness)?;
        Ok(WrappedDek {
            kek_id: LOCAL_KEK_ID.to_owned(),
            kek_version: self.current_version(),
            bytes,
        })
    }

    fn unwrap(&self, wrapped: &WrappedDek, context: &str) -> Result<Dek, KmsError> {
        if wrapped.kek_id != LOCAL_KEK_ID {
            return Err(KmsError::UnknownKey);
        }
        let index = usize::try_from(wrapped.kek_version)
            .ok()
            .and_then(|v| v.checked_sub(1))
            .ok_or(KmsError::UnknownKey)?;
        let key = self
            .versions
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(KmsError::UnknownKey)?;
        let plaintext = open_with(key, &wrap_context(context), &wrapped.bytes)
            .map_err(|_| KmsError::Integrity)?;
        Dek::from_bytes(&plaintext).map_err(|_| KmsError::Integrity)
    }

    /// Appends a new random version to the key file (atomically, mode 0600) and returns it.
    pub fn rotate(&mut self) -> Result<u32, CryptoError> {
        if self.versions.len() >= LOCAL_KEK_VERSIONS_MAX {
            return Err(CryptoError::BadKeyFile);
        }
        let mut fresh = Zeroizing::new([0_u8; LOCAL_KEK_BYTES]);
        aws_lc_rs::rand::fill(fresh.as_mut_slice()).map_err(|_| CryptoError::Randomness)?;
        let mut contents =
            Zeroizing::new(std::fs::read(&self.path).map_err(|_| CryptoError::BadKeyFile)?);
        contents.extend_from_slice(fresh.as_slice());
        self.replace_file(&contents)?;
        let key =
            UnboundKey::new(&AES_256_GCM, fresh.as_slice()).map_err(|_| CryptoError::BadKeyFile)?;
        self.versions.push(Some(LessSafeKey::new(key)));
        self.loaded_stamp = file_stamp(&self.path);
        Ok(self.current_version())
    }

    /// Overwrites version `version` with zeros in the key file, in place (the same file, not a
    /// renamed copy, so the old bytes do not survive in an orphaned inode); it can no longer
    /// open anything. Later versions keep their numbers.
    fn retire(&mut self, version: u32) -> Result<(), RetireError> {
        use std::io::{Seek, SeekFrom, Write};
        let index = usize::try_from(version)
            .ok()
            .and_then(|v| v.checked_sub(1))
            .filter(|index| *index < self.versions.len())
            .ok_or(RetireError::UnknownVersion)?;
        let offset = u64::try_from(index.saturating_mul(LOCAL_KEK_BYTES))
            .map_err(|_| RetireError::UnknownVersion)?;
        let unavailable = |_| RetireError::Kms(KmsError::Unavailable);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(unavailable)?;
        file.seek(SeekFrom::Start(offset)).map_err(unavailable)?;
        file.write_all(&[0_u8; LOCAL_KEK_BYTES])
            .map_err(unavailable)?;
        file.sync_all().map_err(unavailable)?;
        if let Some(slot) = self.versions.get_mut(index) {
            *slot = None;
        }
        self.loaded_stamp = file_stamp(&self.path);
        Ok(())
    }

    /// Replaces the key file with `contents`: written 0600 beside it, synced, renamed over.
    fn replace_file(&self, contents: &[u8]) -> Result<(), CryptoError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let staging = self.path.with_extension("rotating");
        let _ = std::fs::remove_file(&staging);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staging)
            .map_err(|_| CryptoError::BadKeyFile)?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|_| CryptoError::BadKeyFile)?;
        std::fs::rename(&staging, &self.path).map_err(|_| CryptoError::BadKeyFile)
    }
}

#[cfg(test)]
mod tests;
