//! Named bounds of the persistence layer.

use std::time::Duration;

/// How long SQLite waits on a locked database before failing a statement.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// WAL frames (pages, 4 KiB each) after which the ledger writer restarts the log: a passive
/// checkpoint alone never lets it start over while readers and the writer never pause, and
/// the file grew by about 115 MB/s at saturation (2.2 GB after a 40 s bench).
pub const SQLITE_WAL_RESTART_FRAMES_MAX: i64 = 4_096;
/// The size the WAL file is cut back to when the log restarts (`journal_size_limit`), in
/// bytes: a file kept at its working size is overwritten in place rather than extended (and
/// zeroed by the file system) again.
pub const SQLITE_WAL_FILE_BYTES_MAX: i64 = 64 * 1024 * 1024;
/// Connections in the SQLite pool (readers; WAL allows them beside one writer).
pub const SQLITE_POOL_CONNECTIONS_MAX: u32 = 8;
/// Connections in the PostgreSQL pool of one instance.
pub const POSTGRES_POOL_CONNECTIONS_MAX: u32 = 16;
/// Prepared statements cached per PostgreSQL connection.
pub const POSTGRES_STATEMENT_CACHE_LEN_MAX: usize = 256;
/// How long a request waits for a free pooled connection before failing.
pub const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the first PostgreSQL connection (TCP, TLS, authentication) may take at start.
pub const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const _: () = assert!(
    SQLITE_POOL_CONNECTIONS_MAX >= 2,
    "WAL readers need at least two connections"
);

/// Entries per page of an account's history.
pub const ENTRIES_PAGE_LEN_MAX: i64 = 200;
/// Security events returned per page.
pub const SECURITY_EVENTS_PAGE_LEN_MAX: i64 = 200;
/// Sessions listed per user.
pub const SESSIONS_LIST_LEN_MAX: i64 = 200;
/// Passkeys one user may register.
pub const PASSKEYS_PER_USER_MAX: i64 = 32;
/// Legacy rows converted per batch at start-up.
pub const LEGACY_BATCH_LEN_MAX: i64 = 500;
/// Data keys rewrapped per batch by `keys rotate-kek`.
pub const REWRAP_BATCH_LEN_MAX: i64 = 500;
/// Matches returned by a blind-index lookup.
pub const BLIND_INDEX_MATCHES_MAX: i64 = 100;
/// Most postings applied in one transaction.
pub const WRITER_BATCH_MAX: usize = 512;
/// Postings that may wait for the writer; beyond this, callers are told to retry (503).
pub const WRITER_QUEUE_MAX: usize = 8_192;
/// Accounts the writer keeps in memory; the cache is dropped and refilled beyond this.
pub const WRITER_CACHE_ACCOUNTS_MAX: usize = 100_000;
/// Batches the PostgreSQL writer sends the general way after its one-round-trip batch found
/// that someone else had written: with two busy instances, most attempts would fail, each
/// costing a round trip and a wait for the other's lock.
pub const WRITER_FAST_PATH_BACKOFF_BATCHES: u32 = 8;
/// Audit records or checkpoints per page (admin API, export, verify).
pub const AUDIT_PAGE_LEN_MAX: i64 = 1_000;
/// Notifications served per outbox page.
pub const OUTBOX_PAGE_LEN_MAX: i64 = 500;
/// Attempts of a role compare-and-set (under concurrent role changes) before giving up.
pub const ROLE_UPDATE_ATTEMPTS_MAX: usize = 5;
/// Hold transactions (`Store::create_hold`, `capture_hold`, `void_hold`, `expire_holds`) that
/// may hold a pooled connection at once; they serialise on the chain-head lock anyway.
pub const HOLD_LANES_MAX: usize = 2;
/// How long a hold transaction waits for a lane before the store answers unavailable.
pub const HOLD_LANE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
