//! Wire types of accounts, entries and transfers.

use app::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"currency": "EUR"}))]
pub struct NewAccount {
    /// ISO 4217, one of the configured currencies (`ledger.currencies`; the served document
    /// lists them as an enum).
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

/// A currency accounts can be opened in; `amount`s in it are counted in minor units
/// (`minor_units` digits after the decimal point: EUR 2, JPY 0).
#[derive(Serialize, ToSchema)]
pub struct CurrencyView {
    #[schema(example = "EUR")]
    pub code: String,
    #[schema(example = 2)]
    pub minor_units: u16,
}

impl From<app::ledger::CurrencyInfo> for CurrencyView {
    fn from(info: app::ledger::CurrencyInfo) -> CurrencyView {
        CurrencyView {
            code: info.code,
            minor_units: info.minor_units,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    #[schema(format = "uuid")]
    pub id: String,
    pub currency: String,
    /// Minor units.
    pub balance: i64,
    /// Minor units: the balance less the active holds, what a debit may take.
    pub available: i64,
    /// `active`, or `frozen` (receives but cannot send).
    pub status: String,
    pub created_at: String,
    /// An operator account's name (internal reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl From<store::AccountRecord> for AccountView {
    fn from(account: store::AccountRecord) -> AccountView {
        AccountView {
            available: account.available(),
            created_at: rfc3339(account.created_at),
            id: account.id,
            currency: account.currency,
            balance: account.balance,
            status: account.status,
            name: account.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub items: Vec<AccountView>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub id: String,
    #[schema(format = "uuid")]
    pub transfer_id: String,
    /// Minor units, always positive; `direction` says which way.
    pub amount: i64,
    /// `debit` or `credit`.
    pub direction: String,
    pub balance_after: i64,
    pub created_at: String,
    /// The movement: `transfer`, `deposit`, `withdrawal`, `capture` (of a hold), `reversal`,
    /// `fee` or `rebate` (to and from an operator account).
    pub kind: String,
    /// The sender's note, if any.
    pub memo: Option<String>,
    /// The bank's or card network's reference of a deposit or withdrawal.
    pub external_ref: Option<String>,
    /// The other side: where a debit went, where a credit came from.
    pub counterparty_account_id: String,
}

impl From<store::HistoryEntry> for EntryView {
    fn from(entry: store::HistoryEntry) -> EntryView {
        EntryView {
            id: entry.id,
            transfer_id: entry.transfer_id,
            amount: entry.amount,
            direction: entry.direction,
            balance_after: entry.balance_after,
            created_at: rfc3339(entry.created_at),
            kind: entry.kind,
            memo: entry.memo,
            external_ref: entry.external_ref,
            counterparty_account_id: entry.counterparty_account_id,
        }
    }
}

/// `?limit=&cursor=&order=&since=&until=` of an account's entries.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same `order`, `since` and `until`.
    #[param(pattern = "^[0-9A-Fa-f-]{1,64}$")]
    pub cursor: Option<String>,
    /// `asc` (oldest first, the default) or `desc` (newest first).
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
    /// Entries at or after this RFC 3339 date-time.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Entries before this RFC 3339 date-time.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryList {
    pub items: Vec<EntryView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    /// One of the caller's accounts (anything else is 404).
    #[schema(format = "uuid")]
    pub from_account_id: String,
    /// Another customer account in the same currency (unknown: 404).
    #[schema(format = "uuid")]
    pub to_account_id: String,
    /// Minor units, 1 to 10^15. Above `ledger.step_up_amount` the caller must have stepped up.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    pub amount: i64,
    /// ISO 4217, one of the configured currencies, and both accounts'.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// At most 140 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 140, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub memo: Option<String>,
}

impl From<NewTransfer> for app::ledger::TransferRequest {
    fn from(body: NewTransfer) -> app::ledger::TransferRequest {
        app::ledger::TransferRequest {
            from_account_id: body.from_account_id,
            to_account_id: body.to_account_id,
            amount: body.amount,
            currency: body.currency,
            memo: body.memo,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Movement {
    pub account_id: String,
    /// Minor units, 1 to 10^15.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    pub amount: i64,
    pub currency: String,
    /// 1–128 characters: the operator's reference (bank transaction id).
    pub external_ref: String,
}

impl From<Movement> for app::ledger::MovementRequest {
    fn from(body: Movement) -> app::ledger::MovementRequest {
        app::ledger::MovementRequest {
            account_id: body.account_id,
            amount: body.amount,
            currency: body.currency,
            external_ref: body.external_ref,
        }
    }
}

/// A transfer as answered (the schema of `app::ledger::Receipt`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    #[schema(format = "uuid")]
    pub id: String,
    /// Always `posted`: transfers are immutable once written.
    pub status: String,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub memo: Option<String>,
    pub created_at: String,
    /// A reversal: the transfer it reversed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverses: Option<String>,
    /// A reversed transfer: the reversal (`GET /v1/transfers/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversed_by: Option<String>,
}

/// `?account_id=&kind=&order=&since=&until=&limit=&cursor=` of the caller's transfers.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TransfersQuery {
    /// Only this account's transfers (one of the caller's; another is 404).
    #[param(format = "uuid")]
    pub account_id: Option<String>,
    /// Only this kind: `transfer`, `deposit`, `withdrawal`, `capture` (of a hold),
    /// `reversal`, `fee` or `rebate`.
    #[param(pattern = "^(transfer|deposit|withdrawal|capture|reversal|fee|rebate)$")]
    pub kind: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
    /// Transfers at or after this RFC 3339 date-time.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Transfers before this RFC 3339 date-time.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same filters.
    #[param(pattern = "^[0-9A-Fa-f-]{1,64}$")]
    pub cursor: Option<String>,
}

/// One of the caller's transfers.
#[derive(Serialize, ToSchema)]
pub struct TransferItem {
    #[schema(format = "uuid")]
    pub id: String,
    /// `transfer`, `deposit` or `withdrawal`.
    pub kind: String,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub memo: Option<String>,
    pub external_ref: Option<String>,
    pub created_at: String,
}

impl From<store::TransferListRow> for TransferItem {
    fn from(row: store::TransferListRow) -> TransferItem {
        let transfer = row.transfer;
        TransferItem {
            id: transfer.id,
            kind: transfer.kind,
            from_account_id: transfer.from_account_id,
            to_account_id: transfer.to_account_id,
            amount: transfer.amount,
            currency: transfer.currency,
            memo: transfer.memo,
            external_ref: transfer.external_ref,
            created_at: rfc3339(transfer.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TransferList {
    pub items: Vec<TransferItem>,
    pub next_cursor: Option<String>,
}

/// `?from=&to=&format=` of an account statement.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// The period's start (RFC 3339 date-time, inclusive); absent: the account's first entry.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// The period's end (RFC 3339 date-time, exclusive); absent: now.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// An account's statement: `opening_balance` + the entries = `closing_balance`.
#[derive(Serialize, ToSchema)]
pub struct StatementView {
    pub account_id: String,
    pub currency: String,
    /// The period asked for (`null`: open).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Minor units, before the period's first entry.
    pub opening_balance: i64,
    /// Minor units, after its last.
    pub closing_balance: i64,
    /// Oldest first.
    pub entries: Vec<EntryView>,
}

/// `POST /internal/v1/operator-accounts`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorAccountBody {
    /// 1–64 of `a-z`, `0-9`, `-`, `_`.
    pub name: String,
    pub currency: String,
}
