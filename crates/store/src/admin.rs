//! Administration persistence: roles, locking, and four-eyes approvals. Every change here is
//! written with its audit records in one transaction; an approved action executes in the
//! approval's own transaction, so it happens exactly when (and only if) the approval commits.

use crate::audit::{AuditEntry, append_audit};
use crate::limits::ROLE_UPDATE_ATTEMPTS_MAX;
use crate::{Pool, Store, StoreError, on_pool};

/// A four-eyes request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApprovalRecord {
    pub id: String,
    /// `unlock`, `lift_quarantine`, `grant_role`, `unfreeze`, `withdrawal`.
    pub action: String,
    /// `user:ID` or `account:ID`.
    pub target: String,
    /// A JSON object (`{"role": "admin"}` for `grant_role`).
    pub params: String,
    pub requested_by: String,
    pub requested_at: i64,
    pub expires_at: i64,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// Why an approval could not be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Decided now; for an approval, what the action changed (the sessions it revoked).
    Done {
        revoked_sessions: Vec<String>,
    },
    NotFound,
    SameApprover,
    /// No longer pending (decided before, or expired).
    Closed,
    /// The target no longer allows the action (the user is not locked any more, ...).
    TargetChanged,
}

const BUMP_LEDGER_GENERATION: &str =
    "UPDATE ledger_head SET generation = generation + 1 WHERE id = 1";
macro_rules! approval_columns {
    () => {
        "id, action, target, params, requested_by, requested_at, expires_at, status, decided_by, decided_at"
    };
}
/// What an approved MFA reset removes: every factor, pending enrolment and sign-in ticket,
/// and the remembered browsers (the next second factor completed is remembered again).
const RESET_MFA: &[&str] = &[
    "DELETE FROM totp_credentials WHERE user_id = $1",
    "DELETE FROM recovery_codes WHERE user_id = $1",
    "DELETE FROM webauthn_credentials WHERE user_id = $1",
    "DELETE FROM mfa_tickets WHERE user_id = $1",
    "DELETE FROM known_devices WHERE user_id = $1",
];
const REVOKE_ALL_SESSIONS: &str = "UPDATE sessions SET revoked_at = $1, revoked_reason = $2, \
    grace_blob = NULL WHERE user_id = $3 AND revoked_at IS NULL RETURNING id";

/// `roles` with `role` added (kept sorted and unique) or removed.
pub fn with_role(roles: &str, role: &str, grant: bool) -> String {
    let mut set: std::collections::BTreeSet<&str> =
        roles.split(',').filter(|r| !r.is_empty()).collect();
    if grant {
        set.insert(role);
    } else {
        set.remove(role);
    }
    set.into_iter().collect::<Vec<_>>().join(",")
}

/// Executes an approved action inside the approval's transaction `$tx`: whether it applied
/// (its target still allowed it) and the sessions it revoked.
macro_rules! apply_approved {
    ($tx:expr, $action:expr, $target_id:expr, $role:expr, $now:expr, $outbox_lock:expr) => {{
        let (tx, target_id, role, now) = (&mut $tx, $target_id, $role, $now);
        let mut revoked: Vec<String> = Vec::new();
        let applied = match $action {
            "unlock" => {
                sqlx::query(
                    "UPDATE users SET status = 'active', status_changed_at = $2 \
                                     WHERE id = $1 AND status = 'locked'",
                )
                .bind(target_id)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1
            }
            "lift_quarantine" => {
                let lifted = sqlx::query(
                    "UPDATE users SET status = 'active', status_changed_at = $2 \
                                          WHERE id = $1 AND status = 'quarantined'",
                )
                .bind(target_id)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1;
                if lifted {
                    // A session held while quarantined (perhaps the thief's) never comes back.
                    revoked = sqlx::query_scalar(REVOKE_ALL_SESSIONS)
                        .bind(now)
                        .bind("quarantine_lifted")
                        .bind(target_id)
                        .fetch_all(&mut **tx)
                        .await?;
                }
                lifted
            }
            "grant_role" => {
                let roles: Option<String> =
                    sqlx::query_scalar("SELECT roles FROM users WHERE id = $1")
                        .bind(target_id)
                        .fetch_optional(&mut **tx)
                        .await?;
                match roles {
                    Some(roles) => {
                        // Compare-and-set: a revocation racing this grant is never overwritten.
                        sqlx::query(
                            "UPDATE users SET roles = $2, status_changed_at = $3 \
                             WHERE id = $1 AND roles = $4",
                        )
                        .bind(target_id)
                        .bind(with_role(&roles, role, true))
                        .bind(now)
                        .bind(&roles)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected()
                            == 1
                    }
                    None => false,
                }
            }
            "unfreeze" => {
                let unfrozen = sqlx::query(
                    "UPDATE accounts SET status = 'active' \
                                       WHERE id = $1 AND kind = 'customer' AND status = 'frozen'",
                )
                .bind(target_id)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1;
                if unfrozen {
                    // After the head lock (taken first): event ids follow commit order.
                    sqlx::query(
                        "INSERT INTO ledger_events (kind, account_id, created_at) \
                         VALUES ('account_unfrozen', $1, $2)",
                    )
                    .bind(target_id)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                }
                unfrozen
            }
            "reset_mfa" => {
                let open = sqlx::query(
                    "UPDATE users SET status_changed_at = $2 WHERE id = $1 AND status <> 'closed'",
                )
                .bind(target_id)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1;
                if open {
                    for statement in RESET_MFA {
                        sqlx::query(*statement)
                            .bind(target_id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    revoked = sqlx::query_scalar(REVOKE_ALL_SESSIONS)
                        .bind(now)
                        .bind("mfa_reset")
                        .bind(target_id)
                        .fetch_all(&mut **tx)
                        .await?;
                    // The owner hears of it, in the transaction that did it.
                    if let Some(lock) = $outbox_lock {
                        sqlx::query(lock).execute(&mut **tx).await?;
                    }
                    sqlx::query(crate::protection::INSERT_NOTIFICATION)
                        .bind(target_id)
                        .bind("mfa_changed")
                        .bind(now)
                        .bind(serde_json::json!({ "change": "mfa_reset" }).to_string())
                        .execute(&mut **tx)
                        .await?;
                }
                open
            }
            // Postings: the ledger writer posts them after the approval (`finish_approval`).
            "withdrawal" | "reversal" => true,
            _ => false,
        };
        (applied, revoked)
    }};
}

impl Store {
    /// Locks the user at once: status `locked`, every session revoked, the ledger writers
    /// told to re-read owners. The revoked session ids, or `None` when no such user exists.
    pub async fn lock_user(
        &self,
        user_id: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let update = "UPDATE users SET status = 'locked', status_changed_at = $2 WHERE id = $1";
        let revoked = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(BUMP_LEDGER_GENERATION).execute(&mut *tx).await?;
            let found = sqlx::query(update).bind(user_id).bind(now)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if found {
                let revoked: Vec<String> = sqlx::query_scalar(REVOKE_ALL_SESSIONS)
                    .bind(now).bind("locked").bind(user_id).fetch_all(&mut *tx).await?;
                append_audit!(tx, std::slice::from_ref(audit));
                tx.commit().await?;
                Some(revoked)
            } else {
                tx.rollback().await?;
                None
            }
        });
        Ok(revoked)
    }

    /// Grants or removes a role at once, with its audit record; `false` when no such user
    /// exists. Revoking is containment (the admin API does it at once); granting directly is
    /// only for `strongroom user grant-role`, the bootstrap of the first admin.
    pub async fn set_role(
        &self,
        user_id: &str,
        role: &str,
        grant: bool,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let read = "SELECT roles FROM users WHERE id = $1";
        // Compare-and-set on the roles read, retried: concurrent changes are never lost.
        let update =
            "UPDATE users SET roles = $2, status_changed_at = $3 WHERE id = $1 AND roles = $4";
        for _ in 0..ROLE_UPDATE_ATTEMPTS_MAX {
            let outcome: Option<bool> = on_pool!(self, pool => {
                let mut tx = pool.begin().await?;
                let roles: Option<String> = sqlx::query_scalar(read).bind(user_id).fetch_optional(&mut *tx).await?;
                match roles {
                    None => {
                        tx.rollback().await?;
                        Some(false)
                    }
                    Some(roles) => {
                        let changed = sqlx::query(update).bind(user_id)
                            .bind(with_role(&roles, role, grant)).bind(now).bind(&roles)
                            .execute(&mut *tx).await?.rows_affected() == 1;
                        if changed {
                            append_audit!(tx, std::slice::from_ref(audit));
                            tx.commit().await?;
                            Some(true)
                        } else {
                            tx.rollback().await?;
                            None
                        }
                    }
                }
            });
            if let Some(found) = outcome {
                return Ok(found);
            }
        }
        Err(StoreError::Invariant("the roles kept changing; try again"))
    }

    /// Files a four-eyes request with its audit record.
    pub async fn create_approval(
        &self,
        approval: &ApprovalRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO approvals (",
            approval_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let a = approval;
            sqlx::query(sql)
                .bind(&a.id).bind(&a.action).bind(&a.target).bind(&a.params).bind(&a.requested_by)
                .bind(a.requested_at).bind(a.expires_at).bind(&a.status).bind(&a.decided_by)
                .bind(a.decided_at)
                .execute(&mut *tx).await?;
            append_audit!(tx, std::slice::from_ref(audit));
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn find_approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals WHERE id = $1"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?))
    }

    /// Approvals with `status`, oldest first, after `after_id`, at most `limit`. Pending ones
    /// past their expiry are listed as `expired` (`now`), never as pending.
    pub async fn list_approvals(
        &self,
        status: &str,
        now: i64,
        after_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals WHERE \
             (CASE WHEN status = 'pending' AND expires_at <= $2 THEN 'expired' ELSE status END) = $1 \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
        );
        let mut rows: Vec<ApprovalRecord> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(status).bind(now).bind(after_id).bind(limit).fetch_all(pool).await?);
        for row in &mut rows {
            if row.status == "pending" && row.expires_at <= now {
                "expired".clone_into(&mut row.status);
            }
        }
        Ok(rows)
    }

    /// Rejects a pending approval (or marks it expired), with its audit record.
    pub async fn reject_approval(
        &self,
        id: &str,
        decided_by: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<Decided, StoreError> {
        let decide = "UPDATE approvals SET status = 'rejected', decided_by = $2, decided_at = $3 \
                      WHERE id = $1 AND status = 'pending' AND expires_at > $3";
        let Some(approval) = self.find_approval(id).await? else {
            return Ok(Decided::NotFound);
        };
        if approval.status != "pending" || approval.expires_at <= now {
            return Ok(Decided::Closed);
        }
        let decided = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(decide).bind(id).bind(decided_by).bind(now)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                append_audit!(tx, std::slice::from_ref(audit));
                tx.commit().await?;
                Decided::Done { revoked_sessions: Vec::new() }
            } else {
                tx.rollback().await?;
                Decided::Closed
            }
        });
        Ok(decided)
    }

    /// Ends an `approving` withdrawal: `approved` once posted, `failed` when the ledger refused
    /// it; with its audit record. `false` when it was not `approving`.
    pub async fn finish_approval(
        &self,
        id: &str,
        posted: bool,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE approvals SET status = $2 WHERE id = $1 AND status = 'approving'";
        let status = if posted { "approved" } else { "failed" };
        let changed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(sql).bind(id).bind(status)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if changed {
                append_audit!(tx, std::slice::from_ref(audit));
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            changed
        });
        Ok(changed)
    }

    /// Approves a pending approval filed by someone else and executes its action in the same
    /// transaction (`unlock`, `lift_quarantine`, `grant_role`, `unfreeze`, `reset_mfa`); `audit` holds the
    /// approval's and the action's records. A withdrawal is marked approved here and posted by
    /// the ledger writer under the approval's idempotency key.
    pub async fn approve(
        &self,
        id: &str,
        approver: &str,
        now: i64,
        audit: &[AuditEntry],
    ) -> Result<Decided, StoreError> {
        let Some(approval) = self.find_approval(id).await? else {
            return Ok(Decided::NotFound);
        };
        if approval.requested_by == approver {
            return Ok(Decided::SameApprover);
        }
        if approval.status != "pending" || approval.expires_at <= now {
            return Ok(Decided::Closed);
        }
        // A withdrawal is `approving` until the ledger writer posted it (`finish_approval`).
        let decide = "UPDATE approvals SET decided_by = $2, decided_at = $3, status = \
                      CASE WHEN action IN ('withdrawal', 'reversal') THEN 'approving' ELSE 'approved' END \
                      WHERE id = $1 AND status = 'pending' AND expires_at > $3";
        let close = "UPDATE approvals SET status = 'rejected', decided_by = 'system:target_changed', \
                     decided_at = $2 WHERE id = $1 AND status = 'pending'";
        let target_id = approval
            .target
            .split_once(':')
            .map_or("", |(_, id)| id)
            .to_owned();
        let role = serde_json::from_str::<serde_json::Value>(&approval.params)
            .ok()
            .and_then(|params| {
                params
                    .get("role")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let outbox_lock = self.outbox_lock();
        let decided = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(decide).bind(id).bind(approver).bind(now)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if !changed {
                tx.rollback().await?;
                return Ok(Decided::Closed);
            }
            if matches!(approval.action.as_str(), "unlock" | "lift_quarantine" | "unfreeze") {
                // Before any account or user row: the order every ledger writer locks in.
                sqlx::query(BUMP_LEDGER_GENERATION).execute(&mut *tx).await?;
            }
            let (applied, revoked_sessions) = apply_approved!(tx, approval.action.as_str(), &target_id, &role, now, outbox_lock);
            if !applied {
                // The target no longer allows the action: the request is closed, never left
                // pending to undo a later containment.
                tx.rollback().await?;
                sqlx::query(close).bind(id).bind(now).execute(pool).await?;
                return Ok(Decided::TargetChanged);
            }
            append_audit!(tx, audit);
            tx.commit().await?;
            Decided::Done { revoked_sessions }
        });
        Ok(decided)
    }
}
