//! Unit tests of `verify`.

use super::*;

fn entry<'a>(
    seq: i64,
    id: &'a str,
    account: &'a str,
    direction: &'a str,
    balance_after: i64,
    previous: &'a [u8],
    hash: &'a [u8],
) -> JournalEntry<'a> {
    JournalEntry {
        seq,
        id,
        transfer_id: "t1",
        account_id: account,
        direction,
        amount: 5,
        balance_after,
        currency: "EUR",
        created_at: 1,
        prev_hash: previous,
        hash,
    }
}

fn hash_of(previous: &[u8], entry: &JournalEntry<'_>) -> Vec<u8> {
    let facts = EntryFacts {
        seq: entry.seq,
        id: entry.id,
        transfer_id: entry.transfer_id,
        account_id: entry.account_id,
        direction: Direction::parse(entry.direction).unwrap(),
        amount: entry.amount,
        balance_after: entry.balance_after,
        currency: entry.currency,
        created_at: entry.created_at,
    };
    entry_hash(previous, &facts)
}

#[test]
fn a_sound_journal_replays_and_a_tampered_one_is_named() {
    let genesis = GENESIS_HASH.to_vec();
    let first = entry(1, "e1", "settlement", "debit", -5, &genesis, &[]);
    let h1 = hash_of(&genesis, &first);
    let second = entry(2, "e2", "alice", "credit", 5, &h1, &[]);
    let h2 = hash_of(&h1, &second);
    let mut replay = Replay::default();
    replay
        .entry(&JournalEntry {
            hash: &h1,
            ..first.clone()
        })
        .unwrap();
    replay
        .entry(&JournalEntry {
            hash: &h2,
            ..second.clone()
        })
        .unwrap();
    let accounts = [
        StoredAccount {
            id: "settlement",
            currency: "EUR",
            balance: -5,
        },
        StoredAccount {
            id: "alice",
            currency: "EUR",
            balance: 5,
        },
    ];
    let summary = replay.finish((2, &h2), accounts.clone()).unwrap();
    assert_eq!(
        summary,
        Summary {
            entries: 2,
            accounts: 2
        }
    );

    let mut replay = Replay::default();
    replay.entry(&JournalEntry { hash: &h1, ..first }).unwrap();
    let altered = JournalEntry {
        balance_after: 6,
        hash: &h2,
        ..second
    };
    let error = replay.entry(&altered).unwrap_err();
    assert!(error.0.contains("(seq 2)"), "{error}");
}
