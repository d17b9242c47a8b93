//! Least privilege on PostgreSQL: migrations run as the owner of the schema
//! (`database.migrate_url`); the server runs as a runtime role (`database.url`) that may read
//! and write what serving needs but can never change or delete journal entries, transfers,
//! audit records or checkpoints, and — not owning any table — cannot alter, disable or drop
//! anything (triggers included). `grant_runtime` states those privileges after every
//! migration; `is_current` lets a runtime-role server refuse a schema it cannot migrate.

use sqlx::AssertSqlSafe;

use crate::{Pool, Store, StoreError};

/// Tables the runtime role may only read and append to.
pub const APPEND_ONLY_TABLES: &[&str] = &[
    "entries",
    "transfers",
    "audit_log",
    "audit_checkpoints",
    "ledger_events",
];

/// True when `name` is a plain lower-case PostgreSQL role name (so it can be written into a
/// GRANT, which takes no parameters).
pub fn is_plain_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Store {
    /// The role this store's connections act as.
    pub async fn current_role(&self) -> Result<String, StoreError> {
        match &self.pool {
            Pool::Postgres(pool) => Ok(sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(pool)
                .await?),
            Pool::Sqlite(_) => Err(StoreError::Invariant("roles exist only on PostgreSQL")),
        }
    }

    /// True when every migration of this build is applied (and nothing unknown is).
    pub async fn is_current(&self) -> Result<bool, StoreError> {
        let query = "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version";
        let (applied, known): (Vec<i64>, Vec<i64>) = match &self.pool {
            Pool::Sqlite(pool) => (
                sqlx::query_scalar(query).fetch_all(pool).await?,
                crate::SQLITE_MIGRATOR.iter().map(|m| m.version).collect(),
            ),
            Pool::Postgres(pool) => (
                sqlx::query_scalar(query).fetch_all(pool).await?,
                crate::POSTGRES_MIGRATOR.iter().map(|m| m.version).collect(),
            ),
        };
        Ok(applied == known)
    }

    /// Run as the schema owner after migrating: `role` may read and write every table, except
    /// that it may only read and insert into `APPEND_ONLY_TABLES`, only read the migration
    /// history, and create nothing.
    pub async fn grant_runtime(&self, role: &str) -> Result<(), StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Err(StoreError::Invariant("roles exist only on PostgreSQL"));
        };
        if !is_plain_role_name(role) {
            return Err(StoreError::Invariant(
                "the runtime role name is not a plain name",
            ));
        }
        let owner: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(pool)
            .await?;
        if owner == role {
            return Err(StoreError::Invariant(
                "database.url and database.migrate_url name the same role",
            ));
        }
        let append_only = APPEND_ONLY_TABLES.join(", ");
        let statements = [
            format!("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}"),
            format!("GRANT USAGE ON SCHEMA public TO {role}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ),
            format!("REVOKE UPDATE, DELETE, TRUNCATE ON {append_only} FROM {role}"),
            format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM {role}"),
            format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        ];
        let mut tx = pool.begin().await?;
        for statement in statements {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
