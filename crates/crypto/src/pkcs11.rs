//! A PKCS#11 HSM as the KEK provider (tests use SoftHSM2). Each KEK version is a
//! non-extractable, sensitive AES-256 key on the token, labelled `key_label` with its version
//! as `CKA_ID`. Data keys are encrypted inside the token with `CKM_AES_GCM` and associated data
//! binding them to their record (SoftHSM cannot wrap with GCM, so this is `C_Encrypt` of the
//! key bytes). Calls run on blocking threads; a broken session is reopened on the next call.

use std::path::Path;
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::{ExposeSecret, SecretString};

use crate::KmsError;
use crate::envelope::{Dek, WrappedDek};

const GCM_IV_BYTES: usize = 12;
const GCM_TAG_BITS: u64 = 128;
const KEK_VALUE_BYTES: u64 = 32;

struct Inner {
    context: Pkcs11,
    slot: Slot,
    pin: SecretString,
    key_label: String,
    session: Mutex<Option<Session>>,
}

#[derive(Clone)]
pub struct Pkcs11Hsm {
    inner: Arc<Inner>,
}

fn unavailable<E>(_: E) -> KmsError {
    KmsError::Unavailable
}

impl Pkcs11Hsm {
    /// Loads the module and finds the token; does not log in yet.
    pub fn open(
        module: &Path,
        token_label: &str,
        pin: SecretString,
        key_label: &str,
    ) -> Result<Pkcs11Hsm, KmsError> {
        let context = Pkcs11::new(module).map_err(unavailable)?;
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(unavailable)?;
        let slot = context
            .get_slots_with_token()
            .map_err(unavailable)?
            .into_iter()
            .find(|slot| {
                context
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label().trim() == token_label)
            })
            .ok_or(KmsError::Unavailable)?;
        let inner = Inner {
            context,
            slot,
            pin,
            key_label: key_label.to_owned(),
            session: Mutex::new(None),
        };
        Ok(Pkcs11Hsm {
            inner: Arc::new(inner),
        })
    }

    pub fn kek_id(&self) -> String {
        format!("pkcs11:{}", self.inner.key_label)
    }

    /// Runs `work` with a logged-in session on a blocking thread.
    async fn with_session<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner, &Session) -> Result<T, KmsError> + Send + 'static,
    ) -> Result<T, KmsError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.session.lock().map_err(unavailable)?;
            if guard.is_none() {
                let session = inner
                    .context
                    .open_rw_session(inner.slot)
                    .map_err(unavailable)?;
                let pin = cryptoki::types::AuthPin::from(inner.pin.expose_secret().to_owned());
                session
                    .login(UserType::User, Some(&pin))
                    .map_err(unavailable)?;
                *guard = Some(session);
            }
            let session = guard.as_ref().ok_or(KmsError::Unavailable)?;
            let result = work(&inner, session);
            if matches!(result, Err(KmsError::Unavailable)) {
                // Reopen on the next call: the token may have been reset or removed.
                *guard = None;
            }
            result
        })
        .await
        .map_err(unavailable)?
    }

    pub async fn wrap(&self, dek: &Dek, context: &str) -> Result<WrappedDek, KmsError> {
        let dek = dek.clone();
        let aad = context.as_bytes().to_vec();
        let kek_id = self.kek_id();
        self.with_session(move |inner, session| {
            let (version, key) = versions(inner, session)?
                .into_iter()
                .max_by_key(|(version, _)| *version)
                .ok_or(KmsError::Unavailable)?;
            let mut iv = [0_u8; GCM_IV_BYTES];
            aws_lc_rs::rand::fill(&mut iv).map_err(|_| KmsError::Randomness)?;
            let mut iv_param = iv;
            let params =
                GcmParams::new(&mut iv_param, &aad, GCM_TAG_BITS.into()).map_err(unavailable)?;
            let sealed = session
                .encrypt(&Mechanism::AesGcm(params), key, dek.expose_bytes())
                .map_err(unavailable)?;
            let mut bytes = iv.to_vec();
            bytes.extend(sealed);
            Ok(WrappedDek {
                kek_id,
                kek_version: version,
                bytes,
            })
        })
        .await
    }

    pub async fn unwrap(&self, wrapped: &WrappedDek, context: &str) -> Result<Dek, KmsError> {
        if wrapped.kek_id != self.kek_id() {
            return Err(KmsError::UnknownKey);
        }
        let wrapped = wrapped.clone();
        let aad = context.as_bytes().to_vec();
        self.with_session(move |inner, session| {
            let versions = versions(inner, session)?;
            // No KEK at all: the token is missing or not the one configured — unavailable,
            // not evidence of tampering.
            if versions.is_empty() {
                return Err(KmsError::Unavailable);
            }
            let key = versions
                .into_iter()
                .find(|(version, _)| *version == wrapped.kek_version)
                .map(|(_, key)| key)
                .ok_or(KmsError::UnknownKey)?;
            let mut iv: [u8; GCM_IV_BYTES] = wrapped
                .bytes
                .get(..GCM_IV_BYTES)
                .and_then(|iv| iv.try_into().ok())
                .ok_or(KmsError::Integrity)?;
            let sealed = wrapped
                .bytes
                .get(GCM_IV_BYTES..)
                .ok_or(KmsError::Integrity)?;
            let params = GcmParams::new(&mut iv, &aad, GCM_TAG_BITS.into()).map_err(unavailable)?;
            // A failed tag check is the only expected decrypt failure on a healthy token.
            let plaintext = zeroize::Zeroizing::new(
                session
                    .decrypt(&Mechanism::AesGcm(params), key, sealed)
                    .map_err(|_| KmsError::Integrity)?,
            );
            Dek::from_bytes(&plaintext).map_err(|_| KmsError::Integrity)
        })
        .await
    }

    pub async fn current_version(&self) -> Result<u32, KmsError> {
        self.with_session(|inner, session| {
            versions(inner, session)?
                .into_iter()
                .map(|(version, _)| version)
                .max()
                .ok_or(KmsError::Unavailable)
        })
        .await
    }

    /// Generates the next KEK version inside the token (non-extractable, sensitive).
    pub async fn rotate(&self) -> Result<u32, KmsError> {
        self.with_session(|inner, session| {
            let next = versions(inner, session)?
                .into_iter()
                .map(|(version, _)| version)
                .max()
                .unwrap_or(0)
                .checked_add(1)
                .ok_or(KmsError::Unavailable)?;
            let template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(KEK_VALUE_BYTES.into()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Label(inner.key_label.as_bytes().to_vec()),
                Attribute::Id(next.to_be_bytes().to_vec()),
            ];
            session
                .generate_key(&Mechanism::AesKeyGen, &template)
                .map_err(unavailable)?;
            Ok(next)
        })
        .await
    }
}

impl Pkcs11Hsm {
    /// Destroys KEK version `version` on the token.
    pub async fn retire(&self, version: u32) -> Result<(), crate::RetireError> {
        let found = self
            .with_session(move |inner, session| {
                let Some((_, handle)) = versions(inner, session)?
                    .into_iter()
                    .find(|(candidate, _)| *candidate == version)
                else {
                    return Ok(false);
                };
                session.destroy_object(handle).map_err(unavailable)?;
                Ok(true)
            })
            .await
            .map_err(crate::RetireError::Kms)?;
        if found {
            Ok(())
        } else {
            Err(crate::RetireError::UnknownVersion)
        }
    }
}

/// Every KEK version on the token: (version from `CKA_ID`, handle).
fn versions(inner: &Inner, session: &Session) -> Result<Vec<(u32, ObjectHandle)>, KmsError> {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Label(inner.key_label.as_bytes().to_vec()),
    ];
    let handles = session.find_objects(&template).map_err(unavailable)?;
    let mut found = Vec::with_capacity(handles.len());
    for handle in handles {
        let attributes = session
            .get_attributes(handle, &[AttributeType::Id])
            .map_err(unavailable)?;
        for attribute in attributes {
            if let Attribute::Id(id) = attribute
                && let Ok(bytes) = <[u8; 4]>::try_from(id.as_slice())
            {
                found.push((u32::from_be_bytes(bytes), handle));
            }
        }
    }
    Ok(found)
}
