//! Holds (two-phase postings) for services with scope `ledger:hold`: reserve part of a
//! customer account's available balance (a card authorisation, a payout waiting on its bank),
//! then capture it — one `capture` transfer of at most the held amount to a customer or
//! settlement account, the rest released — or void it. A hold past its expiry is closed as
//! `expired` by a background sweep (also after a restart), or by the capture or void that
//! finds it first: it settles exactly once. The rules are `ledger::holds`; the transactions
//! are `store`'s, under the chain-head lock like every ledger write.

use ledger::PostingKind;
use ledger::holds::{HoldRefusal, HoldStatus};
use serde::{Deserialize, Serialize};
use store::{HoldOutcome, HoldRecord, HoldVoid, IdempotencyRecord, NewHold};

use super::{IdempotencyKey, Posted, Posting, amount, posting_request, refused, request_hash};
use crate::limits::{HOLD_EXPIRES_IN_SECS_MAX, HOLD_EXPIRY_BATCH_MAX, ID_CHARS_MAX};
use crate::{App, Error, RequestContext, Result, new_id, rfc3339};

/// The scope that places, captures and voids holds.
pub const HOLD_SCOPE: &str = "ledger:hold";

/// A hold as requested.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoldRequest {
    pub account_id: String,
    pub amount: i64,
    pub currency: String,
    pub expires_in_secs: i64,
    pub idempotency_key: String,
}

/// A capture as requested: at most the held amount, to a customer or settlement account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaptureRequest {
    pub amount: i64,
    pub to_account_id: String,
}

/// A hold as answered (and kept with its key, so a replay answers byte for byte the same).
#[derive(Debug, Clone, Serialize)]
pub struct HoldView {
    pub id: String,
    /// `held`, `captured`, `voided` or `expired`.
    pub status: String,
    pub account_id: String,
    pub amount: i64,
    pub currency: String,
    pub expires_at: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured_amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

impl From<&HoldRecord> for HoldView {
    fn from(hold: &HoldRecord) -> HoldView {
        HoldView {
            id: hold.id.clone(),
            status: hold.status.clone(),
            account_id: hold.account_id.clone(),
            amount: hold.amount,
            currency: hold.currency.clone(),
            expires_at: rfc3339(hold.expires_at),
            created_at: rfc3339(hold.created_at),
            captured_amount: hold.captured_amount,
            transfer_id: hold.transfer_id.clone(),
            closed_at: hold.closed_at.map(rfc3339),
        }
    }
}

/// What placing a hold answered.
#[derive(Debug)]
pub enum HoldPlaced {
    New(HoldView),
    /// The same request with the same key, answered before: the original answer's JSON.
    Replayed(String),
}

fn hold_refused(refusal: HoldRefusal) -> Error {
    match refusal {
        HoldRefusal::Account(refusal) => refused(refusal),
        HoldRefusal::Closed(status) => Error::HoldClosed {
            status: status.as_str(),
        },
        HoldRefusal::ExceedsHold => Error::CaptureExceedsHold,
    }
}

/// The answer to a hold operation that did not do what it was asked.
fn not_done(outcome: HoldOutcome) -> Error {
    match outcome {
        HoldOutcome::Refused(refusal) => hold_refused(refusal),
        HoldOutcome::RefusedBefore(refusal) => Error::Replayed(Box::new(refused(refusal))),
        HoldOutcome::KeyReused => Error::IdempotencyKeyReused,
        HoldOutcome::KeyInProgress => Error::RequestInProgress,
        HoldOutcome::NotFound => Error::NotFound,
        HoldOutcome::Done | HoldOutcome::Closed(_) | HoldOutcome::Replayed { .. } => {
            Error::Internal
        }
    }
}

fn hold_id(id: &str) -> Result<&str> {
    if id.is_empty() || id.len() > ID_CHARS_MAX {
        return Err(Error::NotFound);
    }
    Ok(id)
}

impl App {
    /// Places a hold: the account's `available` drops by `amount`, its balance does not.
    pub async fn create_hold(
        &self,
        ctx: &RequestContext,
        request: HoldRequest,
    ) -> Result<HoldPlaced> {
        let service = ctx.service(HOLD_SCOPE)?;
        let held = amount(request.amount)?;
        let currency = self.currency(&request.currency)?;
        if !(1..=HOLD_EXPIRES_IN_SECS_MAX).contains(&request.expires_in_secs) {
            return Err(Error::field("expires_in_secs", "out_of_range"));
        }
        let key = IdempotencyKey::parse(&request.idempotency_key)
            .ok_or_else(|| Error::field("idempotency_key", "invalid"))?;
        if request.account_id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        let scope = format!("service:{}", service.name);
        let hash = request_hash("/internal/v1/holds", &request)?;
        let created_at = self.clock.now_ms();
        let expires_at = request
            .expires_in_secs
            .checked_mul(1_000)
            .and_then(|ms| created_at.checked_add(ms))
            .ok_or_else(|| Error::field("expires_in_secs", "out_of_range"))?;
        let record = HoldRecord {
            id: new_id(),
            account_id: request.account_id,
            amount: held.minor_units(),
            currency: currency.as_str().to_owned(),
            status: HoldStatus::Held.as_str().to_owned(),
            expires_at,
            initiated_by: scope.clone(),
            created_at,
            captured_amount: None,
            transfer_id: None,
            closed_at: None,
        };
        let view = HoldView::from(&record);
        let response_body =
            serde_json::to_string(&view).map_err(|error| crate::error::internal("hold", error))?;
        let hold = NewHold {
            id: record.id,
            account_id: record.account_id,
            amount: held,
            currency: record.currency,
            expires_at,
            initiated_by: scope.clone(),
            created_at,
            idempotency: IdempotencyRecord {
                scope,
                key: key.0,
                request_hash: hash,
                response_body,
            },
            request_id: ctx.request_id.clone(),
            ip: ctx.ip.to_string(),
        };
        match self.store.create_hold(&hold).await? {
            HoldOutcome::Done => {
                metrics::counter!("strongroom_holds_total", "outcome" => "created").increment(1);
                Ok(HoldPlaced::New(view))
            }
            HoldOutcome::Replayed { body } => Ok(HoldPlaced::Replayed(body)),
            other => Err(not_done(other)),
        }
    }

    /// Captures `amount` of a hold to `to_account_id` (one `capture` transfer from the held
    /// account); the rest of the hold is released. A hold is captured at most once: the same
    /// capture again answers the same transfer, any other `hold_closed`.
    pub async fn capture_hold(
        &self,
        ctx: &RequestContext,
        id: &str,
        request: CaptureRequest,
    ) -> Result<Posted> {
        let service = ctx.service(HOLD_SCOPE)?;
        let id = hold_id(id)?;
        let captured = amount(request.amount)?;
        if request.to_account_id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        let scope = format!("service:{}", service.name);
        let hold = self.own_hold(&scope, id).await?;
        let currency = self.currency(&hold.currency)?;
        self.check_capture_rules(&hold, &request).await?;
        let hash = request_hash("/internal/v1/holds/capture", &request)?;
        let posting = Posting {
            kind: PostingKind::Capture,
            from: hold.account_id.clone(),
            to: request.to_account_id,
            amount: captured,
            currency,
            memo: None,
            external_ref: None,
            initiated_by: scope,
            source_owner: None,
            reverses: None,
        };
        // The hold's own key: one capture per hold, whichever service asks.
        let key = IdempotencyKey(format!("capture:{id}"));
        let (request, receipt) = posting_request(
            ctx,
            format!("hold:{id}"),
            key,
            hash,
            posting,
            self.clock.now_ms(),
        )?;
        match self.store.capture_hold(id, &request).await? {
            HoldOutcome::Done => {
                metrics::counter!("strongroom_holds_total", "outcome" => "captured").increment(1);
                Ok(Posted::New(receipt))
            }
            HoldOutcome::Replayed { body } => Ok(Posted::Replayed(body)),
            other => Err(not_done(other)),
        }
    }

    /// Voids a hold, releasing what it held; voiding a voided or expired hold answers it as
    /// it is, a captured one `hold_closed`.
    pub async fn void_hold(&self, ctx: &RequestContext, id: &str) -> Result<HoldView> {
        let service = ctx.service(HOLD_SCOPE)?;
        let scope = format!("service:{}", service.name);
        let hold = self.own_hold(&scope, id).await?;
        let void = HoldVoid {
            hold_id: hold.id,
            initiated_by: scope,
            at: self.clock.now_ms(),
            request_id: ctx.request_id.clone(),
            ip: ctx.ip.to_string(),
        };
        match self.store.void_hold(&void).await? {
            HoldOutcome::Closed(hold) => Ok(HoldView::from(&hold)),
            other => Err(not_done(other)),
        }
    }

    /// A hold the calling service placed, as it is now.
    pub async fn hold(&self, ctx: &RequestContext, id: &str) -> Result<HoldView> {
        let service = ctx.service(HOLD_SCOPE)?;
        let hold = self
            .own_hold(&format!("service:{}", service.name), id)
            .await?;
        Ok(HoldView::from(&hold))
    }

    /// Hold `id` if the service `scope` placed it; `NotFound` otherwise (another service's
    /// holds look like no hold at all).
    async fn own_hold(&self, scope: &str, id: &str) -> Result<HoldRecord> {
        self.store
            .find_hold(hold_id(id)?)
            .await?
            .filter(|hold| hold.initiated_by == scope)
            .ok_or(Error::NotFound)
    }

    /// A capture moves money out of a customer's account without its owner, as a withdrawal
    /// does, and follows its rules wherever it goes (another customer, settlement): above
    /// `ledger.four_eyes_amount` it needs four eyes (void the hold and file a withdrawal or
    /// ask the customer), and the owner's email must be verified where that is required. A
    /// service holding `ledger:hold` alone cannot move a large sum between two customers.
    async fn check_capture_rules(&self, hold: &HoldRecord, request: &CaptureRequest) -> Result<()> {
        if request.amount > self.ledger.four_eyes_amount {
            return Err(Error::ApprovalRequired);
        }
        if self.auth.require_verified_email {
            let owner = self.store.find_account(&hold.account_id).await?;
            if let Some(owner) = owner.and_then(|account| account.user_id) {
                self.require_verified_email(&owner).await?;
            }
        }
        Ok(())
    }

    /// Closes the holds past their expiry as `expired`, releasing what they held (the
    /// background sweep); returns how many.
    pub async fn expire_holds(&self) -> std::result::Result<u64, store::StoreError> {
        let now = self.clock.now_ms();
        let mut expired = 0_u64;
        loop {
            let closed = self.store.expire_holds(now, HOLD_EXPIRY_BATCH_MAX).await?;
            expired = expired.saturating_add(closed);
            if closed < u64::try_from(HOLD_EXPIRY_BATCH_MAX).unwrap_or(u64::MAX) {
                break;
            }
        }
        if expired > 0 {
            metrics::counter!("strongroom_holds_total", "outcome" => "expired").increment(expired);
        }
        Ok(expired)
    }
}
