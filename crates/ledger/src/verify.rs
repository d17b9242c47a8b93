//! Replaying the journal to prove it, with no IO: fed every entry in sequence order (a page at
//! a time), `Replay` checks the sequence has no gap, each entry chains to its predecessor and
//! matches its hash, each `balance_after` follows from the entries before it, and finally that
//! every transfer has two entries netting to zero, the chain head is the last entry, every
//! stored balance equals the replayed one and every currency nets to zero. The first failure
//! is returned, naming the entry or account.

use std::collections::BTreeMap;

pub use crate::VerifyError;
use crate::audit::Expectations;
use crate::{Direction, EntryFacts, GENESIS_HASH, TransferFacts, entry_hash};

/// One journal entry as read from the store.
#[derive(Debug, Clone)]
pub struct JournalEntry<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub transfer_id: &'a str,
    pub account_id: &'a str,
    pub direction: &'a str,
    pub amount: i64,
    pub balance_after: i64,
    pub currency: &'a str,
    pub created_at: i64,
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
    /// The entry's transfer row, as stored (`None` when it is missing).
    pub transfer: Option<TransferFacts<'a>>,
}

/// An account as stored, to compare with the replay.
#[derive(Debug, Clone)]
pub struct StoredAccount<'a> {
    pub id: &'a str,
    pub currency: &'a str,
    pub balance: i64,
}

/// What a successful replay covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    pub accounts: u64,
}

/// The state of a replay in progress.
#[derive(Debug)]
pub struct Replay {
    balances: BTreeMap<String, i64>,
    /// Each account's currency, as its first entry gives it.
    currencies: BTreeMap<String, String>,
    /// Per transfer: entries seen and their signed sum.
    transfers: BTreeMap<String, (u8, i64)>,
    previous: Vec<u8>,
    last_seq: i64,
    entries: u64,
    /// Entries from this sequence number on commit to their transfer row in their hash.
    transfer_hashed_from: i64,
    expectations: Expectations,
}

impl Default for Replay {
    fn default() -> Self {
        Replay::new(1, Expectations::default())
    }
}

impl Replay {
    /// A replay from genesis: entries from `transfer_hashed_from` on are hashed with their
    /// transfer row; `expectations` are hashes verified checkpoints or anchors vouch for.
    pub fn new(transfer_hashed_from: i64, expectations: Expectations) -> Replay {
        Replay {
            balances: BTreeMap::new(),
            currencies: BTreeMap::new(),
            transfers: BTreeMap::new(),
            previous: GENESIS_HASH.to_vec(),
            last_seq: 0,
            entries: 0,
            transfer_hashed_from,
            expectations,
        }
    }

    /// The sequence number of the last entry replayed (0 before the first): the next page
    /// starts after it.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Replays the next entry.
    pub fn entry(&mut self, entry: &JournalEntry<'_>) -> Result<(), VerifyError> {
        let name = format!("entry {} (seq {})", entry.id, entry.seq);
        let fail = |what: String| VerifyError(format!("{name}: {what}"));
        if Some(entry.seq) != self.last_seq.checked_add(1) {
            return Err(fail(format!("sequence gap after {}", self.last_seq)));
        }
        if entry.prev_hash != self.previous.as_slice() {
            return Err(fail("does not chain to its predecessor".to_owned()));
        }
        let direction =
            Direction::parse(entry.direction).ok_or_else(|| fail("unknown direction".into()))?;
        check_against_transfer(entry, direction).map_err(fail)?;
        let hashed_transfer = if entry.seq >= self.transfer_hashed_from {
            entry.transfer.clone()
        } else {
            None
        };
        let facts = EntryFacts {
            seq: entry.seq,
            id: entry.id,
            transfer_id: entry.transfer_id,
            account_id: entry.account_id,
            direction,
            amount: entry.amount,
            balance_after: entry.balance_after,
            currency: entry.currency,
            created_at: entry.created_at,
            transfer: hashed_transfer,
        };
        if entry_hash(&self.previous, &facts) != entry.hash {
            return Err(fail(
                "content (or its transfer row) does not match its hash (altered)".to_owned(),
            ));
        }
        self.expectations.check(entry.seq, entry.hash, &name)?;
        self.same_currency(entry).map_err(fail)?;
        let signed = direction
            .signed(entry.amount)
            .ok_or_else(|| fail("amount overflow".into()))?;
        let balance = self
            .balances
            .entry(entry.account_id.to_owned())
            .or_insert(0);
        *balance = balance
            .checked_add(signed)
            .ok_or_else(|| fail("balance overflow".into()))?;
        if *balance != entry.balance_after {
            return Err(fail(format!(
                "balance_after {} but the journal gives {balance}",
                entry.balance_after
            )));
        }
        let pair = self
            .transfers
            .entry(entry.transfer_id.to_owned())
            .or_insert((0, 0));
        pair.0 = pair.0.saturating_add(1);
        pair.1 = pair
            .1
            .checked_add(signed)
            .ok_or_else(|| fail("overflow".into()))?;
        self.previous = entry.hash.to_vec();
        self.last_seq = entry.seq;
        self.entries = self.entries.saturating_add(1);
        Ok(())
    }

    /// After the last entry: the head, transfers, stored balances and currencies.
    /// `transfers_stored` is the number of rows in `transfers`: each must have its entries.
    pub fn finish<'a>(
        self,
        head: (i64, &[u8]),
        accounts: impl IntoIterator<Item = StoredAccount<'a>>,
        transfers_stored: u64,
    ) -> Result<Summary, VerifyError> {
        let (head_seq, head_hash) = head;
        if head_seq != self.last_seq || head_hash != self.previous.as_slice() {
            return Err(VerifyError(format!(
                "the chain head (seq {head_seq}) does not match the last entry (seq {})",
                self.last_seq
            )));
        }
        self.expectations.finish(self.last_seq, "ledger")?;
        let journaled = u64::try_from(self.transfers.len()).unwrap_or(u64::MAX);
        if journaled != transfers_stored {
            return Err(VerifyError(format!(
                "{transfers_stored} transfers are stored but {journaled} have entries (a transfer without its entries)"
            )));
        }
        for (transfer, (count, sum)) in &self.transfers {
            if *count != 2 || *sum != 0 {
                return Err(VerifyError(format!(
                    "transfer {transfer}: its entries do not balance"
                )));
            }
        }
        let mut by_currency: BTreeMap<&str, i64> = BTreeMap::new();
        let mut counted = 0_u64;
        for account in accounts {
            if let Some(currency) = self.currencies.get(account.id)
                && currency.as_str() != account.currency
            {
                return Err(VerifyError(format!(
                    "account {}: currency {} but its entries are in {currency}",
                    account.id, account.currency
                )));
            }
            let replayed = self.balances.get(account.id).copied().unwrap_or(0);
            if replayed != account.balance {
                return Err(VerifyError(format!(
                    "account {}: stored balance {} but the journal gives {replayed}",
                    account.id, account.balance
                )));
            }
            let total = by_currency.entry(account.currency).or_insert(0);
            *total = total
                .checked_add(account.balance)
                .ok_or_else(|| VerifyError("overflow".to_owned()))?;
            counted = counted.saturating_add(1);
        }
        if let Some((currency, total)) = by_currency.iter().find(|(_, total)| **total != 0) {
            return Err(VerifyError(format!(
                "currency {currency} does not net to zero ({total})"
            )));
        }
        Ok(Summary {
            entries: self.entries,
            accounts: counted,
        })
    }
}

impl Replay {
    /// All entries of an account are in one currency.
    fn same_currency(&mut self, entry: &JournalEntry<'_>) -> Result<(), String> {
        let currency = self
            .currencies
            .entry(entry.account_id.to_owned())
            .or_insert_with(|| entry.currency.to_owned());
        if currency.as_str() == entry.currency {
            Ok(())
        } else {
            Err(format!(
                "currency {} on an account whose entries are in {currency}",
                entry.currency
            ))
        }
    }
}

/// An entry must agree with its transfer row: same amount and currency, the debit on the
/// source account and the credit on the destination.
fn check_against_transfer(entry: &JournalEntry<'_>, direction: Direction) -> Result<(), String> {
    let Some(transfer) = &entry.transfer else {
        return Err("its transfer row is missing".to_owned());
    };
    if transfer.amount != entry.amount || transfer.currency != entry.currency {
        return Err(format!(
            "amount or currency differs from its transfer {}",
            entry.transfer_id
        ));
    }
    let side = match direction {
        Direction::Debit => transfer.from_account_id,
        Direction::Credit => transfer.to_account_id,
    };
    if side != entry.account_id {
        return Err(format!(
            "account differs from its transfer {}'s {} side",
            entry.transfer_id,
            direction.as_str()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
