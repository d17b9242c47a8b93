//! The `__Host-strongroom_device` cookie: a random id for a browser that has signed in
//! successfully, MAC'd with a server key so it cannot be forged. It carries no personal data
//! and grants nothing by itself; it lets the login throttles and the Argon2 pool recognise the
//! owner's browser (a device known to the account keeps its own budget), and a sign-in from a
//! new browser is told apart from a known one. A cookie that fails its MAC is ignored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::limits::DEVICE_COOKIE_CHARS_MAX;

/// Name of the cookie (the `__Host-` prefix: Secure, Path=/, no Domain).
pub const DEVICE_COOKIE: &str = "__Host-strongroom_device";
/// Browsers keep it this long (RFC 6265bis caps cookie lifetimes at 400 days).
pub const DEVICE_COOKIE_MAX_AGE_SECS: u64 = 400 * 24 * 60 * 60;
const VERSION: &str = "v1";
const ID_BYTES: usize = 16;

/// Issues and verifies device cookies.
#[derive(Debug)]
pub struct DeviceCookies {
    key: crypto::MacKey,
}

impl DeviceCookies {
    pub fn new(key: crypto::MacKey) -> Self {
        DeviceCookies { key }
    }

    fn tag(&self, id: &str) -> Vec<u8> {
        self.key.mac(format!("{VERSION}.{id}").as_bytes())
    }

    /// A new device id and the cookie value that carries it.
    pub fn issue(&self) -> Option<(String, String)> {
        let mut bytes = [0_u8; ID_BYTES];
        aws_lc_rs::rand::fill(&mut bytes).ok()?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let tag = URL_SAFE_NO_PAD.encode(self.tag(&id));
        Some((id.clone(), format!("{VERSION}.{id}.{tag}")))
    }

    /// The device id of a genuine cookie value; `None` for anything else.
    pub fn verify(&self, value: &str) -> Option<String> {
        if value.len() > DEVICE_COOKIE_CHARS_MAX {
            return None;
        }
        let mut parts = value.split('.');
        let (Some(VERSION), Some(id), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let well_formed = URL_SAFE_NO_PAD
            .decode(id)
            .is_ok_and(|bytes| bytes.len() == ID_BYTES);
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        (well_formed && self.key.verify(format!("{VERSION}.{id}").as_bytes(), &tag))
            .then(|| id.to_owned())
    }
}

#[cfg(test)]
mod tests;
