//! Four-eyes postings: a withdrawal, or a reversal, above `ledger.four_eyes_amount` is filed as
//! an approval (202) instead of posted, and posted — once — when a second person (an admin)
//! approves it. The approval's id follows from the service and its `Idempotency-Key`, so a
//! retry finds the same approval; on approval the posting goes to the ledger writer under that
//! same key, so a repeated attempt replays the first instead of moving money again.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::reversals::ReverseRequest;
use super::{IdempotencyKey, MovementRequest, Posted, Posting, request_hash};
use crate::limits::APPROVAL_TTL_MS;
use crate::{App, Error, RequestContext, Result};

/// What an approval keeps of the posting it holds back.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Held<R> {
    request: R,
    scope: String,
    idempotency_key: String,
}

/// A reversal waiting for approval: the transfer, what it moved, and why.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct HeldReversal {
    pub(crate) transfer_id: String,
    /// Who pays it back and who gets it: what the approver sees.
    pub(crate) from_account_id: String,
    pub(crate) to_account_id: String,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) reason: String,
}

/// The posting actions an approval can hold back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingAction {
    Withdrawal,
    Reversal,
}

impl PostingAction {
    /// The approval's `action`.
    pub fn name(self) -> &'static str {
        match self {
            PostingAction::Withdrawal => "withdrawal",
            PostingAction::Reversal => "reversal",
        }
    }

    /// The action of an approval that holds a posting back; `None` for the others.
    pub fn of(action: &str) -> Option<PostingAction> {
        [PostingAction::Withdrawal, PostingAction::Reversal]
            .into_iter()
            .find(|posting| posting.name() == action)
    }

    /// The operation the request hash is taken over (as at the endpoint).
    fn operation(self) -> &'static str {
        match self {
            PostingAction::Withdrawal => "/internal/v1/withdrawals",
            PostingAction::Reversal => "/internal/v1/transfers/reverse",
        }
    }
}

/// An approval to file: its action, what it acts on, and the amount an approver sees.
struct Filing<'a, R> {
    action: PostingAction,
    target: String,
    amount: i64,
    currency: &'a str,
    held: Held<R>,
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
        let approval_id = approval_id(&scope, &key)?;
        if let Some(answer) = self
            .earlier_posting::<MovementRequest>(PostingAction::Withdrawal, &approval_id, &hash)
            .await?
        {
            return answer;
        }
        let account = self
            .store
            .find_account(&request.account_id)
            .await?
            .filter(|account| account.user_id.is_some())
            .ok_or(Error::NotFound)?;
        if account.currency != request.currency {
            return Err(Error::CurrencyMismatch);
        }
        let filing = Filing {
            action: PostingAction::Withdrawal,
            target: format!("account:{}", request.account_id),
            amount: request.amount,
            currency: &account.currency,
            held: Held {
                request,
                scope,
                idempotency_key: key.0,
            },
        };
        self.file(ctx, approval_id, &hash, filing).await
    }

    /// Files the reversal for approval, or finds the approval a retry of it filed.
    pub(super) async fn reversal_for_approval(
        &self,
        ctx: &RequestContext,
        scope: String,
        key: IdempotencyKey,
        hash: Vec<u8>,
        request: HeldReversal,
    ) -> Result<Posted> {
        let approval_id = approval_id(&scope, &key)?;
        if let Some(answer) = self
            .earlier_posting::<HeldReversal>(PostingAction::Reversal, &approval_id, &hash)
            .await?
        {
            return answer;
        }
        // Its retry found its approval above; anything else is a second reversal.
        if let Some(reversal_id) = self.store.reversal_of(&request.transfer_id).await? {
            return Err(Error::AlreadyReversed { reversal_id });
        }
        let currency = request.currency.clone();
        let filing = Filing {
            action: PostingAction::Reversal,
            target: format!("transfer:{}", request.transfer_id),
            amount: request.amount,
            currency: &currency,
            held: Held {
                request,
                scope,
                idempotency_key: key.0,
            },
        };
        self.file(ctx, approval_id, &hash, filing).await
    }

    /// Stores the approval with its audit record; a retry racing it finds the winner's.
    async fn file<R: Serialize + DeserializeOwned>(
        &self,
        ctx: &RequestContext,
        approval_id: String,
        hash: &[u8],
        filing: Filing<'_, R>,
    ) -> Result<Posted> {
        let params = serde_json::to_string(&filing.held)
            .map_err(|error| crate::error::internal("approval params", error))?;
        let now = self.clock.now_ms();
        let entry = self.audit_entry(
            ctx,
            &format!("approval.request.{}", filing.action.name()),
            &filing.target,
            "pending",
            json!({
                "approval_id": approval_id,
                "amount": filing.amount,
                "currency": filing.currency,
            }),
        );
        let approval = store::ApprovalRecord {
            id: approval_id.clone(),
            action: filing.action.name().to_owned(),
            target: filing.target,
            params,
            requested_by: filing.held.scope,
            requested_at: now,
            expires_at: now.saturating_add(APPROVAL_TTL_MS),
            status: "pending".to_owned(),
            decided_by: None,
            decided_at: None,
        };
        if let Err(error) = self.store.create_approval(&approval, &entry).await {
            // The same request racing itself: the one that lost finds the winner's approval.
            if let Some(answer) = self
                .earlier_posting::<R>(filing.action, &approval_id, hash)
                .await?
            {
                return answer;
            }
            return Err(error.into());
        }
        Ok(Posted::PendingApproval {
            approval_id,
            status: "pending".to_owned(),
        })
    }

    /// The answer for a posting whose approval exists already: where it stands, or a reused
    /// key when the earlier request differed.
    async fn earlier_posting<R: Serialize + DeserializeOwned>(
        &self,
        action: PostingAction,
        approval_id: &str,
        hash: &[u8],
    ) -> Result<Option<Result<Posted>>> {
        let Some(existing) = self.store.find_approval(approval_id).await? else {
            return Ok(None);
        };
        let same = existing.action == action.name()
            && serde_json::from_str::<Held<R>>(&existing.params)
                .ok()
                .and_then(|earlier| request_hash(action.operation(), &earlier.request).ok())
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

    /// Posts an approved withdrawal or reversal under its caller's own idempotency key; the
    /// transfer id.
    pub(crate) async fn post_approved(
        &self,
        approval: &store::ApprovalRecord,
        ctx: &RequestContext,
    ) -> Result<String> {
        let posted = match PostingAction::of(&approval.action) {
            Some(PostingAction::Withdrawal) => {
                let held: Held<MovementRequest> = held_params(approval)?;
                let hash = request_hash(PostingAction::Withdrawal.operation(), &held.request)?;
                let key = held_key(&held.idempotency_key)?;
                let posting = self.withdrawal_posting(held.request, &held.scope)?;
                self.post_idempotently(ctx, held.scope, key, hash, posting)
                    .await?
            }
            Some(PostingAction::Reversal) => {
                let held: Held<HeldReversal> = held_params(approval)?;
                let hash = request_hash(PostingAction::Reversal.operation(), &held.request)?;
                let key = held_key(&held.idempotency_key)?;
                let request = ReverseRequest {
                    reason: held.request.reason.clone(),
                };
                let posting = self
                    .reversal_posting(&held.request.transfer_id, request, &held.scope)
                    .await?;
                self.post_idempotently(ctx, held.scope, key, hash, posting)
                    .await?
            }
            None => return Err(crate::error::internal("approval", "not a posting")),
        };
        match posted {
            Posted::New(receipt) => Ok(receipt.id),
            Posted::Replayed(body) => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|receipt| receipt.get("id")?.as_str().map(str::to_owned))
                .ok_or_else(|| crate::error::internal("replayed receipt", "no id")),
            Posted::PendingApproval { .. } => Err(Error::Internal),
        }
    }

    /// Whether `admin` owns an account the approval acts on — one whose money a held posting
    /// moves (a withdrawal's account; a reversal's payer or payee), or one it restores (an
    /// unfreeze): they may not approve it.
    pub(crate) async fn owns_approval_subject(
        &self,
        approval: &store::ApprovalRecord,
        admin: &str,
    ) -> Result<bool> {
        let accounts = match PostingAction::of(&approval.action) {
            Some(PostingAction::Withdrawal) => {
                let held: Held<MovementRequest> = held_params(approval)?;
                vec![held.request.account_id]
            }
            Some(PostingAction::Reversal) => {
                let held: Held<HeldReversal> = held_params(approval)?;
                vec![held.request.from_account_id, held.request.to_account_id]
            }
            None => match approval.target.strip_prefix("account:") {
                Some(id) => vec![id.to_owned()],
                None => return Ok(false),
            },
        };
        for id in accounts {
            let owner = self.store.find_account(&id).await?.and_then(|a| a.user_id);
            if owner.as_deref() == Some(admin) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The withdrawal an approval held back, as the ledger writer posts it.
    fn withdrawal_posting(&self, request: MovementRequest, scope: &str) -> Result<Posting> {
        let amount = ledger::Money::new(request.amount)
            .map_err(|error| crate::error::internal("approval params", error))?;
        let currency = self.currency(&request.currency)?;
        Ok(Posting {
            kind: ledger::PostingKind::Withdrawal,
            to: format!("settlement-{}", currency.as_str()),
            from: request.account_id,
            amount,
            currency,
            memo: None,
            external_ref: Some(request.external_ref),
            initiated_by: scope.to_owned(),
            source_owner: None,
            reverses: None,
        })
    }
}

/// The approval id of a posting: from its caller and key, so a retry finds the same one.
fn approval_id(scope: &str, key: &IdempotencyKey) -> Result<String> {
    let id_hash = request_hash("approval", &(scope, &key.0))?;
    Ok(std::iter::once("wd-".to_owned())
        .chain(id_hash.iter().take(16).map(|byte| format!("{byte:02x}")))
        .collect())
}

fn held_params<R: DeserializeOwned>(approval: &store::ApprovalRecord) -> Result<Held<R>> {
    serde_json::from_str(&approval.params)
        .map_err(|error| crate::error::internal("approval params", error))
}

fn held_key(key: &str) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(key).ok_or_else(|| crate::error::internal("approval params", "key"))
}
