//! The identity domain, pure and synchronous (no IO, no async runtime): normalising emails,
//! the password policy and Argon2id hashing, EdDSA access tokens, and the opaque refresh
//! secrets of session families. Callers run the slow parts (Argon2) off their executor.

pub mod email;
pub mod limits;
pub mod password;
pub mod refresh;
pub mod tokens;
pub mod totp;

pub use email::{Email, EmailError};
pub use password::{PasswordError, PasswordHasher};
pub use tokens::{AccessClaims, Acr, SigningKeys, TokenError};
