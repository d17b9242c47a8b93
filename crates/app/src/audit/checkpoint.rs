//! Signed checkpoints: both chain heads read in one snapshot, signed with the audit key and
//! stored, every `audit.checkpoint_secs` (when either head moved) and at shutdown. An audit key
//! that cannot be loaded never stops the server: the failure is logged and counted, the key
//! is tried again at the next interval, and `/readyz` reports checkpoints as late.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crypto::AuditKey;
use ledger::audit::{CheckpointFacts, checkpoint_message};
use store::{CheckpointRecord, Store};

use crate::Result;

/// The audit key, loaded from its file when first needed, again after a failure, and again
/// when the file changed (`keys rotate-audit` needs no restart).
#[derive(Debug)]
pub struct AuditSigner {
    path: PathBuf,
    key: Mutex<Option<(FileStamp, Arc<AuditKey>)>>,
}

/// What identifies a version of the key file: its modification time and length.
type FileStamp = (Option<std::time::SystemTime>, u64);

fn stamp(path: &std::path::Path) -> FileStamp {
    std::fs::metadata(path).map_or((None, 0), |m| (m.modified().ok(), m.len()))
}

impl AuditSigner {
    pub fn new(path: PathBuf) -> AuditSigner {
        AuditSigner {
            path,
            key: Mutex::new(None),
        }
    }

    /// The key, loading it now if it is not loaded yet.
    pub fn key(&self) -> std::result::Result<Arc<AuditKey>, crypto::AuditKeyError> {
        let mut slot = self
            .key
            .lock()
            .map_err(|_| crypto::AuditKeyError::Unreadable)?;
        let current = stamp(&self.path);
        if let Some((loaded, key)) = slot.as_ref()
            && *loaded == current
        {
            return Ok(key.clone());
        }
        let key = match (AuditKey::from_file(&self.path), slot.as_ref()) {
            (Ok(key), previous) => {
                if previous.is_some() {
                    tracing::info!(key_id = key.key_id(), "audit key reloaded");
                }
                Arc::new(key)
            }
            // A file being replaced or damaged: the key in service keeps signing.
            (Err(error), Some((_, previous))) => {
                tracing::error!(%error, "the audit key file cannot be read; keeping the key in service");
                return Ok(previous.clone());
            }
            (Err(error), None) => return Err(error),
        };
        *slot = Some((current, key.clone()));
        Ok(key)
    }
}

/// When the last checkpoint round succeeded, for `/readyz` and `/metrics`.
#[derive(Debug, Default)]
pub struct CheckpointState {
    /// Milliseconds since the epoch of the last successful round (0: none yet).
    last_ok_ms: AtomicI64,
}

impl CheckpointState {
    pub fn succeeded(&self, now_ms: i64) {
        self.last_ok_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Late when no round has succeeded within two intervals (since `started_ms` at first).
    pub fn is_late(&self, now_ms: i64, started_ms: i64, interval_secs: u64) -> bool {
        let last = self.last_ok_ms.load(Ordering::Relaxed).max(started_ms);
        let allowed = i64::try_from(interval_secs.saturating_mul(2_000)).unwrap_or(i64::MAX);
        now_ms.saturating_sub(last) > allowed
    }
}

/// Signs and stores a checkpoint of the current heads unless the latest one already names
/// them (`force` writes one regardless, for `audit checkpoint --out`). Returns the newest
/// checkpoint.
pub async fn write_checkpoint(
    store: &Store,
    key: &AuditKey,
    now_ms: i64,
    force: bool,
) -> Result<CheckpointRecord> {
    let ((audit_seq, audit_hash), (ledger_seq, ledger_hash)) = store.chain_heads().await?;
    if !force
        && let Some(latest) = store.latest_checkpoint().await?
        && latest.audit_seq == audit_seq
        && latest.ledger_seq == ledger_seq
        && latest.key_id == key.key_id()
    {
        return Ok(latest);
    }
    let facts = CheckpointFacts {
        at: now_ms,
        audit_seq,
        audit_hash: &audit_hash,
        ledger_seq,
        ledger_hash: &ledger_hash,
    };
    let signature = key.sign(&checkpoint_message(&facts));
    let record = CheckpointRecord {
        id: 0,
        at: now_ms,
        audit_seq,
        audit_hash,
        ledger_seq,
        ledger_hash,
        key_id: key.key_id().to_owned(),
        signature,
    };
    store.insert_checkpoint(&record).await?;
    metrics::counter!("strongroom_audit_checkpoints_total").increment(1);
    Ok(record)
}
