//! Wire types of holds (internal, scope `ledger:hold`) and reversals (`ledger:reverse`).

use serde::Deserialize;

/// `POST /internal/v1/holds`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHoldBody {
    pub account_id: String,
    /// Minor units, 1 to 10^15: at most the account's `available`.
    pub amount: i64,
    pub currency: String,
    /// 1 to 30 days; then the hold is closed as `expired` and releases what it held.
    pub expires_in_secs: i64,
    /// 1–255 visible ASCII characters; the same key and body answer the same hold.
    pub idempotency_key: String,
}

impl From<NewHoldBody> for app::ledger::holds::HoldRequest {
    fn from(body: NewHoldBody) -> Self {
        app::ledger::holds::HoldRequest {
            account_id: body.account_id,
            amount: body.amount,
            currency: body.currency,
            expires_in_secs: body.expires_in_secs,
            idempotency_key: body.idempotency_key,
        }
    }
}

/// `POST /internal/v1/holds/{id}/capture`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureBody {
    /// Minor units, at most the held amount; the rest of the hold is released.
    pub amount: i64,
    /// A customer or settlement account in the hold's currency.
    pub to_account_id: String,
}

impl From<CaptureBody> for app::ledger::holds::CaptureRequest {
    fn from(body: CaptureBody) -> Self {
        app::ledger::holds::CaptureRequest {
            amount: body.amount,
            to_account_id: body.to_account_id,
        }
    }
}

/// A hold: the app's view is the wire form (it is also kept with the hold's key).
pub type HoldBody = app::ledger::holds::HoldView;

/// `POST /internal/v1/transfers/{id}/reverse`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseBody {
    /// 1–140 characters, kept as the reversal's memo.
    pub reason: String,
}
