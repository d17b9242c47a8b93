//! Four-eyes approvals: listing, approving (by an admin other than the requester, executing
//! the action in the approval's transaction) and rejecting. Approvals expire after
//! `APPROVAL_TTL_MS`; an expired or decided one answers 409 `approval_closed`.

use serde_json::json;
use store::{ApprovalRecord, Decided};

use super::{ROLE_ADMIN, bounded_id};
use crate::ledger::four_eyes::PostingAction;
use crate::{App, Error, RequestContext, Result, rfc3339};

/// An approval as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApprovalView {
    pub id: String,
    pub action: String,
    pub target: String,
    pub requested_by: String,
    pub requested_at: String,
    pub expires_at: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// What the approval would do: the role, or the withdrawal's account, amount and currency.
    pub params: serde_json::Value,
}

/// The parameters an approver sees and the audit log keeps: never free text or keys.
pub(super) fn shown_params(params: &str) -> serde_json::Value {
    let parsed: serde_json::Value = serde_json::from_str(params).unwrap_or_default();
    let source = parsed.get("request").unwrap_or(&parsed);
    let mut shown = serde_json::Map::new();
    for key in [
        "role",
        "account_id",
        "transfer_id",
        "from_account_id",
        "to_account_id",
        "amount",
        "currency",
    ] {
        if let Some(value) = source.get(key) {
            shown.insert(key.to_owned(), value.clone());
        }
    }
    serde_json::Value::Object(shown)
}

impl ApprovalView {
    fn of(record: ApprovalRecord) -> ApprovalView {
        ApprovalView {
            params: shown_params(&record.params),
            id: record.id,
            action: record.action,
            target: record.target,
            requested_by: record.requested_by,
            requested_at: rfc3339(record.requested_at),
            expires_at: rfc3339(record.expires_at),
            status: record.status,
            decided_by: record.decided_by,
            decided_at: record.decided_at.map(rfc3339),
        }
    }
}

/// An executed approval, and for a withdrawal the transfer it posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub approval: ApprovalView,
    pub transfer_id: Option<String>,
}

/// Statuses `GET /v1/admin/approvals?status=` accepts.
const STATUSES: &[&str] = &[
    "pending",
    "approving",
    "approved",
    "failed",
    "rejected",
    "expired",
];

impl App {
    /// `GET /v1/admin/approvals?status=` (admin).
    pub async fn admin_approvals(
        &self,
        ctx: &RequestContext,
        status: Option<&str>,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<ApprovalView>, Option<String>)> {
        let admin = self
            .admin_caller(ctx, &[ROLE_ADMIN], "admin.approvals_read")
            .await?;
        let status = status.unwrap_or("pending");
        if !STATUSES.contains(&status) {
            return Err(Error::field("status", "invalid"));
        }
        let cursor = cursor
            .map(bounded_id)
            .transpose()
            .map_err(|_| Error::field("cursor", "invalid"))?;
        let entry = self.audit_entry(
            ctx,
            "admin.approvals_read",
            "approvals",
            "success",
            json!({ "admin": admin, "status": status }),
        );
        self.store.append_audit(&[entry]).await?;
        let mut rows = self
            .store
            .list_approvals(status, self.clock.now_ms(), cursor, limit.saturating_add(1))
            .await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next = if more {
            rows.last().map(|row| row.id.clone())
        } else {
            None
        };
        Ok((rows.into_iter().map(ApprovalView::of).collect(), next))
    }

    /// `POST /v1/admin/approvals/{id}/approve` (admin, neither the requester, nor the one it
    /// empowers, nor the owner of an account it acts on): the action executes now, atomically with the approval. A withdrawal is
    /// posted by the ledger writer under its caller's idempotency key and the approval ends
    /// `approved` (or `failed` when the ledger refused it); if the writer could not answer, it
    /// stays `approving` and approving it again retries the same posting.
    pub async fn admin_approve(&self, ctx: &RequestContext, id: &str) -> Result<Approved> {
        let admin = self
            .admin_caller(ctx, &[ROLE_ADMIN], "admin.approve")
            .await?;
        let id = bounded_id(id)?;
        let approval = self.store.find_approval(id).await?.ok_or(Error::NotFound)?;
        if approval.requested_by == admin
            || approval.target == format!("user:{admin}")
            || self.owns_approval_subject(&approval, &admin).await?
        {
            return Err(self
                .refused_decision(ctx, &approval, Decided::SameApprover)
                .await?);
        }
        let posting = PostingAction::of(&approval.action);
        let retrying = posting.is_some() && approval.status == "approving";
        if !retrying {
            if !self.requester_still_empowered(&approval).await? {
                let closed = self.audit_entry(
                    ctx,
                    "approval.close",
                    &approval.target,
                    "success",
                    json!({ "approval_id": id, "reason": "requester_contained" }),
                );
                self.store
                    .reject_approval(
                        id,
                        "system:requester_contained",
                        self.clock.now_ms(),
                        &closed,
                    )
                    .await?;
                return Err(self
                    .refused_decision(ctx, &approval, Decided::Closed)
                    .await?);
            }
            let mut records = vec![self.audit_entry(
                ctx,
                "approval.approve",
                &approval.target,
                "success",
                json!({ "approval_id": id, "requested_by": approval.requested_by, "params": shown_params(&approval.params) }),
            )];
            if posting.is_none() {
                records.push(self.audit_entry(
                    ctx,
                    &format!("admin.{}", approval.action),
                    &approval.target,
                    "success",
                    json!({ "approval_id": id, "params": shown_params(&approval.params) }),
                ));
            }
            match self
                .store
                .approve(id, &admin, self.clock.now_ms(), &records)
                .await?
            {
                Decided::Done { revoked_sessions } => {
                    for session in &revoked_sessions {
                        self.session_revoked(session);
                    }
                    if let Some(user) = approval.target.strip_prefix("user:") {
                        self.user_changed(user);
                    }
                }
                refused => return Err(self.refused_decision(ctx, &approval, refused).await?),
            }
        }
        let transfer_id = if let Some(posting) = posting {
            Some(self.finish_posting(ctx, posting, &approval).await?)
        } else {
            None
        };
        let decided = self.store.find_approval(id).await?.ok_or(Error::NotFound)?;
        Ok(Approved {
            approval: ApprovalView::of(decided),
            transfer_id,
        })
    }

    /// Posts an `approving` withdrawal or reversal and ends its approval: `approved` with the
    /// transfer, or `failed` with the ledger's refusal. A writer that could not answer leaves
    /// it `approving`.
    async fn finish_posting(
        &self,
        ctx: &RequestContext,
        posting: PostingAction,
        approval: &ApprovalRecord,
    ) -> Result<String> {
        let action = format!("admin.{}", posting.name());
        match self.post_approved(approval, ctx).await {
            Ok(transfer_id) => {
                let entry = self.audit_entry(ctx, &action, &approval.target, "success", json!({ "approval_id": approval.id, "transfer_id": transfer_id, "params": shown_params(&approval.params) }));
                self.store
                    .finish_approval(&approval.id, true, &entry)
                    .await?;
                Ok(transfer_id)
            }
            // Not an answer from the ledger: the approval stays `approving`, and approving it
            // again retries the same posting under the same key.
            Err(
                error @ (Error::Unavailable { .. }
                | Error::Internal
                | Error::RequestInProgress
                | Error::RateLimited { .. }),
            ) => Err(error),
            Err(refusal) => {
                let entry = self.audit_entry(
                    ctx,
                    &action,
                    &approval.target,
                    "failure",
                    json!({ "approval_id": approval.id, "refusal": refusal.to_string() }),
                );
                self.store
                    .finish_approval(&approval.id, false, &entry)
                    .await?;
                Err(refusal)
            }
        }
    }

    /// A request filed by an admin stays approvable only while its requester is an active
    /// admin (a contained admin's requests die with their power); services' requests always.
    async fn requester_still_empowered(&self, approval: &ApprovalRecord) -> Result<bool> {
        if approval.requested_by.starts_with("service:") {
            return Ok(true);
        }
        Ok(self
            .store
            .find_user(&approval.requested_by)
            .await?
            .is_some_and(|user| {
                user.status == "active" && user.roles.split(',').any(|role| role == ROLE_ADMIN)
            }))
    }

    /// `POST /v1/admin/approvals/{id}/reject` (admin; the requester may withdraw their own).
    pub async fn admin_reject(&self, ctx: &RequestContext, id: &str) -> Result<ApprovalView> {
        let admin = self
            .admin_caller(ctx, &[ROLE_ADMIN], "admin.reject")
            .await?;
        let id = bounded_id(id)?;
        let approval = self.store.find_approval(id).await?.ok_or(Error::NotFound)?;
        let entry = self.audit_entry(
            ctx,
            "approval.reject",
            &approval.target,
            "success",
            json!({ "approval_id": id }),
        );
        match self
            .store
            .reject_approval(id, &admin, self.clock.now_ms(), &entry)
            .await?
        {
            Decided::Done { .. } => {
                let decided = self.store.find_approval(id).await?.ok_or(Error::NotFound)?;
                Ok(ApprovalView::of(decided))
            }
            refused => Err(self.refused_decision(ctx, &approval, refused).await?),
        }
    }

    /// The answer to a decision that did not happen, audited as denied.
    async fn refused_decision(
        &self,
        ctx: &RequestContext,
        approval: &ApprovalRecord,
        decided: Decided,
    ) -> Result<Error> {
        let (reason, error) = match decided {
            Decided::NotFound => ("not_found", Error::NotFound),
            Decided::SameApprover => ("same_approver", Error::SameApprover),
            Decided::Closed => ("closed", Error::ApprovalClosed),
            Decided::TargetChanged | Decided::Done { .. } => {
                ("target_changed", Error::ApprovalClosed)
            }
        };
        let entry = self.audit_entry(
            ctx,
            "approval.decide",
            &approval.target,
            "denied",
            json!({ "approval_id": approval.id, "reason": reason }),
        );
        self.store.append_audit(&[entry]).await?;
        Ok(error)
    }
}
