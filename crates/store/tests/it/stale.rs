//! The ledger writer decides a batch from its own cache and heads only while nobody else
//! writes (on PostgreSQL, in one round trip). Another instance's posting, an audit record
//! appended by someone else, or a freeze between two batches makes the next batch decide again
//! from fresh reads: balances, refusals, replays and both hash chains stay exact.

use ledger::batch::{Outcome, PostingRequest};
use ledger::{PostingKind, Refusal};
use store::{ActorKind, AuditEntry, LedgerWriter, Store};

use crate::conformance::transfer;
use crate::{funded_account, stores};

fn withdrawal(key: &str, amount: i64) -> PostingRequest {
    transfer(key, "a1", "settlement-EUR", amount, PostingKind::Withdrawal)
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry {
        at: 20,
        actor_kind: ActorKind::Operator,
        actor_id: "ops".into(),
        action: action.into(),
        target: "account:a1".into(),
        outcome: "success",
        request_id: format!("req-{action}"),
        ip: "192.0.2.9".into(),
        details: "{}".into(),
    }
}

async fn balance(store: &Store) -> i64 {
    store.find_account("a1").await.unwrap().unwrap().balance
}

/// Every record names the one before it, in sequence, up to the head.
async fn assert_chains(backend: &str, store: &Store) {
    let journal = store.journal_after(0).await.unwrap();
    for (before, after) in journal.iter().zip(journal.iter().skip(1)) {
        assert_eq!(after.entry.seq, before.entry.seq + 1, "{backend}");
        assert_eq!(after.entry.prev_hash, before.entry.hash, "{backend}");
    }
    let last = journal.last().unwrap();
    assert_eq!(
        store.ledger_head().await.unwrap(),
        (last.entry.seq, last.entry.hash.clone()),
        "{backend}"
    );
    let records = store.audit_after(0, 1_000).await.unwrap();
    for (before, after) in records.iter().zip(records.iter().skip(1)) {
        assert_eq!(after.seq, before.seq + 1, "{backend}");
        assert_eq!(after.prev_hash, before.hash, "{backend}");
    }
    let last = records.last().unwrap();
    assert_eq!(
        store.audit_head().await.unwrap(),
        (last.seq, last.hash.clone()),
        "{backend}"
    );
}

#[tokio::test]
async fn a_write_by_anyone_else_between_two_batches_is_seen_by_the_next() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        let first = funded_account(&store, "a1", 100).await;
        // A second writer on the same database: another instance.
        let second = LedgerWriter::start(store.clone()).unwrap();
        // The first writer's cache now holds a1 at 90...
        assert_eq!(
            first.post(withdrawal("w1", 10)).await.unwrap(),
            Outcome::Posted,
            "{backend}"
        );
        // ...and the other instance takes 80 of it.
        assert_eq!(
            second.post(withdrawal("w2", 80)).await.unwrap(),
            Outcome::Posted,
            "{backend}"
        );
        // Trusting its cache, the first writer would let 20 go: the account holds 10.
        assert_eq!(
            first.post(withdrawal("w3", 20)).await.unwrap(),
            Outcome::Refused(Refusal::InsufficientFunds),
            "{backend}"
        );
        assert_eq!(
            first.post(withdrawal("w4", 10)).await.unwrap(),
            Outcome::Posted,
            "{backend}"
        );
        assert_eq!(balance(&store).await, 0, "{backend}");

        // A key the other instance stored is found, and its answer replayed.
        assert_eq!(
            first.post(withdrawal("w2", 80)).await.unwrap(),
            Outcome::Replayed { body: "{}".into() },
            "{backend}"
        );

        // An audit record appended by someone else: the next posting's record follows it.
        store.append_audit(&[audit("test.note")]).await.unwrap();
        let deposit = transfer("d1", "settlement-EUR", "a1", 50, PostingKind::Deposit);
        assert_eq!(
            first.post(deposit).await.unwrap(),
            Outcome::Posted,
            "{backend}"
        );
        assert_chains(backend, &store).await;

        // A freeze between two batches: the frozen account sends nothing.
        assert!(
            store
                .set_account_active("a1", false, &audit("ledger.freeze"))
                .await
                .unwrap()
        );
        assert_eq!(
            first.post(withdrawal("w5", 10)).await.unwrap(),
            Outcome::Refused(Refusal::AccountNotActive),
            "{backend}"
        );
        assert_eq!(balance(&store).await, 50, "{backend}");
        assert_chains(backend, &store).await;
    }
}
