//! Every bound the use cases enforce, in one place, with its unit last.

use std::time::Duration;

/// Longest display name, in characters.
pub const DISPLAY_NAME_CHARS_MAX: usize = 100;
/// User-Agent characters kept with a session or event.
pub const USER_AGENT_CHARS_MAX: usize = 256;
/// Longest opaque id (session, account, transfer, ceremony) accepted from a client.
pub const ID_CHARS_MAX: usize = 64;
/// Longest passkey credential id accepted from a client.
pub const PASSKEY_ID_CHARS_MAX: usize = 512;
/// Longest passkey name, in characters.
pub const PASSKEY_NAME_CHARS_MAX: usize = 64;
/// Items per page unless `limit` says otherwise (docs/api.md), and the most a page may hold.
pub const PAGE_LEN_DEFAULT: i64 = 50;
pub const PAGE_LEN_MAX: i64 = 200;
/// Longest pagination cursor.
pub const CURSOR_CHARS_MAX: usize = 64;
/// Longest email text used as a throttle key when it does not parse.
pub const ACCOUNT_KEY_CHARS_MAX: usize = 256;

/// A concurrent refresh presenting the token rotated less than this ago gets the same pair
/// (from the same client only).
pub const REFRESH_GRACE_MS: i64 = 10_000;
/// Lifetime of the ticket between the password step and the second factor.
pub const MFA_TICKET_TTL_MS: i64 = 5 * 60 * 1000;
/// Codes checked per ticket.
pub const MFA_TICKET_ATTEMPTS_MAX: i64 = 5;
/// How long a pending TOTP secret may be confirmed, by the session that asked for it, and
/// how many codes it survives.
pub const PENDING_TOTP_TTL_MS: i64 = 10 * 60 * 1000;
pub const PENDING_TOTP_ATTEMPTS_MAX: i64 = 5;
/// How long a started WebAuthn ceremony may be finished.
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
/// Step-up freshness for revealing the national id (docs/api.md: 5 minutes).
pub const REVEAL_MAX_AGE_SECS: u64 = 300;

/// Unwrapped data keys kept in memory, and for how long.
pub const DEK_CACHE_LEN_MAX: usize = 10_000;
pub const DEK_CACHE_TTL: Duration = Duration::from_secs(60);
/// `Retry-After` when the key service is down.
pub const KEY_SERVICE_RETRY_AFTER_SECS: u32 = 5;
/// `Retry-After` when the ledger writer is busy or the store is down.
pub const WRITER_BUSY_RETRY_AFTER_SECS: u32 = 1;

/// `Idempotency-Key`: 1–255 visible ASCII characters (docs/api.md).
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
pub const MEMO_CHARS_MAX: usize = 140;
/// Postings in one service batch (`POST /internal/v1/transfers/batch`).
pub const BATCH_POSTINGS_MAX: usize = 8_000;
/// Batches validated or posted at once on an instance; more get 503 with `Retry-After`.
pub const BATCHES_RUNNING_MAX: usize = 2;
pub const EXTERNAL_REF_CHARS_MAX: usize = 128;

pub const LEGAL_NAME_CHARS_MAX: usize = 200;
pub const NATIONAL_ID_CHARS_MAX: usize = 64;
pub const ADDRESS_LINE_CHARS_MAX: usize = 200;
pub const CITY_CHARS_MAX: usize = 100;
pub const POSTAL_CODE_CHARS_MAX: usize = 20;

const _: () = assert!(
    REFRESH_GRACE_MS <= 10_000,
    "docs/api.md: a grace of at most 10 seconds"
);
const _: () = assert!(PAGE_LEN_DEFAULT <= PAGE_LEN_MAX);

/// Hashes waiting per running slot before new ones are refused.
pub const ARGON2_QUEUE_PER_SLOT_MAX: usize = 4;
/// Argon2 places only sign-ins from a device known to the account may take.
pub const ARGON2_PRIORITY_SLOTS_MAX: usize = 2;
/// Sessions kept in memory; beyond this, expired entries are dropped first and lookups fall
/// back to the store.
pub const SESSION_TABLE_LEN_MAX: usize = 1_000_000;
/// Most verified tokens remembered; beyond it, expired ones are dropped, then all.
pub const VERIFIED_TOKENS_MAX: usize = 10_000;
/// The longest an attempt over the user-wide ceiling is held back before it is checked.
pub const OTP_USER_DELAY_MAX: Duration = Duration::from_secs(3);
/// Networks remembered per user as having completed a second factor, and users remembered.
pub const KNOWN_NETWORKS_PER_USER_MAX: usize = 8;
pub const KNOWN_NETWORK_USERS_MAX: usize = 100_000;
/// Users whose last location and quarantine flag one instance caches.
pub const PROTECTION_CACHE_USERS_MAX: usize = 100_000;
/// How long a cached location or quarantine flag is trusted before the store is asked again.
pub const PROTECTION_RECHECK_MS: i64 = 15_000;
/// A user's stored location is refreshed at most this often while they stay in one place.
pub const SIGHTING_REFRESH_MS: i64 = 60_000;
/// Characters of a city name kept from the GeoIP database.
pub const GEO_CITY_CHARS_MAX: usize = 100;
/// Longest `__Host-strongroom_device` value looked at.
pub const DEVICE_COOKIE_CHARS_MAX: usize = 128;
/// Devices (and browser, system, country kinds) are remembered this long after their last
/// sign-in.
pub const DEVICE_MEMORY_MS: i64 = 400 * 24 * 60 * 60 * 1_000;
/// A sign-in from a browser, system and country not seen for this long is a new device.
pub const NEW_DEVICE_AFTER_MS: i64 = 90 * 24 * 60 * 60 * 1_000;
/// How long a sign-in over the account-wide login ceiling waits for its turn before 429.
pub const LOGIN_ACCOUNT_DELAY_MAX: Duration = Duration::from_secs(3);
/// Invalidations waiting to be sent to other instances; beyond it they are dropped (the
/// store poll is the backstop).
pub const INVALIDATION_QUEUE_LEN_MAX: usize = 10_000;
/// Longest session or user id accepted in an invalidation message.
pub const INVALIDATION_ID_CHARS_MAX: usize = 64;
/// Rows one invalidation poll reads; more means "forget every cached session".
pub const INVALIDATION_POLL_ROWS_MAX: i64 = 1_000;
/// Longest a Redis command (or connection attempt) may take before the instance decides
/// locally.
pub const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// "Redis unreachable" is logged at most this often.
pub const REDIS_WARN_INTERVAL: Duration = Duration::from_secs(60);
/// An instance counts toward the shares this long after its last heartbeat.
pub const REDIS_INSTANCE_TTL_MS: u64 = 10_000;
/// Longest rate-limit key sent to Redis.
pub const REDIS_KEY_CHARS_MAX: usize = 128;
/// Places in the ledger writer's queue one caller (user or service) may hold at once: an
/// eighth, so a flood from one leaves room for everyone else.
pub const WRITER_QUEUE_PER_CALLER_MAX: usize = store::WRITER_QUEUE_MAX / 8;
/// Account owners remembered for the source check in front of the writer.
pub const ACCOUNT_OWNERS_CACHED_MAX: usize = 100_000;
/// A four-eyes approval expires this long after it was requested (docs/api.md: 24 hours).
pub const APPROVAL_TTL_MS: i64 = 24 * 60 * 60 * 1_000;
/// Audit records or approvals per admin page.
pub const ADMIN_PAGE_LEN_MAX: i64 = 200;

/// Items of each list (sessions, security events, entries of one account) in a data export;
/// a longer history is cut there and the export says `truncated: true`.
pub const EXPORT_ITEMS_MAX: usize = 100_000;
/// Accounts of one user in a data export (one per currency, so far below this).
pub const EXPORT_ACCOUNTS_MAX: usize = 1_000;
/// Data exports built at once (each may hold up to `EXPORT_ITEMS_MAX` items per list in
/// memory); more answer 503 with `Retry-After`.
pub const EXPORTS_CONCURRENT_MAX: usize = 2;
/// Entries one account statement may hold; a longer period answers 422 (ask for a shorter one).
pub const STATEMENT_ENTRIES_MAX: i64 = 10_000;
/// Ledger events one page of `GET /internal/v1/events` may hold.
pub const EVENTS_PAGE_LEN_MAX: i64 = 1_000;
/// The longest a hold may reserve money before it expires (30 days, a card network's longest
/// authorisation).
pub const HOLD_EXPIRES_IN_SECS_MAX: i64 = 30 * 24 * 60 * 60;
/// Holds closed as expired per transaction of the expiry sweep (each takes four statements
/// under the chain lock, so a large backlog is worked off in short transactions).
pub const HOLD_EXPIRY_BATCH_MAX: i64 = 100;
/// Characters of an operator account's name.
pub const OPERATOR_NAME_CHARS_MAX: usize = 64;
