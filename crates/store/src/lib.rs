//! The persistence boundary: SQLite (embedded default) and PostgreSQL behind one `Store`.
//!
//! Every SQL statement of Strongroom lives in this crate and is parameterized. Backend
//! differences stay inside; callers see one API whichever database `database.url` names.

mod admin;
mod audit;
mod cluster;
mod events;
mod history;
mod identity;
mod ledger;
mod lifecycle;
mod limits;
mod mfa;
mod postgres;
mod privileges;
mod profiles;
mod protection;
mod statement;
mod webauthn;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use admin::*;
pub use audit::*;
pub use cluster::*;
pub use events::*;
pub use history::*;
pub use identity::*;
pub use ledger::*;
pub use lifecycle::*;
pub use limits::*;
pub use mfa::*;
pub use postgres::{ConnectCause, ConnectFailure, PostgresTls};
pub use privileges::*;
pub use profiles::*;
pub use protection::*;
pub use statement::*;
pub use webauthn::*;
pub use writer::*;

/// Runs the same statement-building expression against whichever pool the store holds, so
/// each query is written once for both backends (both accept `$N` placeholders).
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Which database engine a `Store` talks to; shown in logs and health output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the data lives, already resolved: a SQLite file, or a PostgreSQL connection string
/// (which may hold a password, hence secret) with its TLS settings.
pub enum DatabaseLocation {
    SqliteFile(PathBuf),
    Postgres { url: SecretString, tls: PostgresTls },
}

impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseLocation::SqliteFile(path) => f.debug_tuple("SqliteFile").field(path).finish(),
            DatabaseLocation::Postgres { tls, .. } => f
                .debug_struct("Postgres")
                .field("url", &"[redacted]")
                .field("tls", tls)
                .finish(),
        }
    }
}

impl DatabaseLocation {
    /// Parses `database.url`. A relative SQLite path is resolved against `base_dir` (the
    /// directory of the configuration file).
    pub fn parse(url: &SecretString, base_dir: &Path) -> Result<Self, StoreError> {
        let raw = url.expose_secret();
        if let Some(rest) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if rest.is_empty() || rest.contains('?') || rest.starts_with(":memory:") {
                return Err(StoreError::InvalidUrl(
                    "sqlite URL must name a database file, without options",
                ));
            }
            let path = Path::new(rest);
            let path = if path.is_absolute() {
                path.to_path_buf()
            } else {
                base_dir.join(path)
            };
            return Ok(DatabaseLocation::SqliteFile(path));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseLocation::Postgres {
                url: url.clone(),
                tls: PostgresTls::default(),
            });
        }
        Err(StoreError::InvalidUrl(
            "database.url must start with sqlite:// or postgres://",
        ))
    }

    /// For PostgreSQL: the libpq parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`)
    /// that make `pg_dump` and `pg_restore` connect as the server does; `None` for SQLite.
    pub fn libpq_parameters(&self) -> Result<Option<Vec<(&'static str, String)>>, StoreError> {
        match self {
            DatabaseLocation::SqliteFile(_) => Ok(None),
            DatabaseLocation::Postgres { url, tls } => {
                postgres::libpq_parameters(url, tls).map(Some)
            }
        }
    }

    /// A PostgreSQL location with `tls` applied, refused when it would reach another host
    /// without a verified certificate (see `PostgresTls::allow_plaintext`). SQLite: unchanged.
    pub fn with_postgres_tls(self, tls: PostgresTls) -> Result<Self, StoreError> {
        match self {
            DatabaseLocation::SqliteFile(path) => Ok(DatabaseLocation::SqliteFile(path)),
            DatabaseLocation::Postgres { url, .. } => {
                postgres::options(&url, &tls)?;
                Ok(DatabaseLocation::Postgres { url, tls })
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(&'static str),
    #[error("cannot create the database directory: {0}")]
    CreateDirectory(std::io::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error(transparent)]
    Unreachable(#[from] ConnectFailure),
    #[error("{0}")]
    Transport(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("ledger invariant violated: {0}")]
    Invariant(&'static str),
}

impl StoreError {
    /// The configuration is at fault (a transport the rules refuse, a certificate not accepted,
    /// a role the database refuses), not the database's availability: exit 2 rather than 1.
    pub fn is_configuration(&self) -> bool {
        match self {
            StoreError::Transport(_) => true,
            StoreError::Unreachable(failure) => failure.cause.is_configuration(),
            _ => false,
        }
    }

    /// The database could not be reached (as opposed to a query that failed on it).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect(_) | StoreError::Unreachable(_) => true,
            StoreError::Query(error) => matches!(
                error,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            ),
            _ => false,
        }
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle to the database; cheap to clone (pools inside).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Set by `checkpoint_wal` when the SQLite log should start over; the ledger writer does
    /// it between two batches (`Store::restart_wal`).
    wal_restart: Arc<AtomicBool>,
    /// Hold transactions that may wait for the chain-head lock at once (`HOLD_LANES_MAX`):
    /// each waits on a pooled connection, which must not run out for everything else.
    hold_lanes: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens a pool. SQLite runs in WAL mode with `synchronous=FULL`, foreign keys on and a
    /// busy timeout; the file and its directory are created when missing.
    pub async fn connect(location: &DatabaseLocation) -> Result<Self, StoreError> {
        match location {
            DatabaseLocation::SqliteFile(path) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(StoreError::CreateDirectory)?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    // Deleted content (shredded keys, revoked secrets) is overwritten, not left
                    // in free pages.
                    .pragma("secure_delete", "ON")
                    // Statement journals (each multi-row write keeps one, to undo itself alone)
                    // and other temporary data stay in memory: no temporary file written and
                    // read back on every ledger batch, and nothing of it left on disk.
                    .pragma("temp_store", "MEMORY")
                    .pragma("journal_size_limit", SQLITE_WAL_FILE_BYTES_MAX.to_string());
                let pool = SqlitePoolOptions::new()
                    .max_connections(SQLITE_POOL_CONNECTIONS_MAX)
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(StoreError::Connect)?;
                Ok(Store {
                    pool: Pool::Sqlite(pool),
                    wal_restart: Arc::default(),
                    hold_lanes: Arc::new(tokio::sync::Semaphore::new(HOLD_LANES_MAX)),
                })
            }
            DatabaseLocation::Postgres { url, tls } => {
                let options = postgres::options(url, tls)?
                    .application_name("strongroom")
                    .statement_cache_capacity(POSTGRES_STATEMENT_CACHE_LEN_MAX);
                postgres::probe(&options).await?;
                let pool = PgPoolOptions::new()
                    .max_connections(POSTGRES_POOL_CONNECTIONS_MAX)
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options);
                Ok(Store {
                    pool: Pool::Postgres(pool),
                    wal_restart: Arc::default(),
                    hold_lanes: Arc::new(tokio::sync::Semaphore::new(HOLD_LANES_MAX)),
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every pending migration of this backend, in version order. Safe to run from
    /// several instances at once on PostgreSQL (the migrator takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// The highest applied migration version, or `None` on an empty database.
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        const QUERY: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE";
        let version: Option<i64> = match &self.pool {
            Pool::Sqlite(pool) => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
            Pool::Postgres(pool) => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
        };
        Ok(version)
    }

    /// Readiness: a round trip to the database that also proves the schema is in place.
    pub async fn ping(&self) -> Result<(), StoreError> {
        const QUERY: &str = "SELECT value FROM strongroom_meta WHERE key = $1";
        let _family: Option<String> = match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_scalar(QUERY)
                    .bind("schema_family")
                    .fetch_optional(pool)
                    .await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_scalar(QUERY)
                    .bind("schema_family")
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(())
    }

    /// SQLite: copies committed WAL frames into the database file without blocking writers
    /// (`PASSIVE`), so the ledger writer never pays for the copy inside its commit. When the
    /// log holds more than `SQLITE_WAL_RESTART_FRAMES_MAX` frames, it asks the ledger writer
    /// to start the log over before its next batch (`restart_wal`): while readers and the
    /// writer never pause, a passive checkpoint alone never lets it, and the file grows for as
    /// long as the load lasts. Returns the frames the log held. PostgreSQL: nothing to do.
    pub async fn checkpoint_wal(&self) -> Result<i64, StoreError> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Ok(0);
        };
        // (busy, frames in the log, frames copied)
        let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(pool)
            .await?;
        if frames > SQLITE_WAL_RESTART_FRAMES_MAX {
            self.wal_restart.store(true, Ordering::Relaxed);
        }
        Ok(frames)
    }

    /// On the writer's connection, between two batches, when `checkpoint_wal` asked for it: a
    /// `RESTART` checkpoint copies the few frames the passive one has not, waits for readers of
    /// older frames (microseconds), and so lets the next commit write the log from its start.
    /// The writer takes the lock itself, so it never backs off behind another connection's
    /// checkpoint.
    pub(crate) async fn restart_wal(
        &self,
        connection: &mut sqlx::SqliteConnection,
    ) -> Result<(), StoreError> {
        if self.wal_restart.swap(false, Ordering::Relaxed) {
            sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                .execute(connection)
                .await?;
        }
        Ok(())
    }

    /// Waits for in-flight queries and closes every connection (graceful shutdown).
    /// SQLite: writes a transactionally consistent copy of the whole database to `path`
    /// (which must not exist) while the server reads and writes (`VACUUM INTO`, SQLite's
    /// online copy: one read transaction, never a copy of live files). PostgreSQL: an error.
    pub async fn snapshot_into(&self, path: &str) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query("VACUUM INTO $1")
                    .bind(path)
                    .execute(pool)
                    .await?;
                Ok(())
            }
            Pool::Postgres(_) => Err(StoreError::Invariant(
                "snapshots of PostgreSQL are taken with pg_dump",
            )),
        }
    }

    /// Connections of the pool: (open, idle).
    pub fn pool_connections(&self) -> (u32, usize) {
        match &self.pool {
            Pool::Sqlite(pool) => (pool.size(), pool.num_idle()),
            Pool::Postgres(pool) => (pool.size(), pool.num_idle()),
        }
    }

    /// How many tables the database has in its default schema (0: an empty database).
    pub async fn table_count(&self) -> Result<i64, StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            )
            .fetch_one(pool)
            .await?),
            Pool::Postgres(pool) => Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_one(pool)
            .await?),
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests;
