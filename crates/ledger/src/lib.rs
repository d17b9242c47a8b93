//! The ledger's rules, with no IO: `Money` (integer minor units, checked arithmetic, bounded),
//! `Currency`, the rules one posting must pass (`apply`), how a batch of postings is decided
//! and chained (`batch::decide`, with the pair assertion before any write), and how the
//! journal is replayed to prove it afterwards (`verify::Replay`, behind `ledger verify`).
#![deny(
    clippy::float_arithmetic,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]

use aws_lc_rs::digest::{SHA256, digest};

pub mod batch;
pub mod limits;
mod posting;
pub mod verify;
pub use crate::limits::AMOUNT_MINOR_MAX;
pub use posting::*;

/// Bytes of an entry hash.
pub const ENTRY_HASH_BYTES: usize = 32;
/// The predecessor hash of the first entry.
pub const GENESIS_HASH: [u8; ENTRY_HASH_BYTES] = [0; ENTRY_HASH_BYTES];

/// A positive amount of minor units, at most `AMOUNT_MINOR_MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LedgerRuleError {
    #[error("amount must be between 1 and 10^15 minor units")]
    AmountOutOfRange,
    #[error("not a configured ISO 4217 currency")]
    UnsupportedCurrency,
}

impl Money {
    pub fn new(minor_units: i64) -> Result<Money, LedgerRuleError> {
        if (1..=AMOUNT_MINOR_MAX).contains(&minor_units) {
            Ok(Money(minor_units))
        } else {
            Err(LedgerRuleError::AmountOutOfRange)
        }
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

/// A currency the server is configured for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(code: &str, configured: &[String]) -> Result<Currency, LedgerRuleError> {
        if configured.iter().any(|allowed| allowed == code) {
            Ok(Currency(code.to_owned()))
        } else {
            Err(LedgerRuleError::UnsupportedCurrency)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which side of a transfer an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Debit,
    Credit,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Debit => "debit",
            Direction::Credit => "credit",
        }
    }

    pub fn parse(value: &str) -> Option<Direction> {
        match value {
            "debit" => Some(Direction::Debit),
            "credit" => Some(Direction::Credit),
            _ => None,
        }
    }

    /// The signed effect on the account balance.
    pub fn signed(self, amount: i64) -> Option<i64> {
        match self {
            Direction::Debit => amount.checked_neg(),
            Direction::Credit => Some(amount),
        }
    }
}

/// The fields of an entry that its hash commits to.
#[derive(Debug, Clone)]
pub struct EntryFacts<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub transfer_id: &'a str,
    pub account_id: &'a str,
    pub direction: Direction,
    pub amount: i64,
    pub balance_after: i64,
    pub currency: &'a str,
    pub created_at: i64,
}

/// SHA-256 over the predecessor's hash and every field, length-prefixed so no two different
/// entries serialise alike.
pub fn entry_hash(previous: &[u8], facts: &EntryFacts<'_>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(256);
    let mut put = |field: &[u8]| {
        bytes.extend_from_slice(&u64::try_from(field.len()).unwrap_or(u64::MAX).to_be_bytes());
        bytes.extend_from_slice(field);
    };
    put(previous);
    put(&facts.seq.to_be_bytes());
    put(facts.id.as_bytes());
    put(facts.transfer_id.as_bytes());
    put(facts.account_id.as_bytes());
    put(facts.direction.as_str().as_bytes());
    put(&facts.amount.to_be_bytes());
    put(&facts.balance_after.to_be_bytes());
    put(facts.currency.as_bytes());
    put(&facts.created_at.to_be_bytes());
    digest(&SHA256, &bytes).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_bounded_positive_integers() {
        assert!(Money::new(1).is_ok());
        assert!(Money::new(AMOUNT_MINOR_MAX).is_ok());
        for bad in [0, -1, AMOUNT_MINOR_MAX + 1, i64::MIN, i64::MAX] {
            assert_eq!(
                Money::new(bad),
                Err(LedgerRuleError::AmountOutOfRange),
                "{bad}"
            );
        }
    }

    #[test]
    fn hashes_chain_and_commit_to_every_field() {
        let facts = EntryFacts {
            seq: 1,
            id: "e1",
            transfer_id: "t1",
            account_id: "a1",
            direction: Direction::Debit,
            amount: 5,
            balance_after: 10,
            currency: "EUR",
            created_at: 7,
        };
        let first = entry_hash(&GENESIS_HASH, &facts);
        assert_eq!(first.len(), ENTRY_HASH_BYTES);
        assert_ne!(entry_hash(&first, &facts), first);
        let changed = EntryFacts {
            amount: 6,
            ..facts.clone()
        };
        assert_ne!(entry_hash(&GENESIS_HASH, &changed), first);
        let moved = EntryFacts {
            account_id: "a2",
            ..facts
        };
        assert_ne!(entry_hash(&GENESIS_HASH, &moved), first);
    }
}
