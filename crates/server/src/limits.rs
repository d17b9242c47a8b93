//! Every bound this crate enforces, in one place, with its unit last.

/// Largest secret file read for a `file:` reference.
pub const SECRET_FILE_BYTES_MAX: u64 = 64 * 1024;
/// Configured service principals and their scopes.
pub const SERVICES_LEN_MAX: usize = 256;
pub const SCOPES_PER_SERVICE_MAX: usize = 64;
/// Longest, and default, lifetime of a client certificate (`pki issue-client --days`).
pub const CLIENT_CERT_VALIDITY_DAYS_MAX: i64 = 365;
/// Longest service principal name.
pub const SERVICE_NAME_LEN_MAX: usize = 64;
/// Largest CRL file read (roughly 200,000 entries).
pub const CRL_FILE_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// Entries `pki revoke-client` keeps in one CRL (well under `CRL_FILE_BYTES_MAX`).
pub const CRL_ENTRIES_MAX: usize = 100_000;
/// Bytes of PEM one entry needs at most (a 20-octet serial, a time, DER framing, base64).
pub const CRL_ENTRY_PEM_BYTES_MAX: u64 = 64;
/// RFC 5280 §5.2.3: CRL numbers are at most 20 octets.
pub const CRL_NUMBER_BYTES_MAX: usize = 20;
/// Open connections per listener; further connections are closed at once.
pub const CONNECTIONS_PER_LISTENER_MAX: usize = 4096;
/// Bytes hyper buffers for one HTTP/1 request head.
pub const HTTP1_HEADER_BUFFER_BYTES_MAX: usize = 64 * 1024;
/// Concurrent HTTP/2 streams per connection.
pub const HTTP2_STREAMS_PER_CONNECTION_MAX: u32 = 128;
/// HTTP/2 header list size.
pub const HTTP2_HEADER_LIST_BYTES_MAX: u32 = 64 * 1024;
/// Keys kept after a rotation: the newest signs, older ones still verify. The oldest is
/// dropped beyond this (its tokens expired long ago if rotations are minutes apart).
pub const SIGNING_KEYS_KEPT_MAX: usize = identity::tokens::SIGNING_KEYS_LEN_MAX;
/// Accepted token audiences (`server.audiences`), and the longest one.
pub const AUDIENCES_LEN_MAX: usize = 8;
pub const AUDIENCE_CHARS_MAX: usize = 128;
/// `server.ops_token`: long enough not to be guessed, short enough for a header.
pub const OPS_TOKEN_CHARS_MIN: usize = 32;
pub const OPS_TOKEN_CHARS_MAX: usize = 512;
/// Largest `[rate_limits]` rate and burst a class may be given.
pub const RATE_LIMIT_PER_MINUTE_MAX: u32 = 6_000_000;
pub const RATE_LIMIT_BURST_MAX: u32 = 1_000_000;
/// Longest `audit.checkpoint_secs`: a checkpoint at least every hour.
pub const AUDIT_CHECKPOINT_SECS_MAX: u64 = 3_600;
/// The largest anchor file `audit verify --anchor` reads (one is about 500 bytes).
pub const ANCHOR_FILE_BYTES_MAX: u64 = 16 * 1024;
/// Retired audit keys read from `audit.ed25519.retired` (one rotation a day for 27 years).
pub const RETIRED_AUDIT_KEYS_MAX: usize = 10_000;
/// The largest backup header (manifest and wrapped key; one is under 2 KiB).
pub const BACKUP_HEADER_BYTES_MAX: usize = 64 * 1024;
/// The largest sealed chunk a backup may hold: one plaintext chunk, its nonce and its tag.
pub const BACKUP_SEALED_CHUNK_BYTES_MAX: usize = 64 * 1024 + 64;
