//! Reversals (scope `ledger:reverse`): a service takes a posted movement back — the same
//! amount, from its destination to its source, as a `reversal` transfer that names the
//! original (and whose entries' hashes commit to that link). A transfer is reversed at most
//! once, whoever asks: the ledger writer checks under the chain lock, and the store refuses a
//! second one. A reversal is refused when it would overdraw its source's `available` or when
//! its source is frozen (unfreezing takes two admins, so a frozen account's money never moves
//! on one service's say); above `ledger.four_eyes_amount` it waits for an admin's approval. A
//! reversal cannot itself be reversed.

use ledger::{Money, PostingKind};
use serde::{Deserialize, Serialize};

use super::four_eyes::HeldReversal;
use super::{IdempotencyKey, Posted, Posting, request_hash};
use crate::limits::{ID_CHARS_MAX, MEMO_CHARS_MAX};
use crate::{App, Error, RequestContext, Result};

/// The scope that reverses transfers.
pub const REVERSE_SCOPE: &str = "ledger:reverse";

/// A reversal as requested: why (kept as the reversal's memo).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReverseRequest {
    pub reason: String,
}

impl App {
    /// Reverses transfer `id`: 201 with the reversal, or 202 with an approval above
    /// `ledger.four_eyes_amount`.
    pub async fn reverse_transfer(
        &self,
        ctx: &RequestContext,
        key: IdempotencyKey,
        id: &str,
        request: ReverseRequest,
    ) -> Result<Posted> {
        let service = ctx.service(REVERSE_SCOPE)?;
        let reason = request.reason.trim();
        if reason.is_empty()
            || reason.chars().count() > MEMO_CHARS_MAX
            || reason.chars().any(char::is_control)
        {
            return Err(Error::field("reason", "invalid"));
        }
        let scope = format!("service:{}", service.name);
        let original = self.original(id).await?;
        let held = HeldReversal {
            transfer_id: original.id.clone(),
            from_account_id: original.to_account_id.clone(),
            to_account_id: original.from_account_id.clone(),
            amount: original.amount,
            currency: original.currency.clone(),
            reason: reason.to_owned(),
        };
        let hash = request_hash("/internal/v1/transfers/reverse", &held)?;
        if original.amount > self.ledger.four_eyes_amount {
            return self
                .reversal_for_approval(ctx, scope, key, hash, held)
                .await;
        }
        let posting = self.reversal_posting(&original.id, request, &scope).await?;
        self.post_idempotently(ctx, scope, key, hash, posting).await
    }

    /// The transfer to reverse: posted, and not itself a reversal.
    async fn original(&self, id: &str) -> Result<store::TransferRecord> {
        if id.is_empty() || id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        let original = self.store.find_transfer(id).await?.ok_or(Error::NotFound)?;
        if original.kind == PostingKind::Reversal.as_str() {
            return Err(Error::NotReversible);
        }
        Ok(original)
    }

    /// The reversal of transfer `id` as the ledger writer posts it, for `scope`.
    pub(crate) async fn reversal_posting(
        &self,
        id: &str,
        request: ReverseRequest,
        scope: &str,
    ) -> Result<Posting> {
        let original = self.original(id).await?;
        let amount = Money::new(original.amount)
            .map_err(|error| crate::error::internal("reversed amount", error))?;
        Ok(Posting {
            kind: PostingKind::Reversal,
            from: original.to_account_id,
            to: original.from_account_id,
            amount,
            currency: self.currency(&original.currency)?,
            memo: Some(request.reason.trim().to_owned()),
            external_ref: None,
            initiated_by: scope.to_owned(),
            source_owner: None,
            reverses: Some(original.id),
        })
    }
}
