//! A throwaway Redis (`redis-server`, Debian's package) on a free loopback port, without
//! persistence. `stop` and `start` kill and bring it back on the same port, to test what
//! instances do while Redis is gone.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{Daemon, free_port};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Redis {
    daemon: Option<Daemon>,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis {
            daemon: None,
            port: free_port(),
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills Redis (SIGKILL: connections drop at once, like a crashed host).
    pub fn stop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            daemon.signal_and_wait("KILL");
        }
    }

    /// Starts Redis again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("`redis-server` not found: run the test command (cargo xtask test), which installs it");
        self.daemon = Some(Daemon::new(child));
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "Redis did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
