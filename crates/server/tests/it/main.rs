//! End-to-end tests of the `strongroom` binary through its real CLI, sockets and TLS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    reason = "tests fail loudly; they drive a real server, which reads the wall clock"
)]

mod admin;
mod audit;
mod backup;
mod batch;
mod cli;
mod edge;
mod factor_keys;
mod hardening;
mod holds;
mod identity;
mod keys;
mod kms;
mod ledger;
mod lifecycle;
mod mfa;
mod mtls;
mod operator;
mod passkeys;
mod products;
mod profile;
mod protection;
mod reversals;
mod scale;
mod stores;
mod tls;

use std::path::Path;
use std::process::{Command, Output};

use test_support::{Database, TestServer};

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_strongroom"))
}

pub fn strongroom(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

pub fn sqlite_server(env: &[(&str, &str)]) -> TestServer {
    TestServer::start(binary(), Database::Sqlite, env)
}

/// The server's `/metrics` text.
pub async fn metrics_text(server: &TestServer) -> String {
    reqwest::get(format!("{}/metrics", server.ops_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
