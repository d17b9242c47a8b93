//! Every bound this crate enforces, in one place, with its unit last.

/// Longest code input looked at.
pub const CODE_CHARS_MAX: usize = 32;
/// Longest refresh cookie value accepted before hashing.
pub const REFRESH_TOKEN_CHARS_MAX: usize = 64;
/// Longest access token lifetime the verifier accepts (`exp - iat`).
pub const ACCESS_TOKEN_TTL_SECS_MAX: u64 = 900;
/// Longest bearer token accepted before any parsing.
pub const ACCESS_TOKEN_BYTES_MAX: usize = 4096;
/// Keys kept in the signing-key file.
pub const SIGNING_KEYS_LEN_MAX: usize = 16;
/// RFC 5321 limits.
pub const EMAIL_BYTES_MAX: usize = 254;
pub const EMAIL_LOCAL_PART_BYTES_MAX: usize = 64;
/// Longest password accepted, checked before any hashing.
pub const PASSWORD_CHARS_MAX: usize = 256;
