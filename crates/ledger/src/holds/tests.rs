//! The hold rules: what a hold reserves, what a capture may take, and when a hold is closed.

use std::collections::HashMap;

use super::*;
use crate::{Posting, PostingKind, apply};

fn account(kind: AccountKind, balance: i64) -> AccountState {
    AccountState {
        user_id: Some("u".to_owned()),
        kind,
        currency: "EUR".to_owned(),
        balance,
        held: 0,
        active: true,
    }
}

fn money(amount: i64) -> Money {
    Money::new(amount).unwrap_or_else(|_| unreachable!("a test amount is in range"))
}

#[test]
fn a_hold_reserves_available_money_that_no_debit_can_take() {
    let mut accounts = HashMap::from([
        ("alice".to_owned(), account(AccountKind::Customer, 100)),
        ("bob".to_owned(), account(AccountKind::Customer, 0)),
    ]);
    assert_eq!(place(&mut accounts, "alice", money(60), "EUR"), Ok(60));
    assert_eq!(
        place(&mut accounts, "alice", money(41), "EUR"),
        Err(Refusal::InsufficientFunds),
        "only 40 is still available"
    );
    let transfer = |amount| Posting {
        kind: PostingKind::Transfer,
        from: "alice",
        to: "bob",
        amount: money(amount),
        currency: "EUR",
        source_owner: Some("u"),
    };
    assert_eq!(
        apply(&mut accounts, &transfer(41)),
        Err(Refusal::InsufficientFunds)
    );
    assert_eq!(apply(&mut accounts, &transfer(40)), Ok((60, 40)));
    let alice = accounts.get("alice").cloned();
    assert_eq!(alice.as_ref().and_then(AccountState::available), Some(0));
    assert_eq!(release(&mut accounts, "alice", 60), Some(0));
    assert_eq!(
        release(&mut accounts, "alice", 1),
        None,
        "held never goes negative"
    );
}

#[test]
fn holds_only_on_active_customer_accounts_in_their_currency() {
    let mut frozen = account(AccountKind::Customer, 100);
    frozen.active = false;
    let mut accounts = HashMap::from([
        ("frozen".to_owned(), frozen),
        (
            "settlement".to_owned(),
            account(AccountKind::Settlement, 100),
        ),
        ("alice".to_owned(), account(AccountKind::Customer, 100)),
    ]);
    let before = accounts.clone();
    let cases = [
        ("frozen", "EUR", Refusal::AccountNotActive),
        ("settlement", "EUR", Refusal::AccountNotFound),
        ("nobody", "EUR", Refusal::AccountNotFound),
        ("alice", "USD", Refusal::CurrencyMismatch),
    ];
    for (id, currency, refusal) in cases {
        assert_eq!(
            place(&mut accounts, id, money(1), currency),
            Err(refusal),
            "{id}"
        );
    }
    assert_eq!(accounts, before);
}

#[test]
fn a_capture_takes_at_most_the_hold_and_only_while_it_is_held() {
    let hold = HoldState {
        amount: 50,
        status: HoldStatus::Held,
        expires_at: 1_000,
    };
    assert_eq!(check_capture(&hold, money(50), 999), Ok(()));
    assert_eq!(check_capture(&hold, money(20), 999), Ok(()));
    assert_eq!(
        check_capture(&hold, money(51), 999),
        Err(HoldRefusal::ExceedsHold)
    );
    assert_eq!(
        check_capture(&hold, money(1), 1_000),
        Err(HoldRefusal::Closed(HoldStatus::Expired)),
        "due at its expiry instant"
    );
    for status in [
        HoldStatus::Captured,
        HoldStatus::Voided,
        HoldStatus::Expired,
    ] {
        let closed = HoldState { status, ..hold };
        assert_eq!(
            check_capture(&closed, money(1), 0),
            Err(HoldRefusal::Closed(status))
        );
        assert!(!closed.is_due(2_000), "a closed hold is never due again");
        assert_eq!(HoldStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(HoldStatus::parse("open"), None);
}

#[test]
fn verify_holds_every_hold_to_its_audit_records() {
    let stored = |status: &'static str, amount: i64| StoredHold {
        id: "h1",
        account_id: "alice",
        amount,
        currency: "EUR",
        status,
        expires_at: 900,
        initiated_by: "service:cards",
        captured_amount: None,
        capture: None,
    };
    let audited = |closed: Option<HoldStatus>| {
        HashMap::from([(
            "h1".to_owned(),
            AuditedHold {
                placed: Some(Placement {
                    account_id: "alice".to_owned(),
                    amount: 50,
                    currency: "EUR".to_owned(),
                    expires_at: 900,
                    placed_by: "service:cards".to_owned(),
                }),
                closed,
            },
        )])
    };
    let check = |records, hold: StoredHold<'_>| HoldCheck::against_audit(records).hold(&hold);
    assert!(check(audited(None), stored("held", 50)).is_ok());
    assert!(check(audited(Some(HoldStatus::Voided)), stored("voided", 50)).is_ok());
    assert!(check(audited(Some(HoldStatus::Expired)), stored("expired", 50)).is_ok());
    for (records, hold, what) in [
        (
            audited(None),
            stored("held", 60),
            "amount raised in the database",
        ),
        (
            audited(None),
            stored("voided", 50),
            "voided without its record",
        ),
        (
            audited(Some(HoldStatus::Voided)),
            stored("held", 50),
            "reopened",
        ),
        (
            audited(Some(HoldStatus::Voided)),
            stored("expired", 50),
            "status changed",
        ),
        (HashMap::new(), stored("held", 50), "no record at all"),
    ] {
        assert!(check(records, hold).is_err(), "{what}");
    }
    let postponed = StoredHold {
        expires_at: 9_000,
        ..stored("held", 50)
    };
    assert!(check(audited(None), postponed).is_err(), "expiry moved");
    let handed_over = StoredHold {
        initiated_by: "service:other",
        ..stored("held", 50)
    };
    assert!(
        check(audited(None), handed_over).is_err(),
        "given to another service"
    );
    // A hold its record placed must be stored: deleting one is named.
    let missing = HoldCheck::against_audit(audited(None)).finish(Vec::new(), 0);
    assert!(missing.is_err());
    // Without audit records (a bare check), only consistency is checked.
    assert!(HoldCheck::default().hold(&stored("voided", 50)).is_ok());
}
