//! SQLite's write-ahead log stays bounded under writes and reads that never pause: the
//! periodic checkpoint restarts the log instead of letting it grow for as long as the load
//! lasts (a passive checkpoint alone never can, as some reader always holds an older frame).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ledger::PostingKind;
use store::*;

use crate::conformance::transfer;

/// Restarts of the log to see before the test is satisfied.
const RESTARTS: usize = 2;
/// Readers querying without a pause.
const READERS: usize = 4;
/// Postings per writer batch.
const GROUP: usize = 256;
/// How long the load may run before the test gives up on seeing the restarts.
const LOAD_SECS_MAX: u64 = 90;

#[tokio::test]
async fn the_wal_starts_over_under_load_that_never_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let store = Store::connect(&DatabaseLocation::SqliteFile(path.clone()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let writer = crate::funded_account(&store, "a", 1_000_000_000).await;

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    store.find_account("a").await.unwrap();
                }
            })
        })
        .collect();
    // What the server's upkeep loop does, more often.
    let restarts = Arc::new(AtomicUsize::new(0));
    let checkpoints = {
        let (store, stop, restarts) = (store.clone(), stop.clone(), restarts.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let frames = store.checkpoint_wal().await.unwrap();
                if seen
                    .last()
                    .is_some_and(|&last| last > SQLITE_WAL_RESTART_FRAMES_MAX && frames < last)
                {
                    restarts.fetch_add(1, Ordering::Relaxed);
                }
                seen.push(frames);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            seen
        })
    };
    let wal = path.with_extension("db-wal");
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECS_MAX);
    let mut largest = 0;
    let mut n = 0;
    while restarts.load(Ordering::Relaxed) < RESTARTS && Instant::now() < deadline {
        // Withdrawals back to settlement: each touches the same two accounts, the journal and
        // its indexes, as a busy ledger does.
        let group = (0..GROUP)
            .map(|_| {
                n += 1;
                let key = format!("w{n}");
                transfer(&key, "a", "settlement-EUR", 1, PostingKind::Withdrawal)
            })
            .collect();
        for outcome in writer.post_group(group, false).await.unwrap() {
            outcome.unwrap();
        }
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    let seen = checkpoints.await.unwrap();
    assert!(
        restarts.load(Ordering::Relaxed) >= RESTARTS,
        "the log never started over in {LOAD_SECS_MAX} s ({n} postings): frames at each \
         checkpoint {seen:?}"
    );
    // The file is cut back to its limit when the log starts over, and the log grows by at
    // most a few checkpoint intervals' frames beyond the restart threshold.
    let frame = 4096 + 24;
    let bound = SQLITE_WAL_FILE_BYTES_MAX as u64 + 4 * SQLITE_WAL_RESTART_FRAMES_MAX as u64 * frame;
    assert!(
        largest <= bound,
        "the WAL grew to {largest} bytes (bound {bound})"
    );
}
