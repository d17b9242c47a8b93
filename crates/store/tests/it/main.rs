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
mod protection;
mod schema;
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
