//! Four-eyes approvals: listing, approving (by an admin other than the requester, executing
//! the action in the approval's transaction) and rejecting. Approvals expire after
//! `APPROVAL_TTL_MS`; an expired or decided one answers 409 `approval_closed`.

use serde_json::json;
use store::{ApprovalRecord, Decided};

use super::{ROLE_ADMIN, bounded_id};
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
}

impl ApprovalView {
    fn of(record: ApprovalRecord) -> ApprovalView {
        ApprovalView {
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
const STATUSES: &[&str] = &["pending", "approved", "rejected", "expired"];

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

    /// `POST /v1/admin/approvals/{id}/approve` (admin, not the requester): the action executes
    /// now, atomically with the approval.
    pub async fn admin_approve(&self, ctx: &RequestContext, id: &str) -> Result<Approved> {
        let admin = self
            .admin_caller(ctx, &[ROLE_ADMIN], "admin.approve")
            .await?;
        let id = bounded_id(id)?;
        let approval = self.store.find_approval(id).await?.ok_or(Error::NotFound)?;
        let details = json!({ "approval_id": id, "requested_by": approval.requested_by, "params": serde_json::from_str::<serde_json::Value>(&approval.params).unwrap_or_default() });
        let records = [
            self.audit_entry(
                ctx,
                "approval.approve",
                &approval.target,
                "success",
                json!({ "approval_id": id }),
            ),
            self.audit_entry(
                ctx,
                &format!("admin.{}", approval.action),
                &approval.target,
                "success",
                details,
            ),
        ];
        let now = self.clock.now_ms();
        match self.store.approve(id, &admin, now, &records).await? {
            Decided::Done { revoked_sessions } => {
                for session in &revoked_sessions {
                    self.session_revoked(session);
                }
                if let Some(user) = approval.target.strip_prefix("user:") {
                    self.user_changed(user);
                }
                let transfer_id = if approval.action == "withdrawal" {
                    Some(self.post_approved_withdrawal(&approval, ctx).await?)
                } else {
                    None
                };
                let decided = self.store.find_approval(id).await?.ok_or(Error::NotFound)?;
                Ok(Approved {
                    approval: ApprovalView::of(decided),
                    transfer_id,
                })
            }
            refused => Err(self.refused_decision(ctx, &approval, refused).await?),
        }
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
