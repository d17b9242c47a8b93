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

pub mod audit;
pub mod batch;
pub mod holds;
pub mod limits;
mod posting;
pub mod verify;
pub use crate::limits::AMOUNT_MINOR_MAX;
pub use posting::*;

/// Bytes of an entry hash.
pub const ENTRY_HASH_BYTES: usize = 32;
/// The predecessor hash of the first entry.
pub const GENESIS_HASH: [u8; ENTRY_HASH_BYTES] = [0; ENTRY_HASH_BYTES];

/// What `verify` and `audit` replays found wrong first, as a sentence that names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VerifyError(pub String);

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

/// Digits after the decimal point of an ISO 4217 currency (`EUR` 2, `JPY` 0, `BHD` 3), as
/// amounts are counted in its minor units; `None` for an unknown code or one without minor
/// units (gold, special drawing rights).
pub fn minor_units(code: &str) -> Option<u16> {
    iso_currency::Currency::from_code(code)?.exponent()
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
    /// The transfer the entry belongs to. Every entry written since the audit migration
    /// commits to its transfer's own fields (so a changed `transfers` row breaks the chain);
    /// older entries were hashed without them and replay with `None`.
    pub transfer: Option<TransferFacts<'a>>,
}

/// The fields of a transfer row that both of its entries commit to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferFacts<'a> {
    pub kind: &'a str,
    pub from_account_id: &'a str,
    pub to_account_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub memo: Option<&'a str>,
    pub external_ref: Option<&'a str>,
    pub initiated_by: &'a str,
    pub created_at: i64,
    /// For a reversal: the transfer it reverses.
    pub reverses: Option<&'a str>,
}

/// Appends `field` to `bytes` behind its length, so no two field lists serialise alike.
pub(crate) fn put_field(bytes: &mut Vec<u8>, field: &[u8]) {
    bytes.extend_from_slice(&u64::try_from(field.len()).unwrap_or(u64::MAX).to_be_bytes());
    bytes.extend_from_slice(field);
}

/// An optional text field: a presence byte, then the text (`None` and `Some("")` differ).
pub(crate) fn put_optional(bytes: &mut Vec<u8>, field: Option<&str>) {
    match field {
        Some(text) => {
            put_field(bytes, b"1");
            put_field(bytes, text.as_bytes());
        }
        None => put_field(bytes, b"0"),
    }
}

/// SHA-256 over the predecessor's hash and every field, length-prefixed so no two different
/// entries serialise alike.
pub fn entry_hash(previous: &[u8], facts: &EntryFacts<'_>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(256);
    let mut put = |field: &[u8]| put_field(&mut bytes, field);
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
    if let Some(transfer) = &facts.transfer {
        put(b"transfer-v2");
        put(transfer.kind.as_bytes());
        put(transfer.from_account_id.as_bytes());
        put(transfer.to_account_id.as_bytes());
        put(&transfer.amount.to_be_bytes());
        put(transfer.currency.as_bytes());
        put(transfer.initiated_by.as_bytes());
        put(&transfer.created_at.to_be_bytes());
        put_optional(&mut bytes, transfer.memo);
        put_optional(&mut bytes, transfer.external_ref);
        // Only reversals carry the link, so every other entry hashes as it always has.
        if let Some(reverses) = transfer.reverses {
            put_field(&mut bytes, b"reverses");
            put_field(&mut bytes, reverses.as_bytes());
        }
    }
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
            transfer: None,
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
            ..facts.clone()
        };
        assert_ne!(entry_hash(&GENESIS_HASH, &moved), first);

        let transfer = TransferFacts {
            kind: "transfer",
            from_account_id: "a1",
            to_account_id: "a2",
            amount: 5,
            currency: "EUR",
            memo: None,
            external_ref: None,
            initiated_by: "user:u1",
            created_at: 7,
            reverses: None,
        };
        let covered = EntryFacts {
            transfer: Some(transfer.clone()),
            ..facts.clone()
        };
        let with_transfer = entry_hash(&GENESIS_HASH, &covered);
        assert_ne!(with_transfer, first);
        for changed in [
            TransferFacts {
                memo: Some(""),
                ..transfer.clone()
            },
            TransferFacts {
                initiated_by: "user:u2",
                ..transfer.clone()
            },
            TransferFacts {
                external_ref: Some("bank-1"),
                ..transfer.clone()
            },
            TransferFacts {
                kind: "deposit",
                ..transfer.clone()
            },
        ] {
            let altered = EntryFacts {
                transfer: Some(changed),
                ..facts.clone()
            };
            assert_ne!(entry_hash(&GENESIS_HASH, &altered), with_transfer);
        }
    }

    #[test]
    fn a_reversal_commits_to_the_transfer_it_reverses() {
        let transfer = TransferFacts {
            kind: "reversal",
            from_account_id: "a2",
            to_account_id: "a1",
            amount: 5,
            currency: "EUR",
            memo: Some("disputed"),
            external_ref: None,
            initiated_by: "service:payments",
            created_at: 8,
            reverses: Some("t0"),
        };
        let facts = |transfer: TransferFacts<'static>| EntryFacts {
            seq: 3,
            id: "e3",
            transfer_id: "t1",
            account_id: "a2",
            direction: Direction::Debit,
            amount: 5,
            balance_after: 0,
            currency: "EUR",
            created_at: 8,
            transfer: Some(transfer),
        };
        let linked = entry_hash(&GENESIS_HASH, &facts(transfer.clone()));
        for other in [Some("t9"), None] {
            let relinked = TransferFacts {
                reverses: other,
                ..transfer.clone()
            };
            assert_ne!(entry_hash(&GENESIS_HASH, &facts(relinked)), linked);
        }
    }
}
