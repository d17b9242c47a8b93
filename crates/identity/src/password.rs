//! The password policy (NIST SP 800-63B) and Argon2id hashing with PHC strings.
//!
//! Parameters: Argon2id, m = 19 MiB, t = 2, p = 1 — OWASP's first recommended configuration.
//! Measured here at ~49 ms per hash; with the hashing pool bounded to the core count that is
//! ~40 hashes/s on two cores, which together with the login throttles keeps a login flood from
//! starving money movement. Stronger settings (64 MiB, t = 3: ~250 ms) would make the pool
//! itself the denial-of-service lever. Hashes made with other parameters are re-computed on
//! the next successful login.

pub use crate::limits::PASSWORD_CHARS_MAX;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// NIST 800-63B: at least 12 characters.
pub const PASSWORD_CHARS_MIN: usize = 12;
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_PARALLELISM: u32 = 1;
/// zxcvbn score (0–4) a password must reach.
const STRENGTH_SCORE_MIN: u8 = 3;

const _: () = assert!(ARGON2_MEMORY_KIB >= 19 * 1024 && ARGON2_ITERATIONS >= 2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password is shorter than {PASSWORD_CHARS_MIN} characters")]
    TooShort,
    #[error("password is longer than {PASSWORD_CHARS_MAX} characters")]
    TooLong,
    #[error("password is common or easy to guess")]
    Weak,
    #[error("password hashing failed")]
    Hashing,
}

/// Length only: cheap, and run before anything else touches the password.
pub fn check_length(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars > PASSWORD_CHARS_MAX {
        Err(PasswordError::TooLong)
    } else if chars < PASSWORD_CHARS_MIN {
        Err(PasswordError::TooShort)
    } else {
        Ok(())
    }
}

/// Length, then strength against common passwords and the user's own details.
pub fn check_policy(password: &str, user_inputs: &[&str]) -> Result<(), PasswordError> {
    check_length(password)?;
    let score = u8::from(zxcvbn::zxcvbn(password, user_inputs).score());
    if score < STRENGTH_SCORE_MIN {
        Err(PasswordError::Weak)
    } else {
        Ok(())
    }
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Valid { needs_rehash: bool },
    Invalid,
}

/// Argon2id with the policy's parameters, and a dummy hash so that an unknown account costs
/// the same time as a wrong password.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new() -> Result<PasswordHasher, PasswordError> {
        let params = Params::new(
            ARGON2_MEMORY_KIB,
            ARGON2_ITERATIONS,
            ARGON2_PARALLELISM,
            None,
        )
        .map_err(|_| PasswordError::Hashing)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut random = [0_u8; 32];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| PasswordError::Hashing)?;
        let dummy_hash = argon2
            .hash_password(&random)
            .map_err(|_| PasswordError::Hashing)?
            .to_string();
        Ok(PasswordHasher { argon2, dummy_hash })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a fresh random salt.
    pub fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        check_length(password.expose_secret())?;
        self.argon2
            .hash_password(password.expose_secret().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|_| PasswordError::Hashing)
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account, so
    /// both cases take the same time and answer `Invalid`.
    pub fn verify(&self, password: &SecretString, stored: Option<&str>) -> Verification {
        let candidate = stored.unwrap_or(&self.dummy_hash);
        let Ok(parsed) = PasswordHash::new(candidate) else {
            return Verification::Invalid;
        };
        let matches = self
            .argon2
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        if !matches || stored.is_none() {
            return Verification::Invalid;
        }
        Verification::Valid {
            needs_rehash: !self.is_current(&parsed),
        }
    }

    fn is_current(&self, hash: &PasswordHash) -> bool {
        let current = self.argon2.params();
        hash.algorithm.as_str() == "argon2id"
            && Params::try_from(hash).is_ok_and(|params| {
                params.m_cost() == current.m_cost()
                    && params.t_cost() == current.t_cost()
                    && params.p_cost() == current.p_cost()
            })
    }
}

#[cfg(test)]
mod tests;
