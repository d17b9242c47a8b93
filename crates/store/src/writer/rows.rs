//! The rows a decided batch writes, encoded for the backends' multi-row statements: the
//! transfers, the chained entries, the idempotency keys with their answers, the balances
//! (compare-and-set) and the chained audit records.

use std::borrow::Cow;

use ledger::batch::{Decision, PostingRequest};

use super::sql::Writes;
use crate::StoreError;
use crate::audit::{ActorKind, AuditEntry};

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

pub(super) fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Invariant("batch rows do not encode"))
}

/// The rows of a decided batch. A balance is written only if it still holds the value it was
/// decided from (compare-and-set). Rows expected: a transfer, its event, a key and an audit
/// record per posting (and a reversal's second event), a key per refusal, the entries, the balances, and both heads (which stay where
/// they are when only refusals are written).
pub(super) fn writes(
    decision: &Decision<'_>,
    ledger_head: (i64, &[u8]),
    audit_head: (i64, Vec<u8>),
) -> Result<Writes, StoreError> {
    // Each row a tuple, which serde writes as a JSON array: no `Value` tree built per row.
    let transfers: Vec<_> = decision
        .passed
        .iter()
        .map(|request| {
            (
                &request.transfer_id,
                request.kind.as_str(),
                &request.from_account_id,
                &request.to_account_id,
                request.amount.minor_units(),
                &request.currency,
                &request.memo,
                &request.external_ref,
                &request.initiated_by,
                request.created_at,
                &request.reverses,
            )
        })
        .collect();
    let journal: Vec<_> = decision
        .entries
        .iter()
        .map(|entry| {
            (
                entry.seq,
                entry.id,
                entry.transfer_id,
                entry.account_id,
                entry.direction.as_str(),
                entry.amount,
                entry.balance_after,
                entry.currency,
                entry.created_at,
                hex(&entry.prev_hash),
                hex(&entry.hash),
            )
        })
        .collect();
    let keys = key_rows(decision);
    let balances: Vec<_> = decision
        .touched
        .iter()
        .map(|touched| (touched.id, touched.state.balance, touched.balance_before))
        .collect();
    let (last_seq, last_hash) = decision.head().unwrap_or(ledger_head);
    let (audit, audit_seq, audit_hash) = audit_rows(decision, audit_head)?;
    let reversals = decision
        .passed
        .iter()
        .filter(|request| request.reverses.is_some())
        .count();
    let expected_rows = decision
        .passed
        .len()
        .saturating_mul(4)
        .saturating_add(reversals)
        .saturating_add(decision.refused.len())
        .saturating_add(decision.entries.len())
        .saturating_add(decision.touched.len())
        .saturating_add(2);
    Ok(Writes {
        audit,
        audit_seq,
        audit_hash,
        transfers: to_json(&transfers)?,
        entries: to_json(&journal)?,
        keys: to_json(&keys)?,
        balances: to_json(&balances)?,
        last_seq,
        last_hash: last_hash.to_vec(),
        expected_rows: u64::try_from(expected_rows).unwrap_or(u64::MAX),
    })
}

/// The idempotency keys of the passed postings (`done`, with their receipts) and of the
/// refused ones (`refused`, with their refusals).
type KeyRow<'a> = (&'a str, &'a str, String, &'static str, Cow<'a, str>, i64);

fn key_rows<'a>(decision: &'a Decision<'_>) -> Vec<KeyRow<'a>> {
    let row = |request: &'a PostingRequest, state: &'static str, body: Cow<'a, str>| {
        let record = &request.idempotency;
        (
            record.scope.as_str(),
            record.key.as_str(),
            hex(&record.request_hash),
            state,
            body,
            request.created_at,
        )
    };
    let passed = decision.passed.iter().map(|request| {
        row(
            request,
            "done",
            Cow::Borrowed(&request.idempotency.response_body),
        )
    });
    let refused = decision
        .refused
        .iter()
        .map(|(request, refusal)| row(request, "refused", Cow::Owned(refusal.stored())));
    passed.chain(refused).collect()
}

/// The passed postings' audit records, chained from the audit head: their rows as JSON and
/// the new head.
fn audit_rows(
    decision: &Decision<'_>,
    audit_head: (i64, Vec<u8>),
) -> Result<(String, i64, Vec<u8>), StoreError> {
    let entries: Vec<AuditEntry> = decision.passed.iter().map(|r| posting_audit(r)).collect();
    let records = crate::audit::chain(audit_head.clone(), &entries)?;
    let (seq, hash) = records
        .last()
        .map(|record| (record.seq, record.hash.clone()))
        .unwrap_or(audit_head);
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.seq,
                r.at,
                &r.actor_kind,
                &r.actor_id,
                &r.action,
                &r.target,
                &r.outcome,
                &r.request_id,
                &r.ip,
                &r.details,
                hex(&r.prev_hash),
                hex(&r.hash),
            )
        })
        .collect();
    Ok((to_json(&rows)?, seq, hash))
}

/// The audit record of a posting: who asked (`user:ID`, `service:NAME`), what moved.
fn posting_audit(request: &PostingRequest) -> AuditEntry {
    let (actor_kind, actor_id) = actor(&request.initiated_by);
    AuditEntry {
        at: request.created_at,
        actor_kind,
        actor_id: actor_id.to_owned(),
        action: format!("ledger.{}", request.kind.as_str()),
        target: format!("transfer:{}", request.transfer_id),
        outcome: "success",
        request_id: request.request_id.clone(),
        ip: request.ip.clone(),
        details: serde_json::json!({
            "from_account_id": request.from_account_id,
            "to_account_id": request.to_account_id,
            "amount": request.amount.minor_units(),
            "currency": request.currency,
        })
        .to_string(),
    }
}

/// Who a ledger change's `initiated_by` (`user:ID`, `service:NAME`, `operator:NAME`) names.
pub(super) fn actor(initiated_by: &str) -> (ActorKind, &str) {
    match initiated_by.split_once(':') {
        Some(("user", id)) => (ActorKind::User, id),
        Some(("service", name)) => (ActorKind::Service, name),
        Some(("operator", name)) => (ActorKind::Operator, name),
        _ => (ActorKind::System, initiated_by),
    }
}
