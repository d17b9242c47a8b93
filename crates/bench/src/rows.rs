//! Measures that do not depend on the co-located client: CPU time per transfer (user + system,
//! from `/proc/PID/stat`) of the `strongroom` process — every thread, the embedded SQLite store
//! included — and, on PostgreSQL, of the database's processes; a hot account that every
//! transfer debits; the batch endpoint for services; and holds (a card authorisation and its
//! capture).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::{PgCluster, TestServer};

use crate::{Funded, SEQUENCE};

/// Postings in each request of the batch row.
pub const BATCH_LEN: usize = 1_000;
/// Batch requests in flight at once (the server decides at most two batches at a time).
pub const BATCH_CLIENTS: usize = 2;
/// Services placing and capturing holds at once in the holds row.
pub const HOLD_CLIENTS: usize = 16;

/// A CPU clock: one process, or a process and its children (PostgreSQL's postmaster and
/// backends).
pub struct Cpu {
    pid: u32,
    children: bool,
    ticks_per_second: f64,
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces): the first
/// is the state (field 3 of the line).
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    // The state is a letter: parse it as 0 so the indices keep the line's numbering - 3.
    Some(
        rest.split_whitespace()
            .map(|field| field.parse().unwrap_or(0))
            .collect(),
    )
}

// Indices into `stat_fields`: ppid (field 4), utime (14), stime (15), cutime (16), cstime (17).
const PPID: usize = 1;
const UTIME: usize = 11;
const STIME: usize = 12;
const CUTIME: usize = 13;
const CSTIME: usize = 14;

impl Cpu {
    fn new(pid: u32, children: bool) -> Cpu {
        let output = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap();
        let ticks_per_second = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap();
        Cpu {
            pid,
            children,
            ticks_per_second,
        }
    }

    /// Any one process (this one, say).
    pub fn of_pid(pid: u32) -> Cpu {
        Cpu::new(pid, false)
    }

    /// The server process (every thread, the embedded SQLite store included).
    pub fn of(server: &TestServer) -> Cpu {
        Cpu::new(server.pid(), false)
    }

    /// The PostgreSQL cluster: the postmaster, its backends and helpers, and the children it
    /// has reaped.
    pub fn of_cluster(cluster: &PgCluster) -> Cpu {
        Cpu::new(cluster.postmaster_pid(), true)
    }

    /// CPU seconds (user + system) used so far.
    pub fn seconds(&self) -> f64 {
        let own = stat_fields(self.pid).unwrap();
        let mut ticks = own[UTIME] + own[STIME];
        if self.children {
            ticks += own[CUTIME] + own[CSTIME];
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                    continue;
                };
                if let Some(fields) = stat_fields(pid)
                    && fields[PPID] == u64::from(self.pid)
                {
                    ticks += fields[UTIME] + fields[STIME];
                }
            }
        }
        ticks as f64 / self.ticks_per_second
    }
}

/// CPU microseconds per transfer while `work` ran (which returns the transfers it completed):
/// the server's, and the database's when it has its own processes.
pub struct Cost {
    pub done: u64,
    pub server_us: f64,
    pub database_us: Option<f64>,
}

impl Cost {
    /// The two table cells: server, database (`–` for the embedded store).
    pub fn cells(&self) -> String {
        match self.database_us {
            Some(database) => format!("{:.0} | {database:.0}", self.server_us),
            None => format!("{:.0} | –", self.server_us),
        }
    }
}

pub async fn per_transfer(
    server: &Cpu,
    database: Option<&Cpu>,
    work: impl Future<Output = u64>,
) -> Cost {
    let before = (server.seconds(), database.map(Cpu::seconds));
    let done = work.await;
    let per = |spent: f64| spent * 1e6 / done.max(1) as f64;
    Cost {
        done,
        server_us: per(server.seconds() - before.0),
        database_us: database
            .zip(before.1)
            .map(|(cpu, start)| per(cpu.seconds() - start)),
    }
}

/// A closed-loop route where every transfer debits account 0 (paying the others in turn):
/// the writer's cache and the store's row of one account carry all the load.
pub fn hot_account(accounts: usize, _workers: usize, worker: usize, n: usize) -> (usize, usize) {
    (0, 1 + (worker + n) % (accounts - 1).max(1))
}

/// Closed loop, `BATCH_CLIENTS` services each sending non-atomic batches of `BATCH_LEN`
/// transfers between the funded accounts. Returns postings posted.
pub async fn batches(server: &TestServer, funded: &Arc<Funded>, seconds: u64) -> u64 {
    let client = server.service_client("payments");
    let url = format!("{}/internal/v1/transfers/batch", server.internal_url);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..BATCH_CLIENTS)
        .map(|worker| {
            let (client, url, funded, done) =
                (client.clone(), url.clone(), funded.clone(), done.clone());
            tokio::spawn(async move {
                let count = funded.accounts.len();
                let mut from = worker;
                while Instant::now() < deadline {
                    let postings: Vec<Value> = (0..BATCH_LEN)
                        .map(|_| {
                            from = (from + 1) % count;
                            let key = format!("b-{}", SEQUENCE.fetch_add(1, Ordering::Relaxed));
                            json!({"kind": "transfer", "idempotency_key": key,
                                   "from_account_id": funded.accounts[from],
                                   "to_account_id": funded.accounts[(from + 1) % count],
                                   "amount": 1, "currency": "EUR"})
                        })
                        .collect();
                    let response = client
                        .post(&url)
                        .json(&json!({"postings": postings}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200, "batch refused");
                    let body: Value = response.json().await.unwrap();
                    let posted = body["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|result| result["status"] == "posted")
                        .count();
                    done.fetch_add(posted as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// Closed loop, `HOLD_CLIENTS` services each placing a hold of 1 on a funded account and
/// capturing it to the next one (a card authorisation and its capture: two transactions, one
/// posting). Returns the holds captured.
pub async fn holds(server: &TestServer, funded: &Arc<Funded>, seconds: u64) -> u64 {
    let client = server.service_client("payments");
    let base = format!("{}/internal/v1/holds", server.internal_url);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..HOLD_CLIENTS)
        .map(|worker| {
            let (client, base, funded, done) =
                (client.clone(), base.clone(), funded.clone(), done.clone());
            tokio::spawn(async move {
                let count = funded.accounts.len();
                let mut from = worker % count;
                while Instant::now() < deadline {
                    from = (from + 1) % count;
                    let key = format!("h-{}", SEQUENCE.fetch_add(1, Ordering::Relaxed));
                    let body = json!({"account_id": funded.accounts[from], "amount": 1,
                        "currency": "EUR", "expires_in_secs": 600, "idempotency_key": key});
                    let placed = client.post(&base).json(&body).send().await.unwrap();
                    assert_eq!(placed.status(), 201, "hold refused");
                    let hold: Value = placed.json().await.unwrap();
                    let id = hold["id"].as_str().unwrap();
                    let to = &funded.accounts[(from + 1) % count];
                    let captured = client
                        .post(format!("{base}/{id}/capture"))
                        .json(&json!({"amount": 1, "to_account_id": to}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(captured.status(), 201, "capture refused");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}
