//! Named bounds of the persistence layer.

use std::time::Duration;

/// How long SQLite waits on a locked database before failing a statement.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the SQLite pool (readers; WAL allows them beside one writer).
pub const SQLITE_POOL_CONNECTIONS_MAX: u32 = 8;
/// Connections in the PostgreSQL pool of one instance.
pub const POSTGRES_POOL_CONNECTIONS_MAX: u32 = 16;
/// Prepared statements cached per PostgreSQL connection.
pub const POSTGRES_STATEMENT_CACHE_LEN_MAX: usize = 256;
/// How long a request waits for a free pooled connection before failing.
pub const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

const _: () = assert!(
    SQLITE_POOL_CONNECTIONS_MAX >= 2,
    "WAL readers need at least two connections"
);
