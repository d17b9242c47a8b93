//! Child processes that die with the test, and free loopback ports.

use std::net::TcpListener;
use std::process::{Child, Command, Output};

/// A port that was free a moment ago on 127.0.0.1 (for daemons that cannot bind port 0 and
/// report it; callers retry on a collision).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a command to completion, panicking with its output when it fails.
pub fn run_checked(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A background process killed (SIGKILL) when dropped, unless stopped gracefully first.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn new(child: Child) -> Self {
        Daemon { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM", "KILL") and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        run_checked(
            Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(self.pid().to_string()),
        );
        self.child.wait().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
