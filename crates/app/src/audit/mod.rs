//! The audit log's use cases: the record every change writes beside itself (`audit_entry`,
//! from the request's principal), the signed checkpoints the server writes every
//! `audit.checkpoint_secs` and at shutdown (`checkpoint.rs`), and the reads behind
//! `GET /v1/admin/audit` (which are themselves audited).

mod checkpoint;

pub use checkpoint::{AuditSigner, CheckpointState, write_checkpoint};
use store::{ActorKind, AuditEntry};

use crate::{App, Principal, RequestContext};

/// `[audit]`: the key that signs checkpoints and how often they are written.
#[derive(Debug)]
pub struct Audit {
    pub checkpoint_secs: u64,
    pub signer: AuditSigner,
    pub state: CheckpointState,
    /// When this process started (ms), so a fresh server is not late before its first round.
    pub started_ms: i64,
}

impl Audit {
    pub fn new(checkpoint_secs: u64, key_file: std::path::PathBuf, started_ms: i64) -> Audit {
        Audit {
            checkpoint_secs,
            signer: AuditSigner::new(key_file),
            state: CheckpointState::default(),
            started_ms,
        }
    }
}

impl App {
    /// One checkpoint round: load the key if needed, sign and store the heads. A failure is
    /// logged and counted; the next round retries.
    pub async fn checkpoint_round(&self) -> bool {
        let now = self.clock.now_ms();
        let key = match self.audit.signer.key() {
            Ok(key) => key,
            Err(error) => {
                metrics::counter!("strongroom_audit_checkpoint_failures_total").increment(1);
                tracing::error!(%error, "audit checkpoint skipped: the audit key is unavailable; retrying");
                return false;
            }
        };
        match write_checkpoint(&self.store, &key, now, false).await {
            Ok(_) => {
                self.audit.state.succeeded(now);
                true
            }
            Err(error) => {
                metrics::counter!("strongroom_audit_checkpoint_failures_total").increment(1);
                tracing::error!(%error, "audit checkpoint failed; retrying");
                false
            }
        }
    }

    /// True when no checkpoint round has succeeded within two intervals (`/readyz`).
    pub fn checkpoints_late(&self) -> bool {
        self.audit.state.is_late(
            self.clock.now_ms(),
            self.audit.started_ms,
            self.audit.checkpoint_secs,
        )
    }
}

impl App {
    /// The audit record of an action by the request's principal: ids only, never personal
    /// data (`details` holds ids and amounts).
    pub fn audit_entry(
        &self,
        ctx: &RequestContext,
        action: &str,
        target: &str,
        outcome: &'static str,
        details: serde_json::Value,
    ) -> AuditEntry {
        let (actor_kind, actor_id) = match &ctx.principal {
            Principal::User(caller) => (ActorKind::User, caller.user_id.as_str().to_owned()),
            Principal::Service(service) => (ActorKind::Service, service.name.clone()),
            Principal::Anonymous => (ActorKind::User, "anonymous".to_owned()),
        };
        AuditEntry {
            at: self.clock.now_ms(),
            actor_kind,
            actor_id,
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
            request_id: ctx.request_id.clone(),
            ip: ctx.ip.to_string(),
            details: details.to_string(),
        }
    }
}
