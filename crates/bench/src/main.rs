//! `cargo run --release -p bench -- [--seconds N] [--accounts N] [--concurrency N] [--store sqlite|postgres|both] [--redis] [--writer-only]`
//!
//! Starts a real `strongroom` (release build at `target/release/strongroom`, or `$STRONGROOM_BIN`)
//! on SQLite and/or a throwaway PostgreSQL cluster, funds N accounts, and measures transfers
//! over keep-alive HTTPS: throughput at saturation (closed loop, N workers), latency at half
//! that rate (open loop, measured from the scheduled send time so queueing is not hidden), and
//! the same while a login flood saturates the Argon2 pool; then one customer flooding the
//! money path while 16 others transfer at a human pace (`flood.rs`). A second table gives the
//! server's own CPU time per transfer — spread over the accounts, on one hot account, and
//! through the batch endpoint (`rows.rs`) — which the co-located client does not skew.
//! PostgreSQL runs durable (`fsync`, `synchronous_commit`). Prints Markdown tables.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark tool: a failed set-up should stop it loudly"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::{Database, PgCluster, Redis, TestServer};

const PASSWORD: &str = "correct horse battery staple";

struct Options {
    seconds: u64,
    accounts: usize,
    concurrency: usize,
    stores: Vec<&'static str>,
    /// Start a Redis and set `redis.url`: every rate-limit decision is a GCRA script on it.
    redis: bool,
    /// Measure the ledger writer alone, in this process (`writer.rs`), and nothing else.
    writer_only: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let stores = match value("--store").as_deref() {
        Some("sqlite") => vec!["sqlite"],
        Some("postgres") => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    Options {
        seconds: value("--seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        accounts: value("--accounts")
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        concurrency: value("--concurrency")
            .and_then(|v| v.parse().ok())
            .unwrap_or(32),
        stores,
        redis: args.iter().any(|arg| arg == "--redis"),
        writer_only: args.iter().any(|arg| arg == "--writer-only"),
    }
}

mod flood;
mod rows;
mod writer;

struct Funded {
    tokens: Vec<String>,
    accounts: Vec<String>,
}

async fn fund(server: &TestServer, client: &reqwest::Client, count: usize) -> Funded {
    let base = &server.public_url;
    let setups = (0..count).map(|i| async move {
        let email = format!("bench{i}@example.com");
        client
            .post(format!("{base}/v1/auth/register"))
            .header(
                "x-forwarded-for",
                format!("10.1.{}.{}", i / 250, i % 250 + 1),
            )
            .json(&json!({"email": email, "password": PASSWORD, "display_name": "Bench"}))
            .send()
            .await
            .unwrap();
        let login: Value = client
            .post(format!("{base}/v1/auth/login"))
            .header(
                "x-forwarded-for",
                format!("10.2.{}.{}", i / 250, i % 250 + 1),
            )
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_owned();
        let account: Value = client
            .post(format!("{base}/v1/accounts"))
            .bearer_auth(&token)
            .json(&json!({"currency": "EUR"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (token, account["id"].as_str().unwrap().to_owned())
    });
    let mut funded = Funded {
        tokens: Vec::new(),
        accounts: Vec::new(),
    };
    // A few at a time: the bounded Argon2 pool answers 503 to a registration stampede.
    let mut setups = setups.collect::<Vec<_>>().into_iter();
    loop {
        let batch: Vec<_> = setups.by_ref().take(2).collect();
        if batch.is_empty() {
            break;
        }
        for (token, account) in futures_util::future::join_all(batch).await {
            funded.tokens.push(token);
            funded.accounts.push(account);
        }
    }
    let service = server.service_client("payments");
    for (i, account) in funded.accounts.iter().enumerate() {
        let response = service.post(format!("{}/internal/v1/deposits", server.internal_url)).header("idempotency-key", format!("fund-{i}"))
            .json(&json!({"account_id": account, "amount": 1_000_000_000_000_i64, "currency": "EUR", "external_ref": format!("fund-{i}")}))
            .send().await.unwrap();
        assert_eq!(response.status(), 201);
    }
    funded
}

/// A keep-alive HTTP/1.1 client with room for every worker's connection.
fn bench_client(server: &TestServer) -> reqwest::Client {
    server
        .client_builder()
        .pool_max_idle_per_host(1024)
        .http1_only()
        .build()
        .unwrap()
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);
/// Login attempts the flood sent (printed to stderr with its rate).
static FLOOD_ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// One transfer of 1 minor unit from account `from` to account `to`; returns the status (0
/// when no answer came).
async fn transfer_status(
    client: &reqwest::Client,
    base: &str,
    funded: &Funded,
    from: usize,
    to: usize,
) -> u16 {
    let key = format!("t-{}", SEQUENCE.fetch_add(1, Ordering::Relaxed));
    let body = json!({"from_account_id": funded.accounts[from], "to_account_id": funded.accounts[to], "amount": 1, "currency": "EUR"});
    client
        .post(format!("{base}/v1/transfers"))
        .bearer_auth(&funded.tokens[from])
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .map_or(0, |response| response.status().as_u16())
}

/// Which accounts a closed-loop worker's transfer moves money between: `(accounts, workers,
/// worker, n)` for the worker's n-th transfer → `(from, to)`.
type Route = fn(usize, usize, usize, usize) -> (usize, usize);

/// Spread: each worker walks the accounts, each paying the next one.
fn spread(accounts: usize, workers: usize, worker: usize, n: usize) -> (usize, usize) {
    let from = (worker + n * workers) % accounts;
    (from, (from + 1) % accounts)
}

/// Closed loop: `workers` keep-alive connections, each sending its next transfer as soon as
/// the previous one is answered, until `seconds` have passed. Returns transfers completed.
async fn closed_loop(
    client: &reqwest::Client,
    base: &str,
    funded: &Arc<Funded>,
    (workers, seconds): (usize, u64),
    route: Route,
) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let (client, base, funded, done) = (
                client.clone(),
                base.to_owned(),
                funded.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    let (from, to) = route(funded.accounts.len(), workers, worker, n);
                    if transfer_status(&client, &base, &funded, from, to).await == 201 {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// Open loop at `rate`/s; latency from each request's scheduled time. Returns sorted micros.
async fn fixed_rate(
    client: &reqwest::Client,
    base: &str,
    funded: &Arc<Funded>,
    rate: f64,
    seconds: u64,
) -> Vec<u64> {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let total = (rate * seconds as f64) as usize;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, base, funded) = (client.clone(), base.to_owned(), funded.clone());
        tasks.push(tokio::spawn(async move {
            let from = i % funded.accounts.len();
            let to = (from + 1) % funded.accounts.len();
            let status = transfer_status(&client, &base, &funded, from, to).await;
            (status, scheduled.elapsed().as_micros() as u64)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut slow_per_second = vec![0_u32; seconds as usize + 1];
    let mut failures = std::collections::BTreeMap::<u16, usize>::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (status, micros) = task.await.unwrap();
        if status != 201 {
            *failures.entry(status).or_default() += 1;
        } else {
            latencies.push(micros);
            if micros > 20_000 {
                slow_per_second[(i as f64 / rate) as usize] += 1;
            }
        }
    }
    eprintln!("requests over 20 ms, per second of the phase: {slow_per_second:?}");
    if !failures.is_empty() {
        eprintln!("answers other than 201 (status: count): {failures:?}");
    }
    FAILED.fetch_add(failures.values().sum::<usize>() as u64, Ordering::Relaxed);
    latencies.sort_unstable();
    latencies
}

/// Transfers of the open-loop phases answered other than 201, since the last reset.
static FAILED: AtomicU64 = AtomicU64::new(0);

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

/// Concurrent login-flood clients: more than the Argon2 pool admits on this machine (one
/// hashing thread, five admitted), so the pool stays saturated and the rest get 503.
const FLOOD_CLIENTS: usize = 8;

/// Wrong-password logins from rotating addresses until `stop`, to keep the Argon2 pool full;
/// each client sends its next attempt as soon as the previous one is answered.
fn login_flood(
    client: &reqwest::Client,
    base: &str,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..FLOOD_CLIENTS).map(|worker| {
        let (client, base, stop) = (client.clone(), base.to_owned(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                FLOOD_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
                let _ = client.post(format!("{base}/v1/auth/login"))
                    .header("x-forwarded-for", format!("10.{}.{}.{}", 100 + worker, (i / 250) % 250, i % 250 + 1))
                    .json(&json!({"email": format!("flood{worker}-{i}@example.com"), "password": "wrong horse battery staple"}))
                    .send().await;
            }
        })
    }).collect()
}

/// The server's own view (stderr): writer batch sizes and durations, and transfer latency
/// as measured inside the server (excludes the client and the network) — the sums and counts
/// of its histograms (divide for the means).
async fn print_server_metrics(
    client: &reqwest::Client,
    server: &TestServer,
    store: &str,
    phase: &str,
) {
    let metrics = client
        .get(format!("{}/metrics", server.ops_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let wanted = |line: &&str| {
        (line.starts_with("strongroom_ledger_batch")
            || (line.starts_with("strongroom_http_request_duration_seconds")
                && line.contains("/v1/transfers\"")))
            && (line.contains("_sum") || line.contains("_count"))
    };
    for line in metrics.lines().filter(wanted) {
        eprintln!("{store} after {phase}: {line}");
    }
}

/// The commit the bench runs on (with `-dirty` for uncommitted changes), for the tables.
fn commit() -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=7"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        )
}

/// One store's rows: the main table's line, and the server-CPU lines.
struct StoreRows {
    main: String,
    cpu: Vec<String>,
}

async fn run_store(binary: &Path, store: &str, options: &Options) -> StoreRows {
    // Durable, as users run it: fsync and synchronous_commit on.
    let cluster = (store == "postgres").then(PgCluster::start_durable);
    let database = match &cluster {
        Some(cluster) => Database::Postgres(cluster.create_database("bench")),
        None => Database::Sqlite,
    };
    let redis = options.redis.then(Redis::start);
    let redis_url = redis.as_ref().map(Redis::url).unwrap_or_default();
    let mut env = vec![
        ("STRONGROOM__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
        ("STRONGROOM_LOG", "warn"),
        (
            "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
            r#"["ledger:deposit", "ledger:read", "ledger:batch", "ledger:hold"]"#,
        ),
    ];
    if redis.is_some() {
        env.push(("STRONGROOM__REDIS__URL", redis_url.as_str()));
    }
    let label = if options.redis {
        format!("{store} + redis limits")
    } else {
        store.to_owned()
    };
    let server = TestServer::start(binary, database, &env);
    let client = bench_client(&server);
    let funded = Arc::new(fund(&server, &client, options.accounts).await);
    let base = server.public_url.clone();
    let cpu = rows::Cpu::of(&server);
    let database_cpu = cluster.as_ref().map(rows::Cpu::of_cluster);
    let seconds = options.seconds;
    // Each measured phase is announced on stderr, so that a profiler can be started on it.
    eprintln!("{store}: phase spread starts");
    let spread = rows::per_transfer(
        &cpu,
        database_cpu.as_ref(),
        closed_loop(
            &client,
            &base,
            &funded,
            (options.concurrency, seconds),
            spread,
        ),
    )
    .await;
    let per_second = |count: u64| count as f64 / seconds as f64;
    let tps = per_second(spread.done);
    print_server_metrics(&client, &server, store, "saturation").await;
    let rate = (tps / 2.0).max(1.0);
    let calm = fixed_rate(&client, &base, &funded, rate, seconds).await;
    print_server_metrics(&client, &server, store, "fixed rate").await;
    let stop = Arc::new(AtomicBool::new(false));
    let flood = login_flood(&client, &base, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flood_start = (Instant::now(), FLOOD_ATTEMPTS.load(Ordering::Relaxed));
    let stormy = fixed_rate(&client, &base, &funded, rate, seconds).await;
    eprintln!(
        "{store}: login flood sent {:.0} attempts/s",
        (FLOOD_ATTEMPTS.load(Ordering::Relaxed) - flood_start.1) as f64
            / flood_start.0.elapsed().as_secs_f64()
    );
    print_server_metrics(&client, &server, store, "login flood").await;
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        let _ = task.await;
    }
    let (p99, p99_flood) = (percentile(&calm, 0.99), percentile(&stormy, 0.99));
    let main = format!(
        "| {label} | {tps:.0} | {rate:.0}/s | {:.2} | {p99:.2} | {:.2} | {p99_flood:.2} | {:.2}x |",
        percentile(&calm, 0.5),
        percentile(&calm, 0.999),
        p99_flood / p99
    );
    eprintln!("{store}: phase hot account starts");
    let hot = rows::per_transfer(
        &cpu,
        database_cpu.as_ref(),
        closed_loop(
            &client,
            &base,
            &funded,
            (options.concurrency, seconds),
            rows::hot_account,
        ),
    )
    .await;
    eprintln!("{store}: phase batch endpoint starts");
    let batched = rows::per_transfer(
        &cpu,
        database_cpu.as_ref(),
        rows::batches(&server, &funded, seconds),
    )
    .await;
    eprintln!("{store}: phase holds starts");
    let held = rows::per_transfer(
        &cpu,
        database_cpu.as_ref(),
        rows::holds(&server, &funded, seconds),
    )
    .await;
    let cpu_rows = vec![
        format!(
            "| {label} | spread: {} accounts, {} workers | {tps:.0} | {} |",
            options.accounts,
            options.concurrency,
            spread.cells()
        ),
        format!(
            "| {label} | hot account: every transfer debits one account, {} workers | {:.0} | {} |",
            options.concurrency,
            per_second(hot.done),
            hot.cells()
        ),
        format!(
            "| {label} | batch endpoint: {} clients x {} transfers per request | {:.0} | {} |",
            rows::BATCH_CLIENTS,
            rows::BATCH_LEN,
            per_second(batched.done),
            batched.cells()
        ),
        format!(
            "| {label} | holds: create + capture of 1, {} services (per pair) | {:.0} | {} |",
            rows::HOLD_CLIENTS,
            per_second(held.done),
            held.cells()
        ),
    ];
    let verified = std::process::Command::new(binary)
        .args(["ledger", "verify", "--config"])
        .arg(server.config_path())
        .envs(match &cluster {
            Some(c) => vec![("STRONGROOM__DATABASE__URL", c.url("bench"))],
            None => vec![],
        })
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "ledger verify failed after the run: {verified:?}"
    );
    StoreRows {
        main,
        cpu: cpu_rows,
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    if options.writer_only {
        println!("commit {} (bench run in this checkout)", commit());
        println!();
        println!("{}", writer::HEADER);
        println!("|---|---|---|---|---|");
        for store in &options.stores {
            let rows = writer::run(
                store,
                options.accounts,
                options.concurrency,
                options.seconds,
            );
            for row in rows.await {
                println!("{row}");
            }
        }
        return;
    }
    let binary = std::env::var("STRONGROOM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/release/strongroom"));
    assert!(
        binary.exists(),
        "build first: cargo build --release -p server (or set STRONGROOM_BIN)"
    );
    println!("commit {} (bench run in this checkout)", commit());
    println!();
    println!(
        "| store | transfers/s at saturation ({} workers) | offered rate | p50 ms | p99 ms | p99.9 ms | p99 ms during login flood | flood/normal p99 |",
        options.concurrency
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut cpu_rows = Vec::new();
    for store in &options.stores {
        let rows = run_store(&binary, store, &options).await;
        println!("{}", rows.main);
        cpu_rows.extend(rows.cpu);
    }
    println!();
    println!(
        "| store | workload (closed loop, {} s) | transfers/s | server CPU µs per transfer | PostgreSQL CPU µs per transfer |",
        options.seconds
    );
    println!("|---|---|---|---|---|");
    for row in cpu_rows {
        println!("{row}");
    }
    println!();
    println!("{}", flood::HEADER);
    println!("|---|---|---|---|---|---|---|");
    for store in &options.stores {
        println!("{}", flood::run(&binary, store, options.seconds).await);
    }
}
