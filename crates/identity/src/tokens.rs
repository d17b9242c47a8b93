//! Access tokens: JWTs after RFC 9068, signed with Ed25519 (`alg: EdDSA`, `typ: at+jwt`,
//! `kid`). Verification pins the algorithm, type, key id, issuer, audience and lifetime and
//! rejects everything else; the session behind `sid` is checked by the caller.
//!
//! The signing-key file holds one or more PKCS#8 PEM Ed25519 keys: the last one signs, all of
//! them verify (so `keys rotate-signing` appends a key and old tokens verify until they expire).

pub use crate::limits::{ACCESS_TOKEN_BYTES_MAX, ACCESS_TOKEN_TTL_SECS_MAX, SIGNING_KEYS_LEN_MAX};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

pub const TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub const TOKEN_LEEWAY_SECS: u64 = 5;
const KID_CHARS: usize = 16;

/// How the subject authenticated (RFC 9470 `acr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Acr {
    Pwd,
    Mfa,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
    pub auth_time: u64,
    pub acr: Acr,
    pub amr: Vec<String>,
    pub roles: Vec<String>,
}

impl AccessClaims {
    /// The time claims hold at `now`: issued (within the leeway) and not expired, a lifetime
    /// of at most `ACCESS_TOKEN_TTL_SECS_MAX`, authenticated no later than issued.
    pub fn is_current(&self, now: u64) -> bool {
        self.exp
            .checked_sub(self.iat)
            .is_some_and(|lifetime| lifetime <= ACCESS_TOKEN_TTL_SECS_MAX)
            && self.iat <= now.saturating_add(TOKEN_LEEWAY_SECS)
            && self.exp.saturating_add(TOKEN_LEEWAY_SECS) > now
            && self.auth_time <= self.iat
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the signing key file holds no usable Ed25519 key")]
    NoSigningKey,
    #[error("too many signing keys")]
    TooManySigningKeys,
    #[error("no token audience is configured")]
    NoAudience,
    #[error("signing failed")]
    Signing,
    #[error("the token is invalid")]
    Invalid,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_x: String,
}

/// Every configured signing key; the last one signs.
pub struct SigningKeys {
    keys: Vec<SigningKey>,
    issuer: String,
    /// Accepted `aud` values; the first is the one new tokens carry.
    audiences: Vec<String>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|key| key.kid.as_str()).collect();
        f.debug_struct("SigningKeys").field("kids", &kids).finish()
    }
}

impl SigningKeys {
    pub fn from_pem_bundle(
        pem: &[u8],
        issuer: &str,
        audiences: &[String],
    ) -> Result<Self, TokenError> {
        if audiences.is_empty() {
            return Err(TokenError::NoAudience);
        }
        let mut keys = Vec::new();
        for der in PrivatePkcs8KeyDer::pem_slice_iter(pem) {
            let der = der.map_err(|_| TokenError::NoSigningKey)?;
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
                .map_err(|_| TokenError::NoSigningKey)?;
            let public = pair.public_key().as_ref().to_vec();
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &public);
            let kid: String = URL_SAFE_NO_PAD
                .encode(digest.as_ref())
                .chars()
                .take(KID_CHARS)
                .collect();
            keys.push(SigningKey {
                kid,
                encoding: EncodingKey::from_ed_der(der.secret_pkcs8_der()),
                decoding: DecodingKey::from_ed_der(&public),
                public_x: URL_SAFE_NO_PAD.encode(&public),
            });
            if keys.len() > SIGNING_KEYS_LEN_MAX {
                return Err(TokenError::TooManySigningKeys);
            }
        }
        if keys.is_empty() {
            return Err(TokenError::NoSigningKey);
        }
        Ok(SigningKeys {
            keys,
            issuer: issuer.to_owned(),
            audiences: audiences.to_vec(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience new tokens carry (the first configured).
    pub fn audience(&self) -> &str {
        self.audiences.first().map_or("", String::as_str)
    }

    /// Every key id, oldest first (the last one signs).
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|key| key.kid.as_str()).collect()
    }

    /// Key id of the key that signs new tokens.
    pub fn active_kid(&self) -> Option<&str> {
        self.keys.last().map(|key| key.kid.as_str())
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let key = self.keys.last().ok_or(TokenError::NoSigningKey)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|_| TokenError::Signing)
    }

    /// Verifies signature, header and claims at time `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: u64) -> Result<AccessClaims, TokenError> {
        if token.len() > ACCESS_TOKEN_BYTES_MAX {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let header_ok = header.alg == Algorithm::EdDSA
            && header.typ.as_deref() == Some(TOKEN_TYPE)
            && header.jku.is_none()
            && header.jwk.is_none()
            && header.x5u.is_none()
            && header.crit.is_none();
        if !header_ok {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.leeway = TOKEN_LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if !claims.is_current(now) {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": key.kid, "x": key.public_x,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}
