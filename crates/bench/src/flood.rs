//! The customer-flood row: one signed-in customer sends transfers as fast as
//! `FLOODER_CONNECTIONS` connections allow while `OTHERS` customers transfer at a human pace
//! (one every two seconds each), under the documented default money budget (60 a minute,
//! burst 20, per user). The others must see no 503 and keep their p99 near calm.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use test_support::{Database, PgCluster, TestServer};

use crate::{FAILED, Funded, bench_client, fixed_rate, fund, percentile, transfer_status};

/// Customers transferring at a human pace.
const OTHERS: usize = 16;
/// Their combined rate: each one transfer every two seconds (inside 60 a minute).
const OTHERS_RATE: f64 = OTHERS as f64 / 2.0;
/// Keep-alive connections the flooding customer uses, each sending as fast as answered.
const FLOODER_CONNECTIONS: usize = 8;

pub const HEADER: &str = "| store (customer flood, default money budget) | others' p99 ms calm | others' p99 ms during flood | flood/calm p99 | others' answers other than 201 | flooder 201/s | flooder 429/s |";

pub async fn run(binary: &Path, store: &str, seconds: u64) -> String {
    let cluster = (store == "postgres").then(PgCluster::start_durable);
    let database = match &cluster {
        Some(cluster) => Database::Postgres(cluster.create_database("flood")),
        None => Database::Sqlite,
    };
    let env = [
        ("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
        ("STRONGROOM_LOG", "warn"),
        // The documented defaults (the harness raises every class for the other rows).
        ("STRONGROOM__RATE_LIMITS__MONEY__PER_MINUTE", "60"),
        ("STRONGROOM__RATE_LIMITS__MONEY__BURST", "20"),
    ];
    let server = TestServer::start(binary, database, &env);
    let client = bench_client(&server);
    let mut all = fund(&server, &client, OTHERS + 2).await;
    // The flooder pays account OTHERS + 1 from account OTHERS; the others pay each other.
    let flooder = Arc::new(Funded {
        tokens: all.tokens.split_off(OTHERS),
        accounts: all.accounts.split_off(OTHERS),
    });
    let others = Arc::new(all);
    let base = server.public_url.clone();
    FAILED.store(0, Ordering::Relaxed);
    let calm = fixed_rate(&client, &base, &others, OTHERS_RATE, seconds).await;
    let (posted, limited) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let flood: Vec<_> = (0..FLOODER_CONNECTIONS)
        .map(|_| {
            let (client, base, flooder) = (client.clone(), base.clone(), flooder.clone());
            let (posted, limited) = (posted.clone(), limited.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    match transfer_status(&client, &base, &flooder, 0, 1).await {
                        201 => posted.fetch_add(1, Ordering::Relaxed),
                        429 => limited.fetch_add(1, Ordering::Relaxed),
                        _ => 0,
                    };
                }
            })
        })
        .collect();
    let stormy = fixed_rate(&client, &base, &others, OTHERS_RATE, seconds).await;
    for task in flood {
        let _ = task.await;
    }
    let per_second = |count: &AtomicU64| count.load(Ordering::Relaxed) as f64 / seconds as f64;
    let (p99, p99_flood) = (percentile(&calm, 0.99), percentile(&stormy, 0.99));
    let row = format!(
        "| {store} | {p99:.2} | {p99_flood:.2} | {:.2}x | {} | {:.1} | {:.0} |",
        p99_flood / p99,
        FAILED.load(Ordering::Relaxed),
        per_second(&posted),
        per_second(&limited),
    );
    drop(server);
    drop(cluster);
    row
}
