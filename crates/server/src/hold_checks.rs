//! `ledger verify` over holds: every hold against its capture's transfer and its
//! hash-chained audit records, and every account's `held` against its active holds
//! (`ledger::holds::HoldCheck`), from one snapshot of the store.

use store::Store;

/// Every hold against its capture's transfer and its (hash-chained) audit records, and every
/// account's `held` against its active holds (`ledger::holds::HoldCheck`), all read in one
/// snapshot so that a server placing and closing holds meanwhile raises no false alarm.
pub async fn check_holds(store: &Store) -> anyhow::Result<u64> {
    let snapshot = store.hold_snapshot().await?;
    let mut check = ledger::holds::HoldCheck::against_audit(audited_holds(&snapshot.audit));
    for hold in &snapshot.holds {
        check.hold(&hold.stored())?;
    }
    let captures = u64::try_from(snapshot.captures).unwrap_or(0);
    Ok(check.finish(
        snapshot
            .accounts
            .iter()
            .map(|account| ledger::holds::HeldAccount {
                id: &account.id,
                kind: &account.kind,
                balance: account.balance,
                held: account.held,
            }),
        captures,
    )?)
}

/// What the audit log says of each hold (`ledger::holds::AuditedHold`), by hold id, from its
/// `(target, action, actor, details)` records.
fn audited_holds(
    records: &[(String, String, String, String)],
) -> std::collections::HashMap<String, ledger::holds::AuditedHold> {
    use ledger::holds::{HoldStatus, Placement};
    let mut audited: std::collections::HashMap<String, ledger::holds::AuditedHold> =
        std::collections::HashMap::new();
    for (target, action, actor, details) in records {
        let Some(id) = target.strip_prefix("hold:") else {
            continue;
        };
        let details: serde_json::Value = serde_json::from_str(details).unwrap_or_default();
        let text = |key: &str| details.get(key).and_then(serde_json::Value::as_str);
        let number = |key: &str| details.get(key).and_then(serde_json::Value::as_i64);
        let record = audited.entry(id.to_owned()).or_default();
        match action.as_str() {
            "ledger.hold" => {
                record.placed = match (text("account_id"), number("amount"), text("currency")) {
                    (Some(account_id), Some(amount), Some(currency)) => Some(Placement {
                        account_id: account_id.to_owned(),
                        amount,
                        currency: currency.to_owned(),
                        expires_at: number("expires_at").unwrap_or(-1),
                        placed_by: actor.clone(),
                    }),
                    _ => None,
                };
            }
            "ledger.hold.expire" => record.closed = Some(HoldStatus::Expired),
            "ledger.hold.void" => record.closed = text("status").and_then(HoldStatus::parse),
            _ => {}
        }
    }
    audited
}
