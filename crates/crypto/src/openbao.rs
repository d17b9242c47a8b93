//! OpenBao / HashiCorp Vault Transit as the KEK provider: data keys are wrapped with
//! `transit/encrypt` and unwrapped with `transit/decrypt`, with associated data binding each
//! wrapped key to its record; the KEK never leaves the server. Unreachable, slow or refusing
//! servers are `KmsError::Unavailable` (callers fail closed and retry later); a wrapped key
//! that fails authentication is `KmsError::Integrity`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::KmsError;
use crate::envelope::{Dek, WrappedDek};
use crate::limits::TRANSIT_RESPONSE_BYTES_MAX;

/// Whole-request timeout of one Transit call.
pub const TRANSIT_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
pub const TRANSIT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct OpenBaoTransit {
    client: reqwest::Client,
    addr: String,
    token: SecretString,
    key_name: String,
}

impl OpenBaoTransit {
    pub fn new(
        addr: &str,
        token: SecretString,
        key_name: &str,
    ) -> Result<OpenBaoTransit, KmsError> {
        let client = reqwest::Client::builder()
            .timeout(TRANSIT_REQUEST_TIMEOUT)
            .connect_timeout(TRANSIT_CONNECT_TIMEOUT)
            .build()
            .map_err(|_| KmsError::Unavailable)?;
        Ok(OpenBaoTransit {
            client,
            addr: addr.trim_end_matches('/').to_owned(),
            token,
            key_name: key_name.to_owned(),
        })
    }

    pub fn kek_id(&self) -> String {
        format!("openbao:{}", self.key_name)
    }

    async fn call(&self, path: &str, body: Option<Value>) -> Result<(u16, Value), KmsError> {
        let url = format!("{}/v1/transit/{path}", self.addr);
        let request = match body {
            Some(body) => self.client.post(url).json(&body),
            None => self.client.get(url),
        };
        let response = request
            .header("X-Vault-Token", self.token.expose_secret())
            .send()
            .await
            .map_err(|_| KmsError::Unavailable)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|_| KmsError::Unavailable)?;
        if bytes.len() > TRANSIT_RESPONSE_BYTES_MAX {
            return Err(KmsError::Unavailable);
        }
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| KmsError::Unavailable)?
        };
        Ok((status, value))
    }

    pub async fn wrap(&self, dek: &Dek, context: &str) -> Result<WrappedDek, KmsError> {
        let body = json!({
            "plaintext": STANDARD.encode(dek.expose_bytes()),
            "associated_data": STANDARD.encode(context.as_bytes()),
        });
        let (status, value) = self
            .call(&format!("encrypt/{}", self.key_name), Some(body))
            .await?;
        if status != 200 {
            return Err(KmsError::Unavailable);
        }
        let ciphertext = data_field(&value, "ciphertext")
            .as_str()
            .ok_or(KmsError::Unavailable)?;
        Ok(WrappedDek {
            kek_id: self.kek_id(),
            kek_version: version_of(ciphertext)?,
            bytes: ciphertext.as_bytes().to_vec(),
        })
    }

    pub async fn unwrap(&self, wrapped: &WrappedDek, context: &str) -> Result<Dek, KmsError> {
        if wrapped.kek_id != self.kek_id() {
            return Err(KmsError::UnknownKey);
        }
        let ciphertext = std::str::from_utf8(&wrapped.bytes).map_err(|_| KmsError::Integrity)?;
        if version_of(ciphertext)? != wrapped.kek_version {
            return Err(KmsError::Integrity);
        }
        let body = json!({
            "ciphertext": ciphertext,
            "associated_data": STANDARD.encode(context.as_bytes()),
        });
        let (status, value) = self
            .call(&format!("decrypt/{}", self.key_name), Some(body))
            .await?;
        match status {
            200 => {
                let plaintext = data_field(&value, "plaintext")
                    .as_str()
                    .ok_or(KmsError::Integrity)?;
                let bytes = zeroize::Zeroizing::new(
                    STANDARD
                        .decode(plaintext)
                        .map_err(|_| KmsError::Integrity)?,
                );
                Dek::from_bytes(&bytes).map_err(|_| KmsError::Integrity)
            }
            // Transit answers 400 for ciphertext that fails authentication or is malformed.
            400 => Err(KmsError::Integrity),
            _ => Err(KmsError::Unavailable),
        }
    }

    /// The latest version of the Transit key.
    pub async fn current_version(&self) -> Result<u32, KmsError> {
        let (status, value) = self.call(&format!("keys/{}", self.key_name), None).await?;
        if status != 200 {
            return Err(KmsError::Unavailable);
        }
        data_field(&value, "latest_version")
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(KmsError::Unavailable)
    }

    /// Makes a new key version current (`transit/keys/NAME/rotate`).
    pub async fn rotate(&self) -> Result<u32, KmsError> {
        let (status, _) = self
            .call(&format!("keys/{}/rotate", self.key_name), Some(json!({})))
            .await?;
        if !(200..300).contains(&status) {
            return Err(KmsError::Unavailable);
        }
        self.current_version().await
    }
}

impl OpenBaoTransit {
    /// Moves the Transit key's `min_decryption_version` past `version` and trims the key ring
    /// to it: that version and every older one are gone and can no longer decrypt.
    pub async fn retire(&self, version: u32) -> Result<(), crate::RetireError> {
        let (status, value) = self
            .call(&format!("keys/{}", self.key_name), None)
            .await
            .map_err(crate::RetireError::Kms)?;
        if status != 200 {
            return Err(crate::RetireError::Kms(KmsError::Unavailable));
        }
        let minimum = data_field(&value, "min_decryption_version")
            .as_u64()
            .unwrap_or(1);
        let next = u64::from(version).saturating_add(1);
        if next <= minimum {
            return Err(crate::RetireError::UnknownVersion);
        }
        let latest = data_field(&value, "latest_version")
            .as_u64()
            .ok_or(crate::RetireError::Kms(KmsError::Unavailable))?;
        // New data keys are wrapped with the latest version anyway; pinning it as the minimum
        // for encryption is what lets Transit trim older versions.
        let (status, _) = self
            .call(
                &format!("keys/{}/config", self.key_name),
                Some(json!({"min_decryption_version": next, "min_encryption_version": latest})),
            )
            .await
            .map_err(crate::RetireError::Kms)?;
        if !(200..300).contains(&status) {
            return Err(crate::RetireError::Kms(KmsError::Unavailable));
        }
        // Then trim: the retired versions leave the key ring, so lowering the minimum again
        // cannot bring them back.
        let (status, _) = self
            .call(
                &format!("keys/{}/trim", self.key_name),
                Some(json!({"min_available_version": next})),
            )
            .await
            .map_err(crate::RetireError::Kms)?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(crate::RetireError::Kms(KmsError::Unavailable))
        }
    }
}

/// `data.FIELD` of a Transit response (absent when the response has another shape).
fn data_field<'v>(value: &'v Value, field: &str) -> &'v Value {
    value
        .get("data")
        .and_then(|data| data.get(field))
        .unwrap_or(&Value::Null)
}

/// `vault:v3:...` → 3.
fn version_of(ciphertext: &str) -> Result<u32, KmsError> {
    let mut parts = ciphertext.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("vault"), Some(version), Some(_)) => version
            .strip_prefix('v')
            .and_then(|v| v.parse().ok())
            .ok_or(KmsError::Integrity),
        _ => Err(KmsError::Integrity),
    }
}
