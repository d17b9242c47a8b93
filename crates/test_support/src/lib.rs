//! The hermetic test harness: every test starts what it needs on free loopback ports in a
//! temporary directory and tears it down on drop. Nothing here talks to a service it did not
//! start, and nothing uses a fixed port.
//!
//! - `TestServer`: `strongroom init` + `strongroom serve` with all listeners on port 0; the
//!   addresses are read from the ready line the server prints. The CA keys go to a second
//!   temporary directory (`ca_dir()`), as they would go offline in production.
//! - `PgCluster`: a throwaway PostgreSQL cluster (`initdb` + `pg_ctl`) that tests can stop and
//!   start again to inject faults.
//! - `Haproxy`: a real reverse proxy (TLS, round-robin, `X-Forwarded-For`) in front of
//!   several instances.
//! - `Redis`: a throwaway `redis-server` on a free port, killed and restarted on demand.
//! - `Daemon`: the child-process guard they use; the OpenBao and SoftHSM helpers are a few
//!   lines on top of it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test harness: a failed set-up should stop the test loudly"
)]

mod haproxy;
mod openbao;
mod postgres;
mod process;
mod redis;
mod server;
mod softhsm;

pub use haproxy::Haproxy;
pub use openbao::{OpenBao, TRANSIT_KEY};
pub use postgres::{PgCluster, PgTls};
pub use process::{Daemon, free_port, run_checked};
pub use redis::Redis;
pub use server::{Database, TestServer, init_dir};
pub use softhsm::{SOFTHSM_MODULE, SoftHsm};
