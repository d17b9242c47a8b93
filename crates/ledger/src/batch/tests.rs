//! Unit tests of `decide`: per-request answers, queue order, the chain and the pair assertion.

use super::*;
use crate::AccountKind;

fn account(user: &str, balance: i64) -> AccountState {
    AccountState {
        user_id: Some(user.to_owned()),
        kind: AccountKind::Customer,
        currency: "EUR".to_owned(),
        balance,
        held: 0,
        active: true,
    }
}

fn request(key: &str, amount: i64) -> PostingRequest {
    PostingRequest {
        kind: PostingKind::Transfer,
        transfer_id: format!("t-{key}-{amount}"),
        debit_entry_id: format!("d-{key}-{amount}"),
        credit_entry_id: format!("c-{key}-{amount}"),
        from_account_id: "alice".to_owned(),
        to_account_id: "bob".to_owned(),
        amount: Money::new(amount).unwrap(),
        currency: "EUR".to_owned(),
        memo: None,
        external_ref: None,
        initiated_by: "user:u-alice".to_owned(),
        source_owner: Some("u-alice".to_owned()),
        reverses: None,
        created_at: 1,
        idempotency: IdempotencyRecord {
            scope: "user:u-alice".to_owned(),
            key: key.to_owned(),
            request_hash: amount.to_be_bytes().to_vec(),
            response_body: format!("{{\"amount\":{amount}}}"),
        },
        request_id: format!("r-{key}"),
        ip: "192.0.2.1".to_owned(),
    }
}

#[test]
fn each_posting_of_a_batch_gets_its_own_answer() {
    let mut accounts = HashMap::new();
    accounts.insert("alice".to_owned(), account("u-alice", 100));
    accounts.insert("bob".to_owned(), account("u-bob", 0));
    let batch = [
        request("a", 60),
        request("b", 60), // would overdraw after "a": fails alone
        request("a", 60), // same key and body, not committed yet
        request("a", 61), // same key, other body
        request("c", 40),
        request("done", 5), // answered from the store
    ];
    let refs: Vec<&PostingRequest> = batch.iter().collect();
    let stored = [StoredKey {
        scope: "user:u-alice".to_owned(),
        key: "done".to_owned(),
        request_hash: 5_i64.to_be_bytes().to_vec(),
        state: "done".to_owned(),
        response_body: Some("{\"amount\":5}".to_owned()),
    }];
    let decision = decide(&accounts, &stored, &[], (7, &[9; 32]), &refs).unwrap();
    assert_eq!(
        decision.outcomes,
        vec![
            Outcome::Posted,
            Outcome::Refused(Refusal::InsufficientFunds),
            Outcome::KeyInProgress,
            Outcome::KeyReused,
            Outcome::Posted,
            Outcome::Replayed {
                body: "{\"amount\":5}".to_owned()
            },
        ]
    );
    assert_eq!(decision.passed.len(), 2);
    let balance = |id: &str| {
        decision
            .touched
            .iter()
            .find(|touched| touched.id == id)
            .map(|touched| (touched.balance_before, touched.state.balance))
    };
    assert_eq!(balance("alice"), Some((100, 0)));
    assert_eq!(balance("bob"), Some((0, 100)));
    assert_eq!(
        accounts.get("alice").map(|a| a.balance),
        Some(100),
        "the accounts change only after a commit"
    );
    let seqs: Vec<i64> = decision.entries.iter().map(|entry| entry.seq).collect();
    assert_eq!(seqs, vec![8, 9, 10, 11]);
    assert_eq!(decision.entries[0].prev_hash, vec![9; 32]);
    for pair in decision.entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "entries chain in order");
    }
    assert_eq!(decision.head().map(|(seq, _)| seq), Some(11));
}

#[test]
fn a_decision_whose_entries_do_not_net_to_zero_is_refused_before_the_write() {
    let mut accounts = HashMap::new();
    accounts.insert("alice".to_owned(), account("u-alice", 100));
    accounts.insert("bob".to_owned(), account("u-bob", 0));
    let posting = request("a", 60);
    let decision = decide(&accounts, &[], &[], (0, &[0; 32]), &[&posting]).unwrap();
    assert_eq!(assert_balanced(&decision), Ok(()));
    let mut tampered = decision;
    tampered.entries[1].amount = 59;
    assert_eq!(assert_balanced(&tampered), Err(BatchError::Unbalanced));
    tampered.entries[1].amount = 60;
    tampered.touched[0].state.balance = 41;
    assert_eq!(assert_balanced(&tampered), Err(BatchError::BalanceDrift));
}

#[test]
fn a_refusal_is_kept_with_its_key_and_answered_again() {
    let mut accounts = HashMap::new();
    accounts.insert("alice".to_owned(), account("u-alice", 10));
    accounts.insert("bob".to_owned(), account("u-bob", 0));
    let first = request("k", 60);
    let decision = decide(&accounts, &[], &[], (0, &[0; 32]), &[&first, &first]).unwrap();
    assert_eq!(
        decision.outcomes,
        vec![
            Outcome::Refused(Refusal::InsufficientFunds),
            Outcome::KeyInProgress
        ]
    );
    assert_eq!(decision.refused.len(), 1);
    assert!(decision.passed.is_empty());
    // Funded since, the same request with the same key still answers its first refusal; a
    // different request under that key is a reused key.
    accounts.insert("alice".to_owned(), account("u-alice", 1_000));
    let stored = [StoredKey {
        scope: "user:u-alice".to_owned(),
        key: "k".to_owned(),
        request_hash: 60_i64.to_be_bytes().to_vec(),
        state: "refused".to_owned(),
        response_body: Some(Refusal::InsufficientFunds.stored()),
    }];
    let other = request("k", 61);
    let decision = decide(&accounts, &stored, &[], (0, &[0; 32]), &[&first, &other]).unwrap();
    assert_eq!(
        decision.outcomes,
        vec![
            Outcome::RefusedBefore(Refusal::InsufficientFunds),
            Outcome::KeyReused
        ]
    );
    assert!(decision.passed.is_empty() && decision.refused.is_empty());
}

#[test]
fn an_external_reference_posts_once_per_caller_and_kind() {
    let mut accounts = HashMap::new();
    accounts.insert("alice".to_owned(), account("u-alice", 100));
    accounts.insert("bob".to_owned(), account("u-bob", 0));
    let with_ref = |key: &str, external_ref: &str, initiated_by: &str| {
        let mut posting = request(key, 1);
        posting.external_ref = Some(external_ref.to_owned());
        posting.initiated_by = initiated_by.to_owned();
        posting
    };
    let stored = [StoredRef {
        scope: "service:bank".to_owned(),
        kind: "transfer".to_owned(),
        external_ref: "old".to_owned(),
        transfer_id: "t-original".to_owned(),
    }];
    let batch = [
        with_ref("a", "old", "service:bank"), // taken in the store
        with_ref("b", "new", "service:bank"),
        with_ref("c", "new", "service:bank"), // taken by "b" in this batch
        with_ref("d", "new", "service:card"), // another caller's reference
    ];
    let mut insufficient = with_ref("e", "late", "service:bank");
    insufficient.amount = Money::new(1_000).unwrap();
    let after = with_ref("f", "late", "service:bank"); // a refused posting took nothing
    let refs: Vec<&PostingRequest> = batch.iter().chain([&insufficient, &after]).collect();
    let decision = decide(&accounts, &[], &stored, (0, &[0; 32]), &refs).unwrap();
    let duplicate = |original_id: &str| {
        Outcome::Refused(Refusal::DuplicateExternalRef {
            original_id: original_id.to_owned(),
        })
    };
    assert_eq!(
        decision.outcomes,
        vec![
            duplicate("t-original"),
            Outcome::Posted,
            duplicate("t-b-1"),
            Outcome::Posted,
            Outcome::Refused(Refusal::InsufficientFunds),
            Outcome::Posted,
        ]
    );
    assert_eq!(decision.passed.len(), 3);
    assert_eq!(decision.refused.len(), 3);
}
