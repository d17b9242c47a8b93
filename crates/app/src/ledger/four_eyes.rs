//! Four-eyes withdrawals: a withdrawal above `ledger.four_eyes_amount` is filed as an approval
//! (202) instead of posted, and posted — once — when a second person (an admin) approves it.
//! The approval's id follows from the service and its `Idempotency-Key`, so a retry finds the
//! same approval; on approval the posting goes to the ledger writer under that same key, so a
//! repeated attempt replays the first instead of moving money again.

use serde_json::json;

use super::{IdempotencyKey, MovementRequest, Posted, Posting, request_hash};
use crate::limits::APPROVAL_TTL_MS;
use crate::{App, Error, RequestContext, Result};

/// What an approval keeps of the withdrawal it holds back.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct HeldWithdrawal {
    request: MovementRequest,
    scope: String,
    idempotency_key: String,
}

impl App {
    /// Files the withdrawal for approval, or finds the approval a retry of it filed.
    pub(super) async fn withdrawal_for_approval(
        &self,
        ctx: &RequestContext,
        scope: String,
        key: IdempotencyKey,
        hash: Vec<u8>,
        request: MovementRequest,
    ) -> Result<Posted> {
        let id_hash = request_hash("approval", &(&scope, &key.0))?;
        let approval_id: String = std::iter::once("wd-".to_owned())
            .chain(id_hash.iter().take(16).map(|byte| format!("{byte:02x}")))
            .collect();
        let held = HeldWithdrawal {
            request,
            scope,
            idempotency_key: key.0,
        };
        if let Some(answer) = self.earlier_withdrawal(&approval_id, &hash).await? {
            return answer;
        }
        let account = self
            .store
            .find_account(&held.request.account_id)
            .await?
            .filter(|account| account.user_id.is_some())
            .ok_or(Error::NotFound)?;
        if account.currency != held.request.currency {
            return Err(Error::CurrencyMismatch);
        }
        let params = serde_json::to_string(&held)
            .map_err(|error| crate::error::internal("approval params", error))?;
        let now = self.clock.now_ms();
        let target = format!("account:{}", held.request.account_id);
        let entry = self.audit_entry(
            ctx,
            "approval.request.withdrawal",
            &target,
            "pending",
            json!({
                "approval_id": approval_id,
                "amount": held.request.amount,
                "currency": held.request.currency,
            }),
        );
        let approval = store::ApprovalRecord {
            id: approval_id.clone(),
            action: "withdrawal".to_owned(),
            target,
            params,
            requested_by: held.scope,
            requested_at: now,
            expires_at: now.saturating_add(APPROVAL_TTL_MS),
            status: "pending".to_owned(),
            decided_by: None,
            decided_at: None,
        };
        if let Err(error) = self.store.create_approval(&approval, &entry).await {
            // The same request racing itself: the one that lost finds the winner's approval.
            if let Some(answer) = self.earlier_withdrawal(&approval_id, &hash).await? {
                return answer;
            }
            return Err(error.into());
        }
        Ok(Posted::PendingApproval {
            approval_id,
            status: "pending".to_owned(),
        })
    }

    /// The answer for a withdrawal whose approval exists already: where it stands, or a reused
    /// key when the earlier request differed.
    async fn earlier_withdrawal(
        &self,
        approval_id: &str,
        hash: &[u8],
    ) -> Result<Option<Result<Posted>>> {
        let Some(existing) = self.store.find_approval(approval_id).await? else {
            return Ok(None);
        };
        let same = serde_json::from_str::<HeldWithdrawal>(&existing.params)
            .ok()
            .and_then(|earlier| request_hash("/internal/v1/withdrawals", &earlier.request).ok())
            .is_some_and(|earlier| earlier == hash);
        if !same {
            return Ok(Some(Err(Error::IdempotencyKeyReused)));
        }
        let status = if existing.status == "pending" && existing.expires_at <= self.clock.now_ms() {
            "expired".to_owned()
        } else {
            existing.status
        };
        Ok(Some(Ok(Posted::PendingApproval {
            approval_id: approval_id.to_owned(),
            status,
        })))
    }

    /// Posts an approved withdrawal under its caller's own idempotency key; the transfer id.
    pub(crate) async fn post_approved_withdrawal(
        &self,
        approval: &store::ApprovalRecord,
        ctx: &RequestContext,
    ) -> Result<String> {
        let held: HeldWithdrawal = serde_json::from_str(&approval.params)
            .map_err(|error| crate::error::internal("approval params", error))?;
        let hash = request_hash("/internal/v1/withdrawals", &held.request)?;
        let key = IdempotencyKey::parse(&held.idempotency_key)
            .ok_or_else(|| crate::error::internal("approval params", "idempotency key"))?;
        let amount = ledger::Money::new(held.request.amount)
            .map_err(|error| crate::error::internal("approval params", error))?;
        let currency = self.currency(&held.request.currency)?;
        let posting = Posting {
            kind: ledger::PostingKind::Withdrawal,
            to: format!("settlement-{}", currency.as_str()),
            from: held.request.account_id,
            amount,
            currency,
            memo: None,
            external_ref: Some(held.request.external_ref),
            initiated_by: held.scope.clone(),
            source_owner: None,
        };
        match self
            .post_idempotently(ctx, held.scope, key, hash, posting)
            .await?
        {
            Posted::New(receipt) => Ok(receipt.id),
            Posted::Replayed(body) => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|receipt| receipt.get("id")?.as_str().map(str::to_owned))
                .ok_or_else(|| crate::error::internal("replayed receipt", "no id")),
            Posted::PendingApproval { .. } => Err(Error::Internal),
        }
    }
}
