//! The store conformance suite: every behaviour of `Store` that the application relies on,
//! tested once and run on both backends (SQLite in a temp dir, PostgreSQL in a throwaway
//! cluster), plus the checks that the two migration sets stay equivalent and that the
//! immutability triggers hold on both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod approvals;
mod conformance;
mod holds;
mod protection;
mod schema;
mod stale;
mod wal;

use secrecy::SecretString;
use store::{DatabaseLocation, Store};
use test_support::PgCluster;

/// A migrated store of each backend; the cluster lives as long as the returned guard.
pub async fn stores() -> (Vec<(&'static str, Store)>, tempfile::TempDir, PgCluster) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&DatabaseLocation::SqliteFile(dir.path().join("s.db")))
        .await
        .unwrap();
    let cluster = PgCluster::start();
    let url = SecretString::from(cluster.create_database("conformance"));
    let postgres = Store::connect(&DatabaseLocation::parse(&url, dir.path()).unwrap())
        .await
        .unwrap();
    for store in [&sqlite, &postgres] {
        store.migrate().await.unwrap();
    }
    (
        vec![("sqlite", sqlite), ("postgres", postgres)],
        dir,
        cluster,
    )
}

/// A user `u1` with EUR account `account_id`, funded with `amount` from settlement by a
/// started ledger writer, which is returned.
pub async fn funded_account(store: &Store, account_id: &str, amount: i64) -> store::LedgerWriter {
    store
        .create_user(&conformance::user("u1", "funded@example.com"))
        .await
        .unwrap();
    store
        .ensure_settlement_accounts(&["EUR".into()], 1)
        .await
        .unwrap();
    let account = store::AccountRecord {
        id: account_id.into(),
        user_id: Some("u1".into()),
        kind: "customer".into(),
        currency: "EUR".into(),
        balance: 0,
        held: 0,
        status: "active".into(),
        created_at: 1,
        name: None,
    };
    assert!(store.create_account(&account).await.unwrap());
    let writer = store::LedgerWriter::start(store.clone()).unwrap();
    let fund = conformance::transfer(
        "fund",
        "settlement-EUR",
        account_id,
        amount,
        ledger::PostingKind::Deposit,
    );
    assert_eq!(
        writer.post(fund).await.unwrap(),
        store::PostingOutcome::Posted
    );
    writer
}
