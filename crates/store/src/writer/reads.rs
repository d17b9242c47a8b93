//! What a batch reads before it is decided: the idempotency keys, external references and
//! reversed transfers its postings name (stored rows, and the lookups that find them), and
//! the accounts the writer's cache does not hold yet.

use std::collections::{HashMap, HashSet};

use ledger::batch::{self, StoredKey, StoredRef};
use ledger::{AccountKind, AccountState};

use super::rows::to_json;
use super::sql::BatchSql;
use super::{AccountRow, KeyRow, PostingRequest, StoreError};

/// The stored idempotency keys the batch's postings name.
pub(super) async fn stored_keys<C: BatchSql>(
    conn: &mut C,
    requests: &[&PostingRequest],
) -> Result<Vec<StoredKey>, StoreError> {
    Ok(conn
        .find_keys(key_lookups(requests)?)
        .await?
        .into_iter()
        .map(stored_key)
        .collect())
}

/// A key row as `decide` reads it.
pub(super) fn stored_key((scope, key, request_hash, state, response_body): KeyRow) -> StoredKey {
    StoredKey {
        scope,
        key,
        request_hash,
        state,
        response_body,
    }
}

/// The stored movements with the external references the batch's postings carry; no round
/// trip when none carries one.
pub(super) async fn stored_refs<C: BatchSql>(
    conn: &mut C,
    requests: &[&PostingRequest],
) -> Result<Vec<StoredRef>, StoreError> {
    let (lookups, reversals) = ref_lookups(requests);
    let mut rows = Vec::new();
    if !lookups.is_empty() {
        rows = conn.find_refs(to_json(&lookups)?).await?;
    }
    if !reversals.is_empty() {
        rows.extend(conn.find_reversals(to_json(&reversals)?).await?);
    }
    Ok(rows
        .into_iter()
        .map(|(scope, kind, external_ref, transfer_id)| StoredRef {
            scope,
            kind,
            external_ref,
            transfer_id,
        })
        .collect())
}

/// The external references the batch's postings carry, and the transfers they reverse.
pub(super) fn ref_lookups<'a>(
    requests: &[&'a PostingRequest],
) -> (Vec<[&'a str; 3]>, Vec<[&'a str; 3]>) {
    let (reversals, lookups) = requests
        .iter()
        .filter_map(|request| batch::ref_lookup(request))
        .partition(|[caller, _, _]| *caller == batch::ANY_CALLER);
    (lookups, reversals)
}

pub(super) fn key_lookups(requests: &[&PostingRequest]) -> Result<String, StoreError> {
    let lookups: Vec<[&str; 2]> = requests
        .iter()
        .map(|request| {
            [
                request.idempotency.scope.as_str(),
                request.idempotency.key.as_str(),
            ]
        })
        .collect();
    to_json(&lookups)
}

/// Account ids the batch names that the cache does not hold.
pub(super) fn missing_accounts<'a>(
    cache: &HashMap<String, AccountState>,
    requests: &[&'a PostingRequest],
) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    requests
        .iter()
        .flat_map(|request| {
            [
                request.from_account_id.as_str(),
                request.to_account_id.as_str(),
            ]
        })
        .filter(|id| !cache.contains_key(*id) && seen.insert(*id))
        .collect()
}

pub(super) fn cache_accounts(cache: &mut HashMap<String, AccountState>, rows: Vec<AccountRow>) {
    for (id, user_id, kind, currency, balance, held, status) in rows {
        // An account of a kind this build does not know cannot take part in postings.
        let Some(kind) = AccountKind::parse(&kind) else {
            continue;
        };
        // A closed account (its owner closed their account) takes part in no posting.
        if status == "closed" {
            continue;
        }
        cache.insert(
            id,
            AccountState {
                user_id,
                kind,
                currency,
                balance,
                held,
                active: status == "active",
            },
        );
    }
}
