//! Every bound this crate enforces, in one place, with its unit last.

/// Versions kept in a local key file.
pub const LOCAL_KEK_VERSIONS_MAX: usize = 64;
/// Largest plaintext sealed in one call.
pub const SEALED_PLAINTEXT_BYTES_MAX: usize = 64 * 1024;
/// Largest Transit response read.
pub const TRANSIT_RESPONSE_BYTES_MAX: usize = 64 * 1024;
/// A sealed grace answer larger than this is refused.
pub const GRACE_PLAINTEXT_BYTES_MAX: usize = 8192;
/// Largest audit key file read (a PKCS#8 Ed25519 document is about 85 bytes).
pub const AUDIT_KEY_FILE_BYTES_MAX: u64 = 4096;
