//! The rules one posting must pass, applied to in-memory account states: the ledger writer
//! checks every posting of a batch here, in queue order, against balances that already include
//! the postings before it. A refused posting changes nothing and fails alone.

use std::collections::HashMap;

use crate::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Customer,
    /// The operator's counterpart of deposits and withdrawals, one per currency; it may go
    /// negative (money that came in from outside).
    Settlement,
    /// The operator's own money (fees, revenue, reserves), named; never negative.
    Operator,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Customer => "customer",
            AccountKind::Settlement => "settlement",
            AccountKind::Operator => "operator",
        }
    }

    pub fn parse(value: &str) -> Option<AccountKind> {
        [
            AccountKind::Customer,
            AccountKind::Settlement,
            AccountKind::Operator,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// What the writer knows about an account: enough to check a posting without the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub user_id: Option<String>,
    pub kind: AccountKind,
    pub currency: String,
    pub balance: i64,
    /// The sum of the account's active holds: a debit may take at most `balance − held`.
    pub held: i64,
    /// Only active accounts can send (frozen ones can still receive).
    pub active: bool,
}

impl AccountState {
    /// What a debit may take: the balance less the active holds.
    pub fn available(&self) -> Option<i64> {
        self.balance.checked_sub(self.held)
    }
}

/// The movements, each with the account kinds it joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingKind {
    /// Customer to customer; the source belongs to the caller.
    Transfer,
    /// Settlement to customer (internal service).
    Deposit,
    /// Customer to settlement (internal service).
    Withdrawal,
    /// A hold's capture: from the held customer account to a customer or settlement account
    /// (internal service); the hold is released in the same transaction.
    Capture,
    /// The reversal of another movement: the same amount back, from its destination to its
    /// source (internal service), at most once per movement.
    Reversal,
    /// A customer's fee to an operator account (internal service, in a batch with the payment
    /// it belongs to).
    Fee,
    /// From an operator account to a customer (a refund of a fee, a reward).
    Rebate,
}

impl PostingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::Transfer => "transfer",
            PostingKind::Deposit => "deposit",
            PostingKind::Withdrawal => "withdrawal",
            PostingKind::Capture => "capture",
            PostingKind::Reversal => "reversal",
            PostingKind::Fee => "fee",
            PostingKind::Rebate => "rebate",
        }
    }

    /// The kinds the source and the destination may be.
    fn sides(self) -> (&'static [AccountKind], &'static [AccountKind]) {
        const CUSTOMER: &[AccountKind] = &[AccountKind::Customer];
        const SETTLEMENT: &[AccountKind] = &[AccountKind::Settlement];
        const OPERATOR: &[AccountKind] = &[AccountKind::Operator];
        const ANY: &[AccountKind] = &[
            AccountKind::Customer,
            AccountKind::Settlement,
            AccountKind::Operator,
        ];
        match self {
            PostingKind::Transfer => (CUSTOMER, CUSTOMER),
            PostingKind::Deposit => (SETTLEMENT, CUSTOMER),
            PostingKind::Withdrawal => (CUSTOMER, SETTLEMENT),
            PostingKind::Capture => (CUSTOMER, ANY),
            PostingKind::Reversal => (ANY, ANY),
            PostingKind::Fee => (CUSTOMER, OPERATOR),
            PostingKind::Rebate => (OPERATOR, CUSTOMER),
        }
    }
}

/// One movement to check and apply.
#[derive(Debug, Clone, Copy)]
pub struct Posting<'a> {
    pub kind: PostingKind,
    pub from: &'a str,
    pub to: &'a str,
    pub amount: Money,
    pub currency: &'a str,
    /// For customer transfers: the user the source account must belong to.
    pub source_owner: Option<&'a str>,
}

/// Why a posting was refused. Nothing changed. The refusal is kept with the posting's
/// idempotency key (`Refusal::stored`), so a replay of the request answers it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown, of the wrong kind, or (source) not the caller's: all look alike to a client.
    AccountNotFound,
    SameAccount,
    CurrencyMismatch,
    AccountNotActive,
    InsufficientFunds,
    /// The credit would overflow the balance representation.
    BalanceLimit,
    /// The caller already posted a movement of this kind with this external reference.
    DuplicateExternalRef {
        original_id: String,
    },
    /// The movement was reversed before, by `reversal_id`.
    AlreadyReversed {
        reversal_id: String,
    },
}

const DUPLICATE_EXTERNAL_REF: &str = "duplicate_external_ref";
const ALREADY_REVERSED: &str = "already_reversed";

impl Refusal {
    /// The refusals of `apply`'s rules (those that carry nothing but their kind).
    pub const RULES: [Refusal; 6] = [
        Refusal::AccountNotFound,
        Refusal::SameAccount,
        Refusal::CurrencyMismatch,
        Refusal::AccountNotActive,
        Refusal::InsufficientFunds,
        Refusal::BalanceLimit,
    ];

    /// The stable code clients see (docs/api.md).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::AccountNotFound => "not_found",
            Refusal::SameAccount => "same_account",
            Refusal::CurrencyMismatch => "currency_mismatch",
            Refusal::AccountNotActive => "account_frozen",
            Refusal::InsufficientFunds => "insufficient_funds",
            Refusal::BalanceLimit => "balance_limit",
            Refusal::DuplicateExternalRef { .. } => DUPLICATE_EXTERNAL_REF,
            Refusal::AlreadyReversed { .. } => ALREADY_REVERSED,
        }
    }

    /// The refusal as kept with its idempotency key: its code, and for a duplicate external
    /// reference (or a reversal) the original transfer's (the reversal's) id after a colon.
    pub fn stored(&self) -> String {
        match self {
            Refusal::DuplicateExternalRef { original_id } => {
                format!("{DUPLICATE_EXTERNAL_REF}:{original_id}")
            }
            Refusal::AlreadyReversed { reversal_id } => format!("{ALREADY_REVERSED}:{reversal_id}"),
            other => other.code().to_owned(),
        }
    }

    /// Reads `stored`'s form back; `None` for anything else.
    pub fn from_stored(stored: &str) -> Option<Refusal> {
        if let Some((code, id)) = stored.split_once(':') {
            if id.is_empty() {
                return None;
            }
            return match code {
                DUPLICATE_EXTERNAL_REF => Some(Refusal::DuplicateExternalRef {
                    original_id: id.to_owned(),
                }),
                ALREADY_REVERSED => Some(Refusal::AlreadyReversed {
                    reversal_id: id.to_owned(),
                }),
                _ => None,
            };
        }
        Refusal::RULES
            .into_iter()
            .find(|refusal| refusal.code() == stored)
    }
}

/// Checks `posting` against `accounts` and, when it passes, moves the money there.
/// Returns the balances after the debit and the credit.
pub fn apply(
    accounts: &mut HashMap<String, AccountState>,
    posting: &Posting<'_>,
) -> Result<(i64, i64), Refusal> {
    if posting.from == posting.to {
        return Err(Refusal::SameAccount);
    }
    let (from_kinds, to_kinds) = posting.kind.sides();
    let from = accounts
        .get(posting.from)
        .filter(|account| from_kinds.contains(&account.kind))
        .filter(|account| match posting.source_owner {
            Some(owner) => account.user_id.as_deref() == Some(owner),
            None => true,
        })
        .ok_or(Refusal::AccountNotFound)?;
    let to = accounts
        .get(posting.to)
        .filter(|account| to_kinds.contains(&account.kind))
        .ok_or(Refusal::AccountNotFound)?;
    if from.currency != posting.currency || to.currency != posting.currency {
        return Err(Refusal::CurrencyMismatch);
    }
    if !from.active {
        return Err(Refusal::AccountNotActive);
    }
    let amount = posting.amount.minor_units();
    let from_after = from
        .balance
        .checked_sub(amount)
        .ok_or(Refusal::BalanceLimit)?;
    // Only settlement may go negative; a customer's active holds are spoken for too.
    if from.kind != AccountKind::Settlement
        && from_after.checked_sub(from.held).is_none_or(|a| a < 0)
    {
        return Err(Refusal::InsufficientFunds);
    }
    let to_after = to
        .balance
        .checked_add(amount)
        .ok_or(Refusal::BalanceLimit)?;
    if let Some(from) = accounts.get_mut(posting.from) {
        from.balance = from_after;
    }
    if let Some(to) = accounts.get_mut(posting.to) {
        to.balance = to_after;
    }
    Ok((from_after, to_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(user: &str, balance: i64) -> AccountState {
        AccountState {
            user_id: Some(user.to_owned()),
            kind: AccountKind::Customer,
            currency: "EUR".to_owned(),
            balance,
            held: 0,
            active: true,
        }
    }

    fn book() -> HashMap<String, AccountState> {
        let mut accounts = HashMap::new();
        accounts.insert("alice".to_owned(), customer("u-alice", 100));
        accounts.insert("bob".to_owned(), customer("u-bob", 0));
        accounts.insert(
            "settlement".to_owned(),
            AccountState {
                user_id: None,
                kind: AccountKind::Settlement,
                currency: "EUR".to_owned(),
                balance: 0,
                held: 0,
                active: true,
            },
        );
        let mut usd = customer("u-alice", 50);
        usd.currency = "USD".to_owned();
        accounts.insert("alice-usd".to_owned(), usd);
        accounts
    }

    fn transfer<'a>(from: &'a str, to: &'a str, amount: i64, owner: &'a str) -> Posting<'a> {
        Posting {
            kind: PostingKind::Transfer,
            from,
            to,
            amount: Money::new(amount).unwrap_or(Money(1)),
            currency: "EUR",
            source_owner: Some(owner),
        }
    }

    #[test]
    fn a_refusal_kept_with_its_key_reads_back_the_same() {
        let duplicate = Refusal::DuplicateExternalRef {
            original_id: "tr-1".to_owned(),
        };
        let reversed = Refusal::AlreadyReversed {
            reversal_id: "tr-2".to_owned(),
        };
        for refusal in Refusal::RULES.into_iter().chain([duplicate, reversed]) {
            assert_eq!(Refusal::from_stored(&refusal.stored()), Some(refusal));
        }
        for nonsense in [
            "",
            "posted",
            "duplicate_external_ref:",
            "already_reversed:",
            "insufficient_funds:x",
        ] {
            assert_eq!(Refusal::from_stored(nonsense), None, "{nonsense}");
        }
    }

    #[test]
    fn postings_in_one_batch_see_each_other_and_never_overdraw() {
        let mut accounts = book();
        let mut posted = 0;
        let mut refused = 0;
        for _ in 0..15 {
            match apply(&mut accounts, &transfer("alice", "bob", 10, "u-alice")) {
                Ok(_) => posted += 1,
                Err(Refusal::InsufficientFunds) => refused += 1,
                Err(other) => assert_eq!(other, Refusal::InsufficientFunds, "unexpected refusal"),
            }
        }
        assert_eq!((posted, refused), (10, 5));
        assert_eq!(accounts.get("alice").map(|a| a.balance), Some(0));
        assert_eq!(accounts.get("bob").map(|a| a.balance), Some(100));
    }

    #[test]
    fn a_refused_posting_changes_nothing() {
        let mut accounts = book();
        let before = accounts.clone();
        let cases = [
            (
                transfer("alice", "bob", 101, "u-alice"),
                Refusal::InsufficientFunds,
            ),
            (
                transfer("bob", "alice", 1, "u-alice"),
                Refusal::AccountNotFound,
            ),
            (
                transfer("alice", "nobody", 1, "u-alice"),
                Refusal::AccountNotFound,
            ),
            (
                transfer("alice", "settlement", 1, "u-alice"),
                Refusal::AccountNotFound,
            ),
            (
                transfer("alice", "alice", 1, "u-alice"),
                Refusal::SameAccount,
            ),
            (
                transfer("alice-usd", "bob", 1, "u-alice"),
                Refusal::CurrencyMismatch,
            ),
        ];
        for (posting, expected) in cases {
            assert_eq!(apply(&mut accounts, &posting), Err(expected), "{posting:?}");
        }
        if let Some(alice) = accounts.get_mut("alice") {
            alice.active = false;
        }
        assert_eq!(
            apply(&mut accounts, &transfer("alice", "bob", 1, "u-alice")),
            Err(Refusal::AccountNotActive)
        );
        if let Some(alice) = accounts.get_mut("alice") {
            alice.active = true;
        }
        assert_eq!(accounts, before);
    }

    #[test]
    fn settlement_may_go_negative_and_customers_may_receive_while_frozen() {
        let mut accounts = book();
        if let Some(bob) = accounts.get_mut("bob") {
            bob.active = false;
        }
        let deposit = Posting {
            kind: PostingKind::Deposit,
            from: "settlement",
            to: "bob",
            amount: Money(500),
            currency: "EUR",
            source_owner: None,
        };
        assert_eq!(apply(&mut accounts, &deposit), Ok((-500, 500)));
        let withdrawal = Posting {
            kind: PostingKind::Withdrawal,
            from: "alice",
            to: "settlement",
            amount: Money(100),
            currency: "EUR",
            source_owner: None,
        };
        assert_eq!(apply(&mut accounts, &withdrawal), Ok((0, -400)));
        let total: i64 = accounts
            .values()
            .filter(|a| a.currency == "EUR")
            .map(|a| a.balance)
            .sum();
        assert_eq!(
            total, 100,
            "postings only move money; the EUR total is unchanged"
        );
    }

    #[test]
    fn a_credit_that_would_overflow_is_refused() {
        let mut accounts = book();
        if let Some(bob) = accounts.get_mut("bob") {
            bob.balance = i64::MAX;
        }
        assert_eq!(
            apply(&mut accounts, &transfer("alice", "bob", 1, "u-alice")),
            Err(Refusal::BalanceLimit)
        );
        assert_eq!(accounts.get("alice").map(|a| a.balance), Some(100));
    }
}
