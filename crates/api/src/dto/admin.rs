//! Wire types of `/v1/admin/*` and the pending answer of a large withdrawal.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `?email=` of the user lookup.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AdminUserQuery {
    /// The user's email address.
    pub email: String,
}

/// `?status=&limit=&cursor=` of the approval list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    /// `pending` (default), `approving`, `approved`, `failed`, `rejected` or `expired`.
    #[param(pattern = "^(pending|approving|approved|failed|rejected|expired)$")]
    pub status: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9A-Za-z-]{1,64}$")]
    pub cursor: Option<String>,
}

/// `?limit=&cursor=` of the audit log.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (a sequence number).
    #[param(pattern = "^[0-9]{1,19}$")]
    pub cursor: Option<String>,
}

/// A user as an admin sees them: no personal-data fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUser {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    /// `active`, `quarantined` or `locked`.
    pub status: String,
    pub roles: Vec<String>,
    pub mfa: AdminMfa,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMfa {
    pub totp: bool,
    pub webauthn: bool,
}

impl From<app::admin::AdminUserView> for AdminUser {
    fn from(view: app::admin::AdminUserView) -> Self {
        AdminUser {
            user_id: view.user_id,
            email: view.email,
            display_name: view.display_name,
            status: view.status,
            roles: view.roles,
            mfa: AdminMfa {
                totp: view.mfa.totp,
                webauthn: view.mfa.webauthn,
            },
            created_at: view.created_at,
        }
    }
}

/// `{role, action}` of `POST /v1/admin/users/{id}/roles`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// `support`, `auditor` or `admin`.
    pub role: String,
    /// `grant` (waits for a second admin) or `revoke` (at once).
    pub action: RoleChangeAction,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleChangeAction {
    Grant,
    Revoke,
}

/// `202 {approval_id, status}`: the action waits for a second admin.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingApproval {
    pub approval_id: String,
    /// `pending` (or, for a retried withdrawal, where its approval stands).
    pub status: String,
}

/// A four-eyes request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub id: String,
    /// `unlock`, `lift_quarantine`, `grant_role`, `unfreeze`, `withdrawal` or `reversal`.
    pub action: String,
    /// `user:ID`, `account:ID` or (a reversal) `transfer:ID`.
    pub target: String,
    /// The requesting admin's user id, or `service:NAME` for a withdrawal or reversal.
    pub requested_by: String,
    pub requested_at: String,
    pub expires_at: String,
    /// `pending`, `approving` (a withdrawal or reversal being posted), `approved`, `failed`
    /// (the ledger refused it), `rejected` or `expired`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// What it would do: `{role}` for a grant, `{account_id, amount, currency}` for a
    /// withdrawal, `{transfer_id, amount, currency}` for a reversal.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// For an approved withdrawal or reversal: the transfer it posted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
}

impl From<app::admin::ApprovalView> for ApprovalView {
    fn from(view: app::admin::ApprovalView) -> Self {
        ApprovalView {
            id: view.id,
            action: view.action,
            target: view.target,
            requested_by: view.requested_by,
            requested_at: view.requested_at,
            expires_at: view.expires_at,
            status: view.status,
            decided_by: view.decided_by,
            decided_at: view.decided_at,
            params: view.params,
            transfer_id: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalList {
    pub items: Vec<ApprovalView>,
    pub next_cursor: Option<String>,
}

/// Who acted, as an audit record names them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `user`, `service`, `operator` or `system`.
    pub kind: String,
    pub id: String,
}

/// One audit record: ids only, never personal data.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordView {
    pub seq: i64,
    pub at: String,
    pub actor: AuditActor,
    pub action: String,
    pub target: String,
    /// `success`, `failure`, `pending` or `denied`.
    pub outcome: String,
    pub request_id: String,
    pub ip: String,
    /// A JSON object of ids and amounts.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Hex SHA-256 over the record and the previous hash.
    pub hash: String,
}

impl From<store::AuditRecord> for AuditRecordView {
    fn from(record: store::AuditRecord) -> Self {
        AuditRecordView {
            seq: record.seq,
            at: app::rfc3339(record.at),
            actor: AuditActor {
                kind: record.actor_kind,
                id: record.actor_id,
            },
            action: record.action,
            target: record.target,
            outcome: record.outcome,
            request_id: record.request_id,
            ip: record.ip,
            details: serde_json::from_str(&record.details).unwrap_or_default(),
            hash: record
                .hash
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditRecordView>,
    pub next_cursor: Option<String>,
}
