//! The audit log's chain and checkpoints, with no IO. Each audit record's hash covers the
//! record and its predecessor's hash (like the ledger's entries); a checkpoint names the audit
//! head and the ledger head at one moment, and its canonical bytes are what the audit key
//! signs. `AuditReplay` walks the log in sequence order, as `strongroom audit verify` reads it,
//! and checks each record against its hash, its predecessor, and any checkpoint or anchor that
//! names its sequence number.

use std::collections::BTreeMap;

use aws_lc_rs::digest::{SHA256, digest};

use crate::{GENESIS_HASH, VerifyError, put_field};

/// The fields of an audit record that its hash commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFacts<'a> {
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// `user`, `service`, `operator` or `system`.
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    /// `success`, `failure`, `pending`, `denied`.
    pub outcome: &'a str,
    pub request_id: &'a str,
    pub ip: &'a str,
    /// A JSON object of ids and amounts, never personal data.
    pub details: &'a str,
}

/// SHA-256 over a domain tag, the predecessor's hash and every field, length-prefixed.
pub fn audit_hash(previous: &[u8], facts: &AuditFacts<'_>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(256);
    let mut put = |field: &[u8]| put_field(&mut bytes, field);
    put(b"strongroom-audit-v1");
    put(previous);
    put(&facts.seq.to_be_bytes());
    put(&facts.at.to_be_bytes());
    put(facts.actor_kind.as_bytes());
    put(facts.actor_id.as_bytes());
    put(facts.action.as_bytes());
    put(facts.target.as_bytes());
    put(facts.outcome.as_bytes());
    put(facts.request_id.as_bytes());
    put(facts.ip.as_bytes());
    put(facts.details.as_bytes());
    digest(&SHA256, &bytes).as_ref().to_vec()
}

/// What a signed checkpoint states: both chain heads at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFacts<'a> {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub audit_seq: i64,
    pub audit_hash: &'a [u8],
    pub ledger_seq: i64,
    pub ledger_hash: &'a [u8],
}

/// The bytes the audit key signs for a checkpoint.
pub fn checkpoint_message(facts: &CheckpointFacts<'_>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(128);
    let mut put = |field: &[u8]| put_field(&mut bytes, field);
    put(b"strongroom-checkpoint-v1");
    put(&facts.at.to_be_bytes());
    put(&facts.audit_seq.to_be_bytes());
    put(facts.audit_hash);
    put(&facts.ledger_seq.to_be_bytes());
    put(facts.ledger_hash);
    bytes
}

/// One audit record as read from the store.
#[derive(Debug, Clone)]
pub struct StoredRecord<'a> {
    pub facts: AuditFacts<'a>,
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

/// Walks a chain (audit records or ledger entries) checking, at named sequence numbers, the
/// hash a trusted source (a verified checkpoint or an anchor) says it must have.
#[derive(Debug, Default)]
pub struct Expectations {
    at: BTreeMap<i64, (Vec<u8>, String)>,
}

impl Expectations {
    /// The record at `seq` must have `hash`; `source` names who said so.
    pub fn pin(&mut self, seq: i64, hash: &[u8], source: String) -> Result<(), VerifyError> {
        if seq == 0 {
            return if hash == GENESIS_HASH {
                Ok(())
            } else {
                Err(VerifyError(format!(
                    "{source} names the empty chain with a non-genesis hash"
                )))
            };
        }
        if let Some((known, other)) = self.at.get(&seq)
            && known.as_slice() != hash
        {
            return Err(VerifyError(format!(
                "{source} and {other} disagree about seq {seq}"
            )));
        }
        self.at.insert(seq, (hash.to_vec(), source));
        Ok(())
    }

    /// Checks the record at `seq` against what was expected of it.
    pub fn check(&self, seq: i64, hash: &[u8], name: &str) -> Result<(), VerifyError> {
        match self.at.get(&seq) {
            Some((expected, source)) if expected.as_slice() != hash => Err(VerifyError(format!(
                "{name}: does not match {source} (history rewritten)"
            ))),
            _ => Ok(()),
        }
    }

    /// After the last record: every expectation beyond it names a record that is gone.
    pub fn finish(&self, last_seq: i64, what: &str) -> Result<(), VerifyError> {
        match self.at.range(last_seq.saturating_add(1)..).next() {
            Some((seq, (_, source))) => Err(VerifyError(format!(
                "{source} names {what} seq {seq}, but the chain ends at seq {last_seq} (records removed)"
            ))),
            None => Ok(()),
        }
    }
}

/// The state of an audit-log replay in progress.
#[derive(Debug)]
pub struct AuditReplay {
    previous: Vec<u8>,
    last_seq: i64,
    records: u64,
    expectations: Expectations,
}

impl AuditReplay {
    pub fn new(expectations: Expectations) -> AuditReplay {
        AuditReplay {
            previous: GENESIS_HASH.to_vec(),
            last_seq: 0,
            records: 0,
            expectations,
        }
    }

    /// The sequence number of the last record replayed (0 before the first).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Replays the next record.
    pub fn record(&mut self, record: &StoredRecord<'_>) -> Result<(), VerifyError> {
        let seq = record.facts.seq;
        let name = format!("audit record seq {seq}");
        if Some(seq) != self.last_seq.checked_add(1) {
            return Err(VerifyError(format!(
                "{name}: sequence gap after {}",
                self.last_seq
            )));
        }
        if record.prev_hash != self.previous.as_slice() {
            return Err(VerifyError(format!(
                "{name}: does not chain to its predecessor"
            )));
        }
        if audit_hash(&self.previous, &record.facts) != record.hash {
            return Err(VerifyError(format!(
                "{name}: content does not match its hash (altered)"
            )));
        }
        self.expectations.check(seq, record.hash, &name)?;
        self.previous = record.hash.to_vec();
        self.last_seq = seq;
        self.records = self.records.saturating_add(1);
        Ok(())
    }

    /// After the last record: the stored head must be the last record, and nothing a
    /// checkpoint or anchor named may be missing. Returns how many records were replayed.
    pub fn finish(self, head: (i64, &[u8])) -> Result<u64, VerifyError> {
        let (head_seq, head_hash) = head;
        if head_seq != self.last_seq || head_hash != self.previous.as_slice() {
            return Err(VerifyError(format!(
                "the audit head (seq {head_seq}) does not match the last record (seq {})",
                self.last_seq
            )));
        }
        self.expectations.finish(self.last_seq, "audit")?;
        Ok(self.records)
    }
}

#[cfg(test)]
mod tests;
