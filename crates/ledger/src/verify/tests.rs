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
        transfer: Some(TransferFacts {
            kind: "deposit",
            from_account_id: "settlement",
            to_account_id: "alice",
            amount: 5,
            currency: "EUR",
            memo: None,
            external_ref: Some("bank-1"),
            initiated_by: "service:payments",
            created_at: 1,
            reverses: None,
        }),
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
        transfer: entry.transfer.clone(),
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
    let summary = replay.finish((2, &h2), accounts.clone(), 1).unwrap();
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

#[test]
fn a_changed_transfer_row_or_a_stray_transfer_is_named() {
    let genesis = GENESIS_HASH.to_vec();
    let first = entry(1, "e1", "settlement", "debit", -5, &genesis, &[]);
    let h1 = hash_of(&genesis, &first);
    let second = entry(2, "e2", "alice", "credit", 5, &h1, &[]);
    let h2 = hash_of(&h1, &second);
    let sound = |replay: &mut Replay| {
        replay
            .entry(&JournalEntry {
                hash: &h1,
                ..first.clone()
            })
            .unwrap();
    };

    // The memo of the transfer row changed: same amounts, but the hash commits to it.
    let mut replay = Replay::default();
    sound(&mut replay);
    let mut rewritten = second.clone();
    rewritten.hash = &h2;
    if let Some(transfer) = rewritten.transfer.as_mut() {
        transfer.memo = Some("changed");
    }
    let error = replay.entry(&rewritten).unwrap_err();
    assert!(error.0.contains("transfer row"), "{error}");

    // The amount of the transfer row no longer matches its entries.
    let mut replay = Replay::default();
    sound(&mut replay);
    let mut rewritten = second.clone();
    rewritten.hash = &h2;
    if let Some(transfer) = rewritten.transfer.as_mut() {
        transfer.amount = 50;
    }
    let error = replay.entry(&rewritten).unwrap_err();
    assert!(error.0.contains("differs from its transfer t1"), "{error}");

    // A transfer row with no entries.
    let mut replay = Replay::default();
    sound(&mut replay);
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
    let error = replay.finish((2, &h2), accounts, 2).unwrap_err();
    assert!(error.0.contains("without its entries"), "{error}");

    // Before the migration, entries were hashed without their transfer row.
    let old_first = JournalEntry {
        transfer: None,
        ..first.clone()
    };
    let old_hash = hash_of(&genesis, &old_first);
    let mut replay = Replay::new(2, Expectations::default());
    replay
        .entry(&JournalEntry {
            hash: &old_hash,
            ..first.clone()
        })
        .unwrap();
}

#[test]
fn a_checkpoint_catches_a_recomputed_chain_and_a_truncated_one() {
    let genesis = GENESIS_HASH.to_vec();
    let first = entry(1, "e1", "settlement", "debit", -5, &genesis, &[]);
    let h1 = hash_of(&genesis, &first);
    let mut expectations = Expectations::default();
    expectations
        .pin(1, &[7; 32], "checkpoint 1".to_owned())
        .unwrap();
    let mut replay = Replay::new(1, expectations);
    let error = replay
        .entry(&JournalEntry {
            hash: &h1,
            ..first.clone()
        })
        .unwrap_err();
    assert!(error.0.contains("checkpoint 1"), "{error}");

    let mut expectations = Expectations::default();
    expectations.pin(3, &h1, "the anchor".to_owned()).unwrap();
    let mut replay = Replay::new(1, expectations);
    replay
        .entry(&JournalEntry {
            hash: &h1,
            ..first.clone()
        })
        .unwrap();
    let error = replay.finish((1, &h1), [], 0).unwrap_err();
    assert!(error.0.contains("records removed"), "{error}");
}
