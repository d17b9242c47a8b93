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
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(
        store.schema_version().await.unwrap(),
        Some(i64::try_from(migrations).unwrap())
    );
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

#[tokio::test]
async fn idempotency_keys_are_purged_only_after_their_retention() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&DatabaseLocation::SqliteFile(dir.path().join("s.db")))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let Pool::Sqlite(pool) = &store.pool else {
        panic!("sqlite expected")
    };
    for (key, created_at) in [("old-1", 1_000), ("old-2", 1_999), ("fresh", 2_000)] {
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, state, response_status, \
             response_body, created_at) VALUES ('user:u', $1, x'00', 'done', 201, '{}', $2)",
        )
        .bind(key)
        .bind(created_at)
        .execute(pool)
        .await
        .unwrap();
    }
    assert_eq!(store.purge_idempotency_keys(2_000, 1).await.unwrap(), 1);
    assert_eq!(store.purge_idempotency_keys(2_000, 10).await.unwrap(), 1);
    assert_eq!(store.purge_idempotency_keys(2_000, 10).await.unwrap(), 0);
    let left: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["fresh".to_owned()]);
    store.close().await;
}

#[tokio::test]
async fn the_passkey_cap_holds_under_concurrent_registrations() {
    // The count and the insert are one decision: 40 concurrent registrations for one user
    // leave exactly PASSKEYS_PER_USER_MAX passkeys.
    let dir = tempfile::tempdir().unwrap();
    let location = DatabaseLocation::SqliteFile(dir.path().join("strongroom.db"));
    let store = Store::connect(&location).await.unwrap();
    store.migrate().await.unwrap();
    let user = UserRecord {
        id: "0190a0a0-0000-7000-8000-000000000001".into(),
        email: "cap@example.com".into(),
        display_name: "Cap".into(),
        password_hash: "x".into(),
        roles: "customer".into(),
        status: "active".into(),
        created_at: 1,
        email_verified_at: None,
    };
    assert!(store.create_user(&user).await.unwrap());
    let attempts = (0..40).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .add_passkey(
                    &format!("cred-{i}"),
                    "0190a0a0-0000-7000-8000-000000000001",
                    "Key",
                    "{}",
                    1,
                )
                .await
                .unwrap()
        })
    });
    let mut added = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            PasskeyInsert::Added => added += 1,
            PasskeyInsert::TooMany => {}
            PasskeyInsert::Duplicate => panic!("distinct ids"),
        }
    }
    assert_eq!(added, PASSKEYS_PER_USER_MAX);
    assert_eq!(
        store.passkey_list(&user.id).await.unwrap().len(),
        usize::try_from(PASSKEYS_PER_USER_MAX).unwrap()
    );
    assert_eq!(
        store
            .add_passkey("cred-0", &user.id, "Key", "{}", 2)
            .await
            .unwrap(),
        PasskeyInsert::TooMany
    );
}

#[tokio::test]
async fn concurrent_factor_removals_cannot_remove_the_last_required_factor() {
    // Two factors, removed at once with "keep one": exactly one removal wins.
    let dir = tempfile::tempdir().unwrap();
    let location = DatabaseLocation::SqliteFile(dir.path().join("strongroom.db"));
    let store = Store::connect(&location).await.unwrap();
    store.migrate().await.unwrap();
    let user = UserRecord {
        id: "0190a0a0-0000-7000-8000-000000000002".into(),
        email: "two@example.com".into(),
        display_name: "Two".into(),
        password_hash: "x".into(),
        roles: "admin".into(),
        status: "active".into(),
        created_at: 1,
        email_verified_at: None,
    };
    assert!(store.create_user(&user).await.unwrap());
    for id in ["key-a", "key-b"] {
        assert_eq!(
            store
                .add_passkey(id, &user.id, "Key", "{}", 1)
                .await
                .unwrap(),
            PasskeyInsert::Added
        );
    }
    let removals = ["key-a", "key-b"].map(|id| {
        let store = store.clone();
        let user_id = user.id.clone();
        tokio::spawn(async move {
            store
                .remove_factor(&user_id, FactorRef::Passkey(id), true)
                .await
                .unwrap()
        })
    });
    let mut outcomes = Vec::new();
    for removal in removals {
        outcomes.push(removal.await.unwrap());
    }
    outcomes.sort_by_key(|outcome| format!("{outcome:?}"));
    assert_eq!(
        outcomes,
        [RemoveOutcome::LastFactor, RemoveOutcome::Removed]
    );
    let left = store.passkey_list(&user.id).await.unwrap();
    assert_eq!(left.len(), 1);
    let remove = |id: String, keep_one: bool| {
        let store = store.clone();
        let user_id = user.id.clone();
        async move {
            store
                .remove_factor(&user_id, FactorRef::Passkey(&id), keep_one)
                .await
                .unwrap()
        }
    };
    assert_eq!(remove("nope".into(), true).await, RemoveOutcome::NotFound);
    assert_eq!(
        remove(left[0].id.clone(), false).await,
        RemoveOutcome::Removed
    );
}
