//! A throwaway PostgreSQL cluster in a temporary directory, on a free loopback port, using the
//! binaries of Debian's `postgresql` package. `initdb` refuses to run as root, so as root the
//! cluster runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{free_port, run_checked};

const START_ATTEMPTS_MAX: usize = 3;
/// Rows a durable cluster writes to warm its WAL up (about 600 MB of WAL; see `start_durable`).
const WARM_WAL_ROWS: u64 = 2_000_000;

pub struct PgCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    pub port: u16,
    running: bool,
    /// `fsync` and `synchronous_commit` on.
    durable: bool,
    /// Started with `start_tls`: the superuser's own commands go through the Unix socket.
    tls: bool,
}

/// TLS for a cluster started with `start_tls`: the server's certificate and key, the CA that
/// signs client certificates, and the `pg_hba.conf` lines for TCP clients (the superuser's
/// Unix-socket access is added).
pub struct PgTls<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
    pub client_ca_pem: &'a str,
    pub hba: &'a str,
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// The newest installed `/usr/lib/postgresql/*/bin` that has `initdb`.
fn bindir() -> PathBuf {
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run the test command (cargo xtask test) as root once")
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates
        .pop()
        .expect("no initdb under /usr/lib/postgresql/*/bin")
        .1
}

impl PgCluster {
    /// Initialises and starts a new cluster with trust authentication on 127.0.0.1 only, with
    /// `fsync=off` (tests check behaviour, not the disk).
    pub fn start() -> PgCluster {
        Self::start_with(false, None)
    }

    /// As `start`, with `ssl = on` and the given certificates and `pg_hba.conf`.
    pub fn start_tls(tls: &PgTls) -> PgCluster {
        Self::start_with(false, Some(tls))
    }

    /// As `start`, but durable: `fsync` and `synchronous_commit` on, as users run it (for
    /// benchmarks), and warmed up like a cluster that has run a while: a fresh cluster creates
    /// each 16 MB WAL segment as it needs it, zero-filling and syncing it while every commit
    /// waits (tens of milliseconds, every second or two under load), where a running one
    /// reuses the segments its checkpoints retired. So before it is handed out, the cluster
    /// writes `WARM_WAL_ROWS` rows' worth of WAL and checkpoints, keeping the retired segments
    /// (`min_wal_size`) for reuse.
    pub fn start_durable() -> PgCluster {
        let cluster = Self::start_with(true, None);
        let warmed = cluster.psql(
            "postgres",
            &format!(
                "CREATE TABLE strongroom_warm_wal AS SELECT g, repeat('x', 200) AS pad \
                 FROM generate_series(1, {WARM_WAL_ROWS}) AS g; \
                 DROP TABLE strongroom_warm_wal; CHECKPOINT;"
            ),
        );
        assert!(warmed.status.success(), "{warmed:?}");
        cluster
    }

    fn start_with(durable: bool, tls: Option<&PgTls>) -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-pg-")
            .tempdir()
            .unwrap();
        let mut cluster = PgCluster {
            bindir: bindir(),
            dir,
            port: 0,
            running: false,
            durable,
            tls: tls.is_some(),
        };
        if is_root() {
            run_checked(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(cluster.dir.path()),
            );
        }
        let data = cluster.data_dir();
        run_checked(&mut cluster.command(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        ));
        if let Some(tls) = tls {
            cluster.configure_tls(tls);
        }
        for _ in 0..START_ATTEMPTS_MAX {
            cluster.port = free_port();
            if cluster.try_start() {
                return cluster;
            }
        }
        panic!(
            "PostgreSQL did not start; see {}",
            cluster.dir.path().join("log").display()
        );
    }

    fn configure_tls(&self, tls: &PgTls) {
        use std::os::unix::fs::PermissionsExt;
        let data = self.data_dir();
        std::fs::write(data.join("server.crt"), tls.cert_pem).unwrap();
        std::fs::write(data.join("server.key"), tls.key_pem).unwrap();
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::fs::write(data.join("client-ca.crt"), tls.client_ca_pem).unwrap();
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str(
            "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'client-ca.crt'\n",
        );
        std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            format!("local all postgres trust\n{}\n", tls.hba),
        )
        .unwrap();
        if is_root() {
            run_checked(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(self.dir.path()),
            );
        }
    }

    /// Where the superuser's own commands connect: the Unix socket of a TLS cluster (whose TCP
    /// rules are the test's), loopback TCP otherwise.
    fn admin_host(&self) -> String {
        if self.tls {
            self.dir.path().display().to_string()
        } else {
            "127.0.0.1".into()
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let binary = self.bindir.join(program);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command.args(args).current_dir(self.dir.path());
        command
    }

    fn try_start(&mut self) -> bool {
        let durability = if self.durable {
            "-c fsync=on -c synchronous_commit=on -c min_wal_size=1GB"
        } else {
            "-c fsync=off"
        };
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 {durability} -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let data = self.data_dir();
        let log = self.dir.path().join("log");
        let status = self
            .command(
                "pg_ctl",
                &[
                    "-s",
                    "-D",
                    data.to_str().unwrap(),
                    "-l",
                    log.to_str().unwrap(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            )
            .status()
            .unwrap();
        self.running = status.success();
        self.running
    }

    /// Starts the cluster again on the same port after `stop` (fault injection).
    pub fn restart(&mut self) {
        assert!(self.try_start(), "PostgreSQL did not restart");
    }

    /// Stops the cluster immediately, as a crash or network cut would look to clients.
    pub fn stop(&mut self) {
        if self.running {
            let data = self.data_dir();
            let _ = self
                .command(
                    "pg_ctl",
                    &[
                        "-s",
                        "-D",
                        data.to_str().unwrap(),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                )
                .status();
            self.running = false;
        }
    }

    /// Freezes the postmaster and every backend with `SIGSTOP`: connections and queries hang
    /// instead of failing at once, as behind a dead network path. `thaw` resumes them.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// The postmaster's process id (its backends are its children).
    pub fn postmaster_pid(&self) -> u32 {
        let pid_file = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).unwrap();
        pid_file.lines().next().unwrap().trim().parse().unwrap()
    }

    fn signal(&self, signal: &str) {
        let postmaster = self.postmaster_pid().to_string();
        // The postmaster first, so that no backend is forked after the children were signalled.
        run_checked(Command::new("kill").args([signal, &postmaster]));
        let _ = Command::new("pkill")
            .args([signal, "-P", &postmaster])
            .status();
    }

    /// Creates a database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let port = self.port.to_string();
        let host = self.admin_host();
        run_checked(&mut self.command(
            "createdb",
            &["-h", &host, "-p", &port, "-U", "postgres", name],
        ));
        self.url(name)
    }

    /// Runs SQL as the superuser with `psql` (stops at the first error).
    pub fn psql(&self, database: &str, sql: &str) -> std::process::Output {
        let port = self.port.to_string();
        let host = self.admin_host();
        self.command(
            "psql",
            &[
                "-h",
                &host,
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        )
        .output()
        .unwrap()
    }

    /// A plain-SQL `pg_dump` of `database` (data and schema), as the superuser.
    pub fn dump(&self, database: &str) -> String {
        let port = self.port.to_string();
        let output = self
            .command(
                "pg_dump",
                &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", database],
            )
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
