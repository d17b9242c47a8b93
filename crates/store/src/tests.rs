//! Unit tests of URL parsing and the SQLite pragmas (PostgreSQL is covered end to end).

use super::*;

fn parse(url: &str) -> Result<DatabaseLocation, StoreError> {
    DatabaseLocation::parse(
        &SecretString::from(url.to_owned()),
        Path::new("/etc/strongroom"),
    )
}

#[test]
fn relative_sqlite_paths_resolve_against_the_config_directory() {
    // An operator's `sqlite://data/x.db` must not depend on the working directory.
    match parse("sqlite://data/x.db").unwrap() {
        DatabaseLocation::SqliteFile(path) => {
            assert_eq!(path, Path::new("/etc/strongroom/data/x.db"))
        }
        other => panic!("unexpected {other:?}"),
    }
    match parse("sqlite:///var/lib/x.db").unwrap() {
        DatabaseLocation::SqliteFile(path) => assert_eq!(path, Path::new("/var/lib/x.db")),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unsupported_urls_are_refused() {
    for url in [
        "mysql://x",
        "sqlite://",
        "sqlite::memory:",
        "sqlite://x.db?mode=ro",
        "",
    ] {
        assert!(
            matches!(parse(url), Err(StoreError::InvalidUrl(_))),
            "{url}"
        );
    }
}

#[test]
fn postgres_urls_stay_secret_in_debug_output() {
    let location = parse("postgres://app:hunter2@db/strongroom").unwrap();
    assert!(!format!("{location:?}").contains("hunter2"));
}

#[tokio::test]
async fn sqlite_store_is_durable_and_migrates_idempotently() {
    // The embedded store must run WAL + synchronous=FULL + foreign keys, and re-running
    // migrations must be a no-op.
    let dir = tempfile::tempdir().unwrap();
    let location = DatabaseLocation::SqliteFile(dir.path().join("nested/strongroom.db"));
    let store = Store::connect(&location).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), Some(7));
    store.ping().await.unwrap();
    let Pool::Sqlite(pool) = &store.pool else {
        panic!("sqlite expected")
    };
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(synchronous, 2, "synchronous=FULL");
    assert_eq!(foreign_keys, 1);
    store.close().await;
}
