//! The two migration sets describe one schema (same tables, columns, nullability, primary
//! keys and foreign keys), and on both the journal is immutable.

use std::collections::BTreeSet;

use secrecy::SecretString;
use sqlx::{Connection, PgConnection, SqliteConnection};
use store::{DatabaseLocation, Store};
use test_support::PgCluster;

/// `table.column nullable? pk?` lines, and `table.column -> table` foreign keys.
type Shape = (BTreeSet<String>, BTreeSet<String>);

async fn sqlite_shape(connection: &mut SqliteConnection) -> Shape {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let (mut columns, mut keys) = (BTreeSet::new(), BTreeSet::new());
    for table in tables {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT name, \"notnull\", pk FROM pragma_table_info($1)")
                .bind(&table)
                .fetch_all(&mut *connection)
                .await
                .unwrap();
        for (column, not_null, pk) in rows {
            // A SQLite primary-key column is NOT NULL in spirit; PostgreSQL says so.
            let not_null = not_null == 1 || pk > 0;
            columns.insert(format!(
                "{table}.{column} not_null={not_null} pk={}",
                pk > 0
            ));
        }
        let references: Vec<(String, String)> =
            sqlx::query_as("SELECT \"from\", \"table\" FROM pragma_foreign_key_list($1)")
                .bind(&table)
                .fetch_all(&mut *connection)
                .await
                .unwrap();
        for (column, target) in references {
            keys.insert(format!("{table}.{column} -> {target}"));
        }
    }
    (columns, keys)
}

async fn postgres_shape(connection: &mut PgConnection) -> Shape {
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.is_nullable::text, \
         EXISTS (SELECT 1 FROM information_schema.table_constraints t \
           JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name \
           AND k.table_name = t.table_name \
           WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_name = c.table_name \
           AND k.column_name = c.column_name) \
         FROM information_schema.columns c WHERE c.table_schema = 'public' \
         AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let columns = rows
        .into_iter()
        .map(|(table, column, nullable, pk)| {
            format!("{table}.{column} not_null={} pk={pk}", nullable == "NO")
        })
        .collect();
    let references: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT k.table_name::text, k.column_name::text, u.table_name::text \
         FROM information_schema.referential_constraints r \
         JOIN information_schema.key_column_usage k ON k.constraint_name = r.constraint_name \
         JOIN information_schema.constraint_table_usage u ON u.constraint_name = r.constraint_name \
         WHERE k.table_schema = 'public'",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let keys = references
        .into_iter()
        .map(|(table, column, target)| format!("{table}.{column} -> {target}"))
        .collect();
    (columns, keys)
}

#[tokio::test]
async fn both_migration_sets_describe_one_schema_and_the_journal_is_immutable_on_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let cluster = PgCluster::start();
    let url = cluster.create_database("schema");
    for location in [
        DatabaseLocation::SqliteFile(path.clone()),
        DatabaseLocation::parse(&SecretString::from(url.clone()), dir.path()).unwrap(),
    ] {
        let store = Store::connect(&location).await.unwrap();
        store.migrate().await.unwrap();
        store
            .ensure_settlement_accounts(&["EUR".into()], 1)
            .await
            .unwrap();
        store.close().await;
    }
    let mut sqlite = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut postgres = PgConnection::connect(&url).await.unwrap();
    let (sqlite_columns, sqlite_keys) = sqlite_shape(&mut sqlite).await;
    let (postgres_columns, postgres_keys) = postgres_shape(&mut postgres).await;
    assert!(
        sqlite_columns.len() > 50,
        "{} columns",
        sqlite_columns.len()
    );
    assert!(sqlite_keys.len() > 5, "{} foreign keys", sqlite_keys.len());
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.difference(b).cloned().collect()
    };
    assert_eq!(
        (
            only(&sqlite_columns, &postgres_columns),
            only(&postgres_columns, &sqlite_columns)
        ),
        (vec![], vec![]),
        "columns only on SQLite / only on PostgreSQL"
    );
    assert_eq!(sqlite_keys, postgres_keys, "foreign keys differ");

    // Transfers are immutable on both: the triggers refuse even the owner (entries have the
    // same triggers; the server's ledger tests tamper with them on both backends).
    let insert_transfer = "INSERT INTO transfers (id, kind, from_account_id, to_account_id, amount, \
        currency, memo, external_ref, initiated_by, created_at) VALUES \
        ('t1', 'deposit', 'settlement-EUR', 'settlement-EUR', 1, 'EUR', NULL, NULL, 'test', 1)";
    sqlx::query(insert_transfer)
        .execute(&mut sqlite)
        .await
        .unwrap();
    sqlx::query(insert_transfer)
        .execute(&mut postgres)
        .await
        .unwrap();
    for statement in ["UPDATE transfers SET amount = 2", "DELETE FROM transfers"] {
        assert!(
            sqlx::query(statement).execute(&mut sqlite).await.is_err(),
            "SQLite: {statement}"
        );
        assert!(
            sqlx::query(statement).execute(&mut postgres).await.is_err(),
            "PostgreSQL: {statement}"
        );
    }
}
