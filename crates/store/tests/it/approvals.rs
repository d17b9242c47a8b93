//! Four-eyes approvals and roles on both backends: an approval executes once, only for a
//! different approver, never after it expired or was rejected, and a target that no longer
//! allows the action closes it; roles are changed by compare-and-set; decided approvals and
//! audit records cannot be changed.

use store::{ActorKind, ApprovalRecord, AuditEntry, Decided};

use crate::conformance::user;
use crate::stores;

fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        at: 1,
        actor_kind: ActorKind::User,
        actor_id: "admin-a".into(),
        action: action.into(),
        target: "user:u1".into(),
        outcome: "success",
        request_id: "r".into(),
        ip: "192.0.2.1".into(),
        details: "{}".into(),
    }
}

fn approval(id: &str, action: &str, expires_at: i64) -> ApprovalRecord {
    ApprovalRecord {
        id: id.into(),
        action: action.into(),
        target: "user:u1".into(),
        params: r#"{"role":"auditor"}"#.into(),
        requested_by: "admin-a".into(),
        requested_at: 1,
        expires_at,
        status: "pending".into(),
        decided_by: None,
        decided_at: None,
    }
}

#[tokio::test]
async fn approvals_execute_once_for_another_admin_and_never_late() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        store
            .create_user(&user("u1", "u1@example.com"))
            .await
            .unwrap();
        let grant = approval("g1", "grant_role", 100);
        store
            .create_approval(&grant, &entry("approval.request"))
            .await
            .unwrap();
        let records = [entry("approval.approve")];
        assert_eq!(
            store.approve("g1", "admin-a", 10, &records).await.unwrap(),
            Decided::SameApprover,
            "{backend}"
        );
        assert_eq!(
            store.approve("g1", "admin-b", 100, &records).await.unwrap(),
            Decided::Closed,
            "{backend}: expired"
        );
        assert_eq!(
            store.approve("g1", "admin-b", 99, &records).await.unwrap(),
            Decided::Done {
                revoked_sessions: Vec::new()
            },
            "{backend}"
        );
        assert_eq!(
            store.find_user("u1").await.unwrap().unwrap().roles,
            "auditor,customer",
            "{backend}"
        );
        assert_eq!(
            store.approve("g1", "admin-c", 50, &records).await.unwrap(),
            Decided::Closed,
            "{backend}"
        );

        // Rejected: never executes.
        store
            .create_approval(
                &approval("g2", "grant_role", 100),
                &entry("approval.request"),
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .reject_approval("g2", "admin-b", 5, &entry("approval.reject"))
                .await
                .unwrap(),
            Decided::Done {
                revoked_sessions: Vec::new()
            }
        );
        assert_eq!(
            store.approve("g2", "admin-b", 6, &records).await.unwrap(),
            Decided::Closed,
            "{backend}"
        );

        // An unlock for a user who is not locked closes the request.
        store
            .create_approval(&approval("u-1", "unlock", 100), &entry("approval.request"))
            .await
            .unwrap();
        assert_eq!(
            store.approve("u-1", "admin-b", 7, &records).await.unwrap(),
            Decided::TargetChanged,
            "{backend}"
        );
        assert_eq!(
            store.find_approval("u-1").await.unwrap().unwrap().status,
            "rejected",
            "{backend}"
        );

        // Roles: revoke at once; a decided approval is final even to the store's own role.
        assert!(
            store
                .set_role("u1", "auditor", false, 8, &entry("admin.role_revoke"))
                .await
                .unwrap()
        );
        assert_eq!(
            store.find_user("u1").await.unwrap().unwrap().roles,
            "customer",
            "{backend}"
        );
        assert!(
            !store
                .set_role("nobody", "auditor", false, 8, &entry("admin.role_revoke"))
                .await
                .unwrap()
        );
        let listed = store.list_approvals("approved", 9, None, 10).await.unwrap();
        assert_eq!(listed.len(), 1, "{backend}");
        let (audit_seq, _) = store.audit_head().await.unwrap();
        assert_eq!(
            audit_seq, 6,
            "{backend}: three requests, one approval, one rejection, one revocation"
        );
    }
}
