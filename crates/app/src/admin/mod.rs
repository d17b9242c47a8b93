//! Administration: roles (`support`, `auditor`, `admin`), the admin use cases behind
//! `/v1/admin/*`, and four-eyes approvals. Every call needs the role (read fresh from the
//! store, so a revoked role stops at once) **and** a fresh MFA step-up. Containment (lock,
//! freeze, revoking a role) happens at once; granting or restoring power (unlock, lifting a
//! quarantine, granting a role, unfreezing) and large withdrawals wait for a different
//! admin's approval, executed in the approval's own transaction. Every call — reads included,
//! and refusals for a missing role — writes an audit record; none holds personal data.

mod approvals;

pub use approvals::{ApprovalView, Approved};

use serde_json::json;
use store::{AuditRecord, UserRecord};

use crate::limits::{APPROVAL_TTL_MS, ID_CHARS_MAX};
use crate::{App, Error, RequestContext, Result, new_id};

/// Roles an admin may grant or revoke (`customer` is every user's and is not managed).
pub const MANAGED_ROLES: &[&str] = &["support", "auditor", "admin"];
pub const ROLE_SUPPORT: &str = "support";
pub const ROLE_AUDITOR: &str = "auditor";
pub const ROLE_ADMIN: &str = "admin";

/// What an admin sees of a user: no personal-data fields (no profile, no national id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdminUserView {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub status: String,
    pub roles: Vec<String>,
    pub mfa: MfaView,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MfaView {
    pub totp: bool,
    pub webauthn: bool,
}

/// A page of the audit log.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    pub next_cursor: Option<String>,
}

/// Whether an admin action happened now or waits for a second admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminOutcome {
    Done,
    Pending { approval_id: String },
}

/// `grant` or `revoke` in `POST /v1/admin/users/{id}/roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleAction {
    Grant,
    Revoke,
}

fn roles_of(user: &UserRecord) -> impl Iterator<Item = &str> {
    user.roles.split(',').filter(|role| !role.is_empty())
}

impl App {
    /// The caller, if they hold one of `roles` and stepped up recently. A missing role is
    /// 403 (and audited as denied); a stale or password-only token is 401 `step_up_required`.
    async fn admin_caller(
        &self,
        ctx: &RequestContext,
        roles: &[&str],
        action: &str,
    ) -> Result<String> {
        let caller = ctx.caller()?;
        let user_id = caller.user_id.as_str().to_owned();
        let user = self.store.find_user(&user_id).await?;
        let allowed = user
            .as_ref()
            .is_some_and(|user| roles_of(user).any(|role| roles.contains(&role)));
        if !allowed {
            let entry =
                self.audit_entry(ctx, action, "admin", "denied", json!({ "reason": "role" }));
            self.store.append_audit(&[entry]).await?;
            return Err(Error::Forbidden);
        }
        self.require_step_up(ctx)?;
        Ok(user_id)
    }

    /// `GET /v1/admin/users?email=E` (support, admin).
    pub async fn admin_find_user(
        &self,
        ctx: &RequestContext,
        email: &str,
    ) -> Result<AdminUserView> {
        let admin = self
            .admin_caller(ctx, &[ROLE_SUPPORT, ROLE_ADMIN], "admin.user_lookup")
            .await?;
        let email = identity::Email::parse(email).map_err(|_| Error::field("email", "invalid"))?;
        let user = self.store.find_user_by_email(email.as_str()).await?;
        let target = user
            .as_ref()
            .map_or_else(|| "user:unknown".to_owned(), |u| format!("user:{}", u.id));
        let outcome = if user.is_some() { "success" } else { "failure" };
        let entry = self.audit_entry(
            ctx,
            "admin.user_lookup",
            &target,
            outcome,
            json!({ "admin": admin }),
        );
        self.store.append_audit(&[entry]).await?;
        let user = user.ok_or(Error::NotFound)?;
        let totp = self
            .store
            .find_totp(&user.id)
            .await?
            .is_some_and(|totp| totp.confirmed_at.is_some());
        let webauthn = !self.store.passkeys(&user.id).await?.is_empty();
        Ok(AdminUserView {
            roles: roles_of(&user).map(str::to_owned).collect(),
            user_id: user.id,
            email: user.email,
            display_name: user.display_name,
            status: user.status,
            mfa: MfaView { totp, webauthn },
            created_at: crate::rfc3339(user.created_at),
        })
    }

    /// `POST /v1/admin/users/{id}/lock` (support, admin): at once, every session killed on
    /// every instance.
    pub async fn admin_lock(&self, ctx: &RequestContext, user_id: &str) -> Result<()> {
        let caller = self
            .admin_caller(ctx, &[ROLE_SUPPORT, ROLE_ADMIN], "admin.lock")
            .await?;
        let id = bounded_id(user_id)?;
        // Support contains customers; only an admin may lock staff (support cannot lock out
        // every admin).
        let target = self.store.find_user(id).await?.ok_or(Error::NotFound)?;
        if roles_of(&target).any(|role| MANAGED_ROLES.contains(&role)) {
            let own = self.store.find_user(&caller).await?;
            if !own.is_some_and(|own| roles_of(&own).any(|role| role == ROLE_ADMIN)) {
                return Err(Error::Forbidden);
            }
        }
        let entry = self.audit_entry(
            ctx,
            "admin.lock",
            &format!("user:{id}"),
            "success",
            json!({}),
        );
        let revoked = self
            .store
            .lock_user(id, self.clock.now_ms(), &entry)
            .await?
            .ok_or(Error::NotFound)?;
        for session in &revoked {
            self.session_revoked(session);
        }
        self.user_changed(id);
        tracing::info!(target: "strongroom::security", user_id = id, sessions = revoked.len(), "user locked");
        Ok(())
    }

    /// `POST /v1/admin/accounts/{id}/freeze` (support, admin): at once.
    pub async fn admin_freeze(&self, ctx: &RequestContext, account_id: &str) -> Result<()> {
        self.admin_caller(ctx, &[ROLE_SUPPORT, ROLE_ADMIN], "admin.freeze")
            .await?;
        let id = bounded_id(account_id)?;
        let entry = self.audit_entry(
            ctx,
            "admin.freeze",
            &format!("account:{id}"),
            "success",
            json!({}),
        );
        if self.store.set_account_active(id, false, &entry).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// `POST /v1/admin/users/{id}/roles` (admin): revoke at once, grant after approval.
    pub async fn admin_role(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        role: &str,
        action: RoleAction,
    ) -> Result<AdminOutcome> {
        let admin = self.admin_caller(ctx, &[ROLE_ADMIN], "admin.role").await?;
        let id = bounded_id(user_id)?;
        if !MANAGED_ROLES.contains(&role) {
            return Err(Error::field("role", "unknown_role"));
        }
        let target = format!("user:{id}");
        match action {
            RoleAction::Revoke => {
                let entry = self.audit_entry(
                    ctx,
                    "admin.role_revoke",
                    &target,
                    "success",
                    json!({ "role": role }),
                );
                if !self
                    .store
                    .set_role(id, role, false, self.clock.now_ms(), &entry)
                    .await?
                {
                    return Err(Error::NotFound);
                }
                self.user_changed(id);
                Ok(AdminOutcome::Done)
            }
            RoleAction::Grant => {
                self.store.find_user(id).await?.ok_or(Error::NotFound)?;
                self.request_approval(ctx, &admin, "grant_role", &target, json!({ "role": role }))
                    .await
            }
        }
    }

    /// `unlock`, `lift_quarantine`, `reset_mfa` (admin): filed for a second admin's approval.
    pub async fn admin_restore_user(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        action: &str,
    ) -> Result<AdminOutcome> {
        let admin = self
            .admin_caller(ctx, &[ROLE_ADMIN], &format!("admin.{action}"))
            .await?;
        let id = bounded_id(user_id)?;
        let user = self.store.find_user(id).await?.ok_or(Error::NotFound)?;
        // Only a user in the state the action undoes: no request filed ahead of a containment.
        match action {
            // Any account that is not closed, with at least one factor to remove.
            "reset_mfa" => {
                if user.status == crate::identity::STATUS_CLOSED {
                    return Err(Error::NotFound);
                }
                // A stolen admin session must not turn a step-up into lasting access.
                if id == admin {
                    return Err(Error::Forbidden);
                }
                if !self.has_any_factor(id).await? {
                    return Err(Error::field("mfa", "not_enrolled"));
                }
            }
            _ => {
                let (needed, code) = match action {
                    "unlock" => ("locked", "not_locked"),
                    _ => (crate::protection::STATUS_QUARANTINED, "not_quarantined"),
                };
                if user.status != needed {
                    return Err(Error::field("status", code));
                }
            }
        }
        self.request_approval(ctx, &admin, action, &format!("user:{id}"), json!({}))
            .await
    }

    /// `POST /v1/admin/accounts/{id}/unfreeze` (admin): filed for approval.
    pub async fn admin_unfreeze(
        &self,
        ctx: &RequestContext,
        account_id: &str,
    ) -> Result<AdminOutcome> {
        let admin = self
            .admin_caller(ctx, &[ROLE_ADMIN], "admin.unfreeze")
            .await?;
        let id = bounded_id(account_id)?;
        let account = self.store.find_account(id).await?.ok_or(Error::NotFound)?;
        if account.user_id.is_none() {
            return Err(Error::NotFound);
        }
        if account.status != "frozen" {
            return Err(Error::field("status", "not_frozen"));
        }
        self.request_approval(ctx, &admin, "unfreeze", &format!("account:{id}"), json!({}))
            .await
    }

    /// `GET /v1/admin/audit` (auditor, admin): records after the cursor, oldest first. The
    /// read is itself audited.
    pub async fn admin_audit(
        &self,
        ctx: &RequestContext,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<AuditPage> {
        let admin = self
            .admin_caller(ctx, &[ROLE_AUDITOR, ROLE_ADMIN], "admin.audit_read")
            .await?;
        let after = match cursor {
            None => 0,
            Some(cursor) => cursor
                .parse::<i64>()
                .ok()
                .filter(|seq| *seq >= 0)
                .ok_or_else(|| Error::field("cursor", "invalid"))?,
        };
        let entry = self.audit_entry(
            ctx,
            "admin.audit_read",
            "audit",
            "success",
            json!({ "admin": admin, "after": after }),
        );
        self.store.append_audit(&[entry]).await?;
        let mut items = self
            .store
            .audit_after(after, limit.saturating_add(1))
            .await?;
        let more = i64::try_from(items.len()).unwrap_or(i64::MAX) > limit;
        items.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = if more {
            items.last().map(|record| record.seq.to_string())
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }

    /// Files a four-eyes request by `admin` and audits it as pending.
    pub(crate) async fn request_approval(
        &self,
        ctx: &RequestContext,
        admin: &str,
        action: &str,
        target: &str,
        params: serde_json::Value,
    ) -> Result<AdminOutcome> {
        let now = self.clock.now_ms();
        let approval = store::ApprovalRecord {
            id: new_id(),
            action: action.to_owned(),
            target: target.to_owned(),
            params: params.to_string(),
            requested_by: admin.to_owned(),
            requested_at: now,
            expires_at: now.saturating_add(APPROVAL_TTL_MS),
            status: "pending".to_owned(),
            decided_by: None,
            decided_at: None,
        };
        let entry = self.audit_entry(
            ctx,
            &format!("approval.request.{action}"),
            target,
            "pending",
            json!({ "approval_id": approval.id, "params": approvals::shown_params(&approval.params) }),
        );
        self.store.create_approval(&approval, &entry).await?;
        Ok(AdminOutcome::Pending {
            approval_id: approval.id,
        })
    }
}

/// An id from a path, bounded: anything longer cannot exist.
fn bounded_id(id: &str) -> Result<&str> {
    if id.is_empty() || id.len() > ID_CHARS_MAX {
        Err(Error::NotFound)
    } else {
        Ok(id)
    }
}
