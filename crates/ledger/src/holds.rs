//! Holds (two-phase postings), with no IO: a service reserves part of a customer account's
//! balance (a card authorisation, a payout waiting on its bank), then captures it — one
//! transfer of at most the held amount, the rest released — or voids it; a hold past its
//! expiry is voided by the ledger (`expired`). A hold moves no money: it raises the account's
//! `held`, so `available` (balance − held) drops and every debit is checked against it
//! (`apply`); its capture is an ordinary hash-chained posting of kind `capture`.

use std::collections::HashMap;

use crate::{AccountKind, AccountState, Money, Refusal};

/// Where a hold is in its life: `held` until it is captured, voided or expired, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    Held,
    Captured,
    Voided,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Captured => "captured",
            HoldStatus::Voided => "voided",
            HoldStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<HoldStatus> {
        [
            HoldStatus::Held,
            HoldStatus::Captured,
            HoldStatus::Voided,
            HoldStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

/// Why a hold operation was refused. Nothing changed (except an expired hold found by a
/// capture, which the same transaction closes as `expired`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldRefusal {
    /// A refusal of the account's rules: unknown, frozen, another currency, not enough
    /// available.
    Account(Refusal),
    /// The hold is no longer held: captured, voided or expired.
    Closed(HoldStatus),
    /// The capture asks for more than the hold reserved.
    ExceedsHold,
}

/// A hold as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldState {
    pub amount: i64,
    pub status: HoldStatus,
    /// Milliseconds since the epoch; from then on the hold is expired.
    pub expires_at: i64,
}

impl HoldState {
    /// Held, but past its expiry at `now`: whoever finds it closes it as `expired`.
    pub fn is_due(&self, now: i64) -> bool {
        self.status == HoldStatus::Held && now >= self.expires_at
    }
}

/// Places a hold of `amount` in `currency` on the customer account `account_id`: the account
/// must be active, in that currency, and have at least `amount` available. Returns the
/// account's `held` after it; on a refusal `accounts` is unchanged.
pub fn place(
    accounts: &mut HashMap<String, AccountState>,
    account_id: &str,
    amount: Money,
    currency: &str,
) -> Result<i64, Refusal> {
    let account = accounts
        .get_mut(account_id)
        .filter(|account| account.kind == AccountKind::Customer)
        .ok_or(Refusal::AccountNotFound)?;
    if account.currency != currency {
        return Err(Refusal::CurrencyMismatch);
    }
    if !account.active {
        return Err(Refusal::AccountNotActive);
    }
    let available = account.available().ok_or(Refusal::BalanceLimit)?;
    if amount.minor_units() > available {
        return Err(Refusal::InsufficientFunds);
    }
    let held = account
        .held
        .checked_add(amount.minor_units())
        .ok_or(Refusal::BalanceLimit)?;
    account.held = held;
    Ok(held)
}

/// Releases a closing hold of `amount` from `account_id`'s `held`; `None` when the account is
/// unknown or holds less than that (the store's `held` no longer matches its holds).
pub fn release(
    accounts: &mut HashMap<String, AccountState>,
    account_id: &str,
    amount: i64,
) -> Option<i64> {
    let account = accounts.get_mut(account_id)?;
    let held = account.held.checked_sub(amount).filter(|held| *held >= 0)?;
    account.held = held;
    Some(held)
}

/// Whether `hold` may be captured for `amount` at `now`: still held, not due, and at most the
/// held amount.
pub fn check_capture(hold: &HoldState, amount: Money, now: i64) -> Result<(), HoldRefusal> {
    if hold.is_due(now) {
        return Err(HoldRefusal::Closed(HoldStatus::Expired));
    }
    if hold.status != HoldStatus::Held {
        return Err(HoldRefusal::Closed(hold.status));
    }
    if amount.minor_units() > hold.amount {
        return Err(HoldRefusal::ExceedsHold);
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// A stored hold with its capture's transfer row (when it names one), for `ledger verify`.
#[derive(Debug, Clone)]
pub struct StoredHold<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub status: &'a str,
    pub expires_at: i64,
    /// `service:{name}`: the service the hold belongs to.
    pub initiated_by: &'a str,
    pub captured_amount: Option<i64>,
    /// The capture's transfer: kind, from, amount, currency.
    pub capture: Option<(&'a str, &'a str, i64, &'a str)>,
}

/// An account as stored, for the holds check.
#[derive(Debug, Clone)]
pub struct HeldAccount<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub balance: i64,
    pub held: i64,
}

/// `ledger verify` over holds, fed every hold a page at a time: each captured hold names one
/// `capture` transfer from its account, in its currency, of its captured amount (at most the
/// held amount); then every account's `held` is the sum of its active holds, no customer's
/// available balance is negative, and every `capture` transfer belongs to a hold.
#[derive(Debug, Default)]
pub struct HoldCheck {
    held: HashMap<String, i64>,
    captured: u64,
    holds: u64,
    /// What the audit log says of each hold, when the check compares with it.
    audited: Option<HashMap<String, AuditedHold>>,
    /// The holds seen, when the check compares with the audit log (none may be missing).
    seen: std::collections::HashSet<String>,
}

/// What the hash-chained audit log says of a hold: where it was placed (`ledger.hold`), and
/// how it was closed other than by a capture (`ledger.hold.void`, `ledger.hold.expire`).
/// Holds are not in the ledger's hash chain; their audit records are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditedHold {
    pub placed: Option<Placement>,
    pub closed: Option<HoldStatus>,
}

/// A hold as its `ledger.hold` audit record placed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub account_id: String,
    pub amount: i64,
    pub currency: String,
    pub expires_at: i64,
    /// `service:{name}`.
    pub placed_by: String,
}

impl HoldCheck {
    /// A check that also holds every hold to its audit records: one changed in the database
    /// (its amount, its account, a status flipped without its record) is named.
    pub fn against_audit(audited: HashMap<String, AuditedHold>) -> HoldCheck {
        HoldCheck {
            audited: Some(audited),
            ..HoldCheck::default()
        }
    }

    /// The hold against its audit records, if this check has them.
    fn audited(&self, hold: &StoredHold<'_>, status: HoldStatus) -> Result<(), String> {
        let Some(audited) = &self.audited else {
            return Ok(());
        };
        let record = audited.get(hold.id).ok_or("no audit record placed it")?;
        let placed = Placement {
            account_id: hold.account_id.to_owned(),
            amount: hold.amount,
            currency: hold.currency.to_owned(),
            expires_at: hold.expires_at,
            placed_by: hold.initiated_by.to_owned(),
        };
        if record.placed.as_ref() != Some(&placed) {
            return Err(
                "its account, amount, currency, expiry or service is not what its audit record placed"
                    .to_owned(),
            );
        }
        let closed_by_record = match status {
            HoldStatus::Voided | HoldStatus::Expired => Some(status),
            HoldStatus::Held | HoldStatus::Captured => None,
        };
        if record.closed != closed_by_record {
            return Err(format!(
                "it is {} but its audit records close it as {}",
                status.as_str(),
                record.closed.map_or("nothing", HoldStatus::as_str)
            ));
        }
        Ok(())
    }

    pub fn hold(&mut self, hold: &StoredHold<'_>) -> Result<(), crate::VerifyError> {
        let fail = |what: &str| crate::VerifyError(format!("hold {}: {what}", hold.id));
        self.holds = self.holds.saturating_add(1);
        if self.audited.is_some() {
            self.seen.insert(hold.id.to_owned());
        }
        if let Some(status) = HoldStatus::parse(hold.status) {
            self.audited(hold, status).map_err(|what| fail(&what))?;
        }
        match HoldStatus::parse(hold.status) {
            Some(HoldStatus::Held) => {
                let held = self.held.entry(hold.account_id.to_owned()).or_insert(0);
                *held = held
                    .checked_add(hold.amount)
                    .ok_or_else(|| fail("overflow"))?;
            }
            Some(HoldStatus::Captured) => {
                let (kind, from, amount, currency) = hold
                    .capture
                    .ok_or_else(|| fail("captured, but its transfer is missing"))?;
                let captured = hold
                    .captured_amount
                    .ok_or_else(|| fail("captured without an amount"))?;
                if kind != "capture" || from != hold.account_id || currency != hold.currency {
                    return Err(fail("its transfer is not a capture from its account"));
                }
                if amount != captured || captured > hold.amount {
                    return Err(fail("its transfer's amount is not the captured amount"));
                }
                self.captured = self.captured.saturating_add(1);
            }
            Some(HoldStatus::Voided | HoldStatus::Expired) => {}
            None => return Err(fail("unknown status")),
        }
        Ok(())
    }

    /// After the last hold: the accounts' `held`, their available balances, and the number
    /// of `capture` transfers stored. Returns the number of holds checked.
    pub fn finish<'a>(
        self,
        accounts: impl IntoIterator<Item = HeldAccount<'a>>,
        captures_stored: u64,
    ) -> Result<u64, crate::VerifyError> {
        if let Some(audited) = &self.audited
            && let Some(missing) = audited
                .iter()
                .find(|(id, record)| record.placed.is_some() && !self.seen.contains(*id))
                .map(|(id, _)| id)
        {
            return Err(crate::VerifyError(format!(
                "hold {missing}: its audit record placed it, but it is not stored"
            )));
        }
        for account in accounts {
            let held = self.held.get(account.id).copied().unwrap_or(0);
            if held != account.held {
                return Err(crate::VerifyError(format!(
                    "account {}: stored held {} but its active holds sum to {held}",
                    account.id, account.held
                )));
            }
            if account.kind == AccountKind::Customer.as_str()
                && account
                    .balance
                    .checked_sub(account.held)
                    .is_none_or(|available| available < 0)
            {
                return Err(crate::VerifyError(format!(
                    "account {}: its holds exceed its balance",
                    account.id
                )));
            }
        }
        if captures_stored != self.captured {
            return Err(crate::VerifyError(format!(
                "{captures_stored} capture transfers are stored but {} holds were captured",
                self.captured
            )));
        }
        Ok(self.holds)
    }
}
