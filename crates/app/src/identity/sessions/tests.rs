//! Unit tests of `sessions`.

use super::*;

#[test]
fn a_full_table_evicts_expired_sessions_and_keeps_tombstones() {
    let clock = crate::Clock::manual(1_000);
    let table = SessionTable {
        entries: RwLock::default(),
        clock: clock.clone(),
        capacity: 8,
    };
    table.insert("expired", "u", 1_500);
    table.revoke("revoked-elsewhere");
    clock.advance_ms(1_000);
    for i in 0..6 {
        table.insert(&format!("live-{i}"), "u", 10_000);
    }
    table.insert("one-more", "u", 10_000);
    let entries = table.entries.read().unwrap();
    assert!(
        !entries.contains_key("expired"),
        "expired sessions go first"
    );
    assert!(entries["revoked-elsewhere"].revoked, "tombstones stay");
    assert!(entries.contains_key("one-more"));
}

#[tokio::test]
async fn a_cached_live_session_is_rechecked_so_other_instances_revocations_apply() {
    let dir = tempfile::tempdir().unwrap();
    let location = store::DatabaseLocation::SqliteFile(dir.path().join("s.db"));
    let store = Store::connect(&location).await.unwrap();
    store.migrate().await.unwrap();
    let user = store::UserRecord {
        id: "u1".into(),
        email: "u1@example.com".into(),
        display_name: "U".into(),
        password_hash: "x".into(),
        roles: "customer".into(),
        status: "active".into(),
        created_at: 1,
        email_verified_at: None,
    };
    store.create_user(&user).await.unwrap();
    let session = store::SessionRecord {
        id: "s1".into(),
        user_id: "u1".into(),
        created_at: 1_000,
        last_seen_at: 1_000,
        expires_at: 10_000_000,
        ip: "192.0.2.1".into(),
        user_agent: String::new(),
        auth_time: 1_000,
        acr: "pwd".into(),
        amr: "pwd".into(),
        generation: 0,
        rotated_at: None,
        grace_blob: None,
        revoked_at: None,
        location: None,
    };
    let event = store::SecurityEventRecord {
        id: "e1".into(),
        user_id: "u1".into(),
        kind: "login".into(),
        created_at: 1_000,
        ip: "192.0.2.1".into(),
        user_agent: String::new(),
        session_id: Some("s1".into()),
        location: None,
        request_id: "r1".into(),
    };
    store
        .create_session(&session, b"hash", &event, "x")
        .await
        .unwrap();
    let clock = crate::Clock::manual(1_000);
    let table = SessionTable::load(&store, clock.clone()).await.unwrap();
    assert!(
        table
            .is_live(&store, "s1", "u1", clock.now_ms())
            .await
            .unwrap()
    );
    // Another instance revokes it in the store; this one trusts its cache for a while.
    assert!(store.revoke_session("s1", "logout", 2_000).await.unwrap());
    clock.advance_ms(SESSION_RECHECK_MS - 1);
    assert!(
        table
            .is_live(&store, "s1", "u1", clock.now_ms())
            .await
            .unwrap()
    );
    clock.advance_ms(2);
    assert!(
        !table
            .is_live(&store, "s1", "u1", clock.now_ms())
            .await
            .unwrap()
    );
}
