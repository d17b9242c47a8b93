//! A throwaway HAProxy (Debian's package) in HTTP mode on a free loopback port, in front of
//! several `strongroom` instances: TLS terminated with the development server certificate,
//! re-encrypted to each instance (verified against the development CA), requests balanced
//! round-robin, the client address appended to `X-Forwarded-For`.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{Daemon, free_port};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Haproxy {
    _daemon: Daemon,
    _dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT`
    pub url: String,
}

impl Haproxy {
    /// Balances over `backends` (`host:port` of TLS listeners). `pki` is a server directory's
    /// `pki/` (its `server.pem`, `server.key` and `ca.pem` are used).
    pub fn start(backends: &[String], pki: &Path) -> Haproxy {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-haproxy-")
            .tempdir()
            .unwrap();
        let mut bundle = std::fs::read(pki.join("server.pem")).unwrap();
        bundle.extend(std::fs::read(pki.join("server.key")).unwrap());
        let bundle_path = dir.path().join("frontend.pem");
        std::fs::write(&bundle_path, bundle).unwrap();
        let port = free_port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                format!(
                    "    server s{i} {addr} ssl verify required ca-file {} sni str(localhost)\n",
                    pki.join("ca.pem").display()
                )
            })
            .collect();
        let config = format!(
            "global\n    maxconn 1024\n\
             defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
             frontend api\n    bind 127.0.0.1:{port} ssl crt {}\n    option forwardfor\n    default_backend instances\n\
             backend instances\n    balance roundrobin\n    option http-server-close\n{servers}",
            bundle_path.display()
        );
        let config_path = dir.path().join("haproxy.cfg");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("haproxy.log")).unwrap(),
            ))
            .spawn()
            .expect(
                "`haproxy` not found: run the test command (cargo xtask test), which installs it",
            );
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "HAProxy did not start: {}",
                std::fs::read_to_string(dir.path().join("haproxy.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Haproxy {
            _daemon: Daemon::new(child),
            _dir: dir,
            url: format!("https://127.0.0.1:{port}"),
        }
    }
}
