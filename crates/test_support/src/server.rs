//! `TestServer`: a real `strongroom` process (init + serve) on free loopback ports.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::process::{Daemon, run_checked};

/// How long a server may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub enum Database {
    Sqlite,
    Postgres(String),
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    /// Where `init` put the CA private keys (never inside `dir`); empty for a server started
    /// with `serve_in`, which, like production, needs no CA key.
    ca_dir: tempfile::TempDir,
    pub binary: PathBuf,
    /// `https://127.0.0.1:PORT`
    pub public_url: String,
    pub internal_url: String,
    pub ops_url: String,
    daemon: Daemon,
}

/// `strongroom init --dir DIR --force` with the CA keys in a fresh temporary directory, which
/// is returned (removed when dropped, so no test leaves a `DIR.ca` behind).
pub fn init_dir(binary: &Path, dir: &Path) -> tempfile::TempDir {
    let ca_dir = tempfile::Builder::new()
        .prefix("strongroom-it-ca-")
        .tempdir()
        .unwrap();
    run_checked(
        Command::new(binary)
            .args(["init", "--force", "--dir"])
            .arg(dir)
            .arg("--ca-dir")
            .arg(ca_dir.path()),
    );
    ca_dir
}

impl TestServer {
    /// `strongroom init` into a fresh directory, then `serve` with `env` overrides on top of
    /// port-0 listeners.
    pub fn start(binary: &Path, database: Database, env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-it-")
            .tempdir()
            .unwrap();
        let ca_dir = init_dir(binary, dir.path());
        Self::serve_in_with_ca(binary, dir, ca_dir, database, env)
    }

    /// Serves an already initialised directory (its CA keys are elsewhere: `ca_dir()` is a
    /// fresh, empty directory).
    pub fn serve_in(
        binary: &Path,
        dir: tempfile::TempDir,
        database: Database,
        env: &[(&str, &str)],
    ) -> TestServer {
        let ca_dir = tempfile::Builder::new()
            .prefix("strongroom-it-ca-")
            .tempdir()
            .unwrap();
        Self::serve_in_with_ca(binary, dir, ca_dir, database, env)
    }

    /// Serves an already initialised directory whose CA keys are in `ca_dir`.
    pub fn serve_in_with_ca(
        binary: &Path,
        dir: tempfile::TempDir,
        ca_dir: tempfile::TempDir,
        database: Database,
        env: &[(&str, &str)],
    ) -> TestServer {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--config"])
            .arg(dir.path().join("strongroom.toml"))
            .env("STRONGROOM__SERVER__PUBLIC_ADDR", "127.0.0.1:0")
            .env("STRONGROOM__SERVER__INTERNAL_ADDR", "127.0.0.1:0")
            .env("STRONGROOM__SERVER__OPS_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("server.log")).unwrap(),
            ));
        // Route-class limits far above what a test sends; the tests of rate limiting set their
        // own (the `env` below comes last).
        for class in ["AUTH", "READ", "WRITE", "MONEY", "INTERNAL", "ADMIN"] {
            command
                .env(
                    format!("STRONGROOM__RATE_LIMITS__{class}__PER_MINUTE"),
                    "6000000",
                )
                .env(
                    format!("STRONGROOM__RATE_LIMITS__{class}__BURST"),
                    "1000000",
                );
        }
        // Every test runs with request screening refusing what it matches: the whole suite is
        // the measure of its false positives (names like O'Brien, memos, user agents).
        command.env("STRONGROOM__PROTECTION__SCREENING", "block");
        if let Database::Postgres(url) = &database {
            command.env("STRONGROOM__DATABASE__URL", url);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut daemon = Daemon::new(command.spawn().unwrap());
        let stdout = daemon.child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = loop {
            match receiver.recv_timeout(READY_TIMEOUT) {
                Ok(line) if line.starts_with("strongroom listening ") => break line,
                Ok(_) => continue,
                Err(_) => panic!(
                    "server did not become ready:\n{}",
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
                ),
            }
        };
        let field = |name: &str| {
            ready
                .split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_owned()
        };
        TestServer {
            public_url: field("public"),
            internal_url: field("internal"),
            ops_url: field("ops"),
            binary: binary.to_path_buf(),
            dir,
            ca_dir,
            daemon,
        }
    }

    /// The directory holding `ca.key` and `internal-ca.key` (pass it as `--ca-dir`).
    pub fn ca_dir(&self) -> &Path {
        self.ca_dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("strongroom.toml")
    }

    /// `host:port` of a URL such as `public_url`.
    pub fn addr(url: &str) -> String {
        url.split("://").nth(1).unwrap().to_owned()
    }

    /// The server's process id (for its CPU time in `/proc`).
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// The server's JSON log lines so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
    }

    /// A client that trusts the development CA and nothing else.
    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().unwrap()
    }

    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let ca = std::fs::read(self.path("pki/ca.pem")).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .timeout(Duration::from_secs(30))
    }

    /// A client presenting the client certificate `pki/clients/NAME.{pem,key}`.
    pub fn service_client(&self, name: &str) -> reqwest::Client {
        let mut identity = std::fs::read(self.path(&format!("pki/clients/{name}.pem"))).unwrap();
        identity.extend(std::fs::read(self.path(&format!("pki/clients/{name}.key"))).unwrap());
        self.client_builder()
            .identity(reqwest::Identity::from_pem(&identity).unwrap())
            .build()
            .unwrap()
    }

    /// Kills the server with SIGKILL (a crash) and hands back its directory (the CA directory
    /// is removed).
    pub fn kill(self) -> tempfile::TempDir {
        let TestServer {
            dir, mut daemon, ..
        } = self;
        daemon.signal_and_wait("KILL");
        dir
    }

    /// Stops the server gracefully and hands back its directory, to serve it again (the CA
    /// directory is removed; serving does not need it).
    pub fn stop(self) -> tempfile::TempDir {
        let TestServer {
            dir, mut daemon, ..
        } = self;
        daemon.signal_and_wait("TERM");
        dir
    }

    /// Another instance of the same deployment: a copy of this server's directory (its
    /// configuration, keys and certificates) served by a second process on its own ports,
    /// sharing `database` (PostgreSQL) with this one.
    pub fn replica(&self, database: Database, env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-it-")
            .tempdir()
            .unwrap();
        run_checked(
            Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", self.dir.path().display()))
                .arg(dir.path()),
        );
        Self::serve_in(&self.binary, dir, database, env)
    }

    /// SIGTERM and the exit status (graceful shutdown).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.daemon.signal_and_wait("TERM")
    }
}
