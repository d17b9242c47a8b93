//! Deciding a batch of postings, with no IO: for each request in queue order, its idempotency
//! key (answered from the store, repeated inside the batch, or new), the rules of `apply`
//! against balances that already include the postings before it, and — for those that pass —
//! the two hash-chained entries from the current chain head. Before anything is written the
//! decision asserts that every passed transfer nets to zero and that each balance moved by
//! exactly its entries (TigerBeetle's pair assertion; `verify::Replay` asserts it again after
//! reading). The ledger writer loads the inputs, calls `decide`, and writes the result.

use std::collections::HashMap;

use crate::{
    AccountState, Direction, EntryFacts, Money, Posting, PostingKind, Refusal, TransferFacts,
    apply, entry_hash,
};

/// One money movement to post, already validated by the use case.
#[derive(Debug, Clone)]
pub struct PostingRequest {
    pub kind: PostingKind,
    pub transfer_id: String,
    pub debit_entry_id: String,
    pub credit_entry_id: String,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: Money,
    pub currency: String,
    pub memo: Option<String>,
    pub external_ref: Option<String>,
    /// `user:{id}` or `service:{name}`.
    pub initiated_by: String,
    /// For customer transfers: the user the source account must belong to.
    pub source_owner: Option<String>,
    /// For a reversal: the transfer it reverses (each is reversed at most once).
    pub reverses: Option<String>,
    pub created_at: i64,
    pub idempotency: IdempotencyRecord,
    /// The request that asked for it and its client address, for the posting's audit record.
    pub request_id: String,
    pub ip: String,
}

impl PostingRequest {
    /// The transfer row this posting writes, as its entries' hashes commit to it.
    pub fn transfer_facts(&self) -> TransferFacts<'_> {
        TransferFacts {
            kind: self.kind.as_str(),
            from_account_id: &self.from_account_id,
            to_account_id: &self.to_account_id,
            amount: self.amount.minor_units(),
            currency: &self.currency,
            memo: self.memo.as_deref(),
            external_ref: self.external_ref.as_deref(),
            initiated_by: &self.initiated_by,
            created_at: self.created_at,
            reverses: self.reverses.as_deref(),
        }
    }
}

/// The idempotency key of a posting and the answer to store with it.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    /// `user:{id}` or `service:{name}`: keys of different callers never collide.
    pub scope: String,
    pub key: String,
    pub request_hash: Vec<u8>,
    /// The original answer, replayed for a repeat of the same request.
    pub response_body: String,
}

/// An idempotency key as found in the store.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub scope: String,
    pub key: String,
    pub request_hash: Vec<u8>,
    /// `done` once its posting committed.
    pub state: String,
    pub response_body: Option<String>,
}

/// A movement already posted with an external reference, as found in the store.
#[derive(Debug, Clone)]
pub struct StoredRef {
    /// `initiated_by` of the original: references are unique per caller and posting kind.
    pub scope: String,
    pub kind: String,
    pub external_ref: String,
    pub transfer_id: String,
}

/// What happened to one request of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Posted,
    /// Nothing moved; the refusal is kept with the key (`Decision::refused`), so a replay of
    /// the request answers it again.
    Refused(Refusal),
    /// The key's first request was refused: that refusal, answered again.
    RefusedBefore(Refusal),
    /// The key was used before with the same request: its original answer.
    Replayed {
        body: String,
    },
    /// The key was used before with a different request.
    KeyReused,
    /// The key belongs to a request that has not finished (earlier in this batch).
    KeyInProgress,
}

/// One journal entry of a passed posting, chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEntry<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub transfer_id: &'a str,
    pub account_id: &'a str,
    pub direction: Direction,
    pub amount: i64,
    pub balance_after: i64,
    pub currency: &'a str,
    pub created_at: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// An account whose balance the batch changes: its new state, and the balance it was decided
/// from (the write is a compare-and-set on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched<'a> {
    pub id: &'a str,
    pub state: AccountState,
    pub balance_before: i64,
}

/// A decided batch.
#[derive(Debug)]
pub struct Decision<'a> {
    /// One per request, in order.
    pub outcomes: Vec<Outcome>,
    /// The requests that passed, in order.
    pub passed: Vec<&'a PostingRequest>,
    /// The requests refused for the first time, in order, with their refusals: their keys
    /// are kept with the refusal.
    pub refused: Vec<(&'a PostingRequest, Refusal)>,
    /// Two per passed request, chained from the head.
    pub entries: Vec<ChainedEntry<'a>>,
    pub touched: Vec<Touched<'a>>,
}

impl Decision<'_> {
    /// The chain head after the batch's entries, if any passed.
    pub fn head(&self) -> Option<(i64, &[u8])> {
        self.entries
            .last()
            .map(|entry| (entry.seq, entry.hash.as_slice()))
    }
}

/// A decided batch broke an invariant: nothing may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the ledger sequence is exhausted")]
    SequenceExhausted,
    #[error("a decided transfer does not net to zero")]
    Unbalanced,
    #[error("a balance moved by other than its entries")]
    BalanceDrift,
}

/// The caller a reversal's uniqueness is keyed by: none, as a transfer is reversed at most
/// once whoever asks.
pub const ANY_CALLER: &str = "*";

/// The external reference of `request` as its uniqueness is keyed: caller, kind, reference;
/// for a reversal, any caller, `reversal` and the reversed transfer.
pub fn ref_lookup(request: &PostingRequest) -> Option<[&str; 3]> {
    if let Some(reverses) = request.reverses.as_deref() {
        return Some([ANY_CALLER, PostingKind::Reversal.as_str(), reverses]);
    }
    request.external_ref.as_deref().map(|external_ref| {
        [
            request.initiated_by.as_str(),
            request.kind.as_str(),
            external_ref,
        ]
    })
}

/// The stored answer to a repeat of `record`'s key.
pub fn replay(key: &StoredKey, record: &IdempotencyRecord) -> Outcome {
    if key.request_hash != record.request_hash {
        return Outcome::KeyReused;
    }
    match (key.state.as_str(), &key.response_body) {
        ("done", Some(body)) => Outcome::Replayed { body: body.clone() },
        ("refused", Some(body)) => match Refusal::from_stored(body) {
            Some(refusal) => Outcome::RefusedBefore(refusal),
            None => Outcome::KeyInProgress,
        },
        _ => Outcome::KeyInProgress,
    }
}

/// Decides every request of the batch in queue order against `accounts` (which must hold
/// every account the requests name that exists; `accounts` itself is not changed),
/// `stored_keys` (the stored idempotency keys the requests name) and `stored_refs` (the
/// stored movements with the requests' external references; for a reference held by several
/// legacy rows, the first listed is the original).
pub fn decide<'a>(
    accounts: &HashMap<String, AccountState>,
    stored_keys: &[StoredKey],
    stored_refs: &[StoredRef],
    head: (i64, &[u8]),
    requests: &[&'a PostingRequest],
) -> Result<Decision<'a>, BatchError> {
    let stored: HashMap<(&str, &str), &StoredKey> = stored_keys
        .iter()
        .map(|key| ((key.scope.as_str(), key.key.as_str()), key))
        .collect();
    // External references taken, by the store and then by postings passed in this batch.
    let mut refs: HashMap<[&str; 3], &str> = HashMap::new();
    for stored in stored_refs {
        refs.entry([
            stored.scope.as_str(),
            stored.kind.as_str(),
            stored.external_ref.as_str(),
        ])
        .or_insert(stored.transfer_id.as_str());
    }
    let mut working: HashMap<String, AccountState> = HashMap::new();
    for request in requests {
        for id in [&request.from_account_id, &request.to_account_id] {
            if let Some(state) = accounts.get(id.as_str()) {
                working.insert(id.clone(), state.clone());
            }
        }
    }
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut passed: Vec<(&'a PostingRequest, i64, i64)> = Vec::new();
    let mut refused: Vec<(&'a PostingRequest, Refusal)> = Vec::new();
    // Keys posted or refused earlier in this batch, with their request hash. Those answers
    // are not committed yet, so a repeat is "in progress" (409); the client's retry then gets
    // the stored answer.
    let mut batch_keys: HashMap<(&str, &str), &[u8]> = HashMap::new();
    for request in requests {
        let record = &request.idempotency;
        let lookup = (record.scope.as_str(), record.key.as_str());
        if let Some(key) = stored.get(&lookup) {
            outcomes.push(replay(key, record));
            continue;
        }
        if let Some(hash) = batch_keys.get(&lookup) {
            outcomes.push(if *hash == record.request_hash.as_slice() {
                Outcome::KeyInProgress
            } else {
                Outcome::KeyReused
            });
            continue;
        }
        batch_keys.insert(lookup, record.request_hash.as_slice());
        let reference = ref_lookup(request);
        let taken = reference.and_then(|reference| refs.get(&reference));
        let posting = Posting {
            kind: request.kind,
            from: &request.from_account_id,
            to: &request.to_account_id,
            amount: request.amount,
            currency: &request.currency,
            source_owner: request.source_owner.as_deref(),
        };
        let applied = match taken {
            Some(earlier) if request.reverses.is_some() => Err(Refusal::AlreadyReversed {
                reversal_id: (*earlier).to_owned(),
            }),
            Some(original) => Err(Refusal::DuplicateExternalRef {
                original_id: (*original).to_owned(),
            }),
            None => apply(&mut working, &posting),
        };
        match applied {
            Ok((from_after, to_after)) => {
                if let Some(reference) = reference {
                    refs.insert(reference, request.transfer_id.as_str());
                }
                passed.push((request, from_after, to_after));
                outcomes.push(Outcome::Posted);
            }
            Err(refusal) => {
                refused.push((request, refusal.clone()));
                outcomes.push(Outcome::Refused(refusal));
            }
        }
    }
    let entries = chain(head, &passed)?;
    let mut touched: Vec<Touched<'a>> = Vec::new();
    for (request, _, _) in &passed {
        for id in [
            request.from_account_id.as_str(),
            request.to_account_id.as_str(),
        ] {
            if touched.iter().any(|seen| seen.id == id) {
                continue;
            }
            if let (Some(state), Some(before)) = (working.get(id), accounts.get(id)) {
                touched.push(Touched {
                    id,
                    state: state.clone(),
                    balance_before: before.balance,
                });
            }
        }
    }
    let decision = Decision {
        outcomes,
        passed: passed.into_iter().map(|(request, _, _)| request).collect(),
        refused,
        entries,
        touched,
    };
    assert_balanced(&decision)?;
    Ok(decision)
}

/// The two entries of each passed posting, hash-chained from `head`.
fn chain<'a>(
    head: (i64, &[u8]),
    passed: &[(&'a PostingRequest, i64, i64)],
) -> Result<Vec<ChainedEntry<'a>>, BatchError> {
    let (mut seq, head_hash) = head;
    let mut previous = head_hash.to_vec();
    let mut entries = Vec::with_capacity(passed.len().saturating_mul(2));
    for (request, from_after, to_after) in passed {
        let sides = [
            (
                request.debit_entry_id.as_str(),
                request.from_account_id.as_str(),
                Direction::Debit,
                *from_after,
            ),
            (
                request.credit_entry_id.as_str(),
                request.to_account_id.as_str(),
                Direction::Credit,
                *to_after,
            ),
        ];
        for (id, account_id, direction, balance_after) in sides {
            seq = seq.checked_add(1).ok_or(BatchError::SequenceExhausted)?;
            let facts = EntryFacts {
                seq,
                id,
                transfer_id: &request.transfer_id,
                account_id,
                direction,
                amount: request.amount.minor_units(),
                balance_after,
                currency: &request.currency,
                created_at: request.created_at,
                transfer: Some(request.transfer_facts()),
            };
            let hash = entry_hash(&previous, &facts);
            entries.push(ChainedEntry {
                seq,
                id,
                transfer_id: &request.transfer_id,
                account_id,
                direction,
                amount: request.amount.minor_units(),
                balance_after,
                currency: &request.currency,
                created_at: request.created_at,
                prev_hash: std::mem::replace(&mut previous, hash.clone()),
                hash,
            });
        }
    }
    Ok(entries)
}

/// The pair assertion before the write: each transfer's entries net to zero, and each touched
/// balance moved from its starting value by exactly the sum of its entries.
fn assert_balanced(decision: &Decision<'_>) -> Result<(), BatchError> {
    let mut by_transfer: HashMap<&str, i64> = HashMap::new();
    let mut by_account: HashMap<&str, i64> = HashMap::new();
    for entry in &decision.entries {
        let signed = entry
            .direction
            .signed(entry.amount)
            .ok_or(BatchError::Unbalanced)?;
        let net = by_transfer.entry(entry.transfer_id).or_insert(0);
        *net = net.checked_add(signed).ok_or(BatchError::Unbalanced)?;
        let moved = by_account.entry(entry.account_id).or_insert(0);
        *moved = moved.checked_add(signed).ok_or(BatchError::BalanceDrift)?;
    }
    if by_transfer.values().any(|net| *net != 0) {
        return Err(BatchError::Unbalanced);
    }
    for touched in &decision.touched {
        let moved = by_account.get(touched.id).copied().unwrap_or(0);
        if touched.balance_before.checked_add(moved) != Some(touched.state.balance) {
            return Err(BatchError::BalanceDrift);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
