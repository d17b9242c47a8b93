//! Account-protection persistence on both backends: quarantine with its events, session and
//! notification in one transaction, lifting it, the writer refusing a quarantined owner's
//! money, last sightings, and the outbox drained in order and never served after ack.

use ledger::PostingKind;
use ledger::batch::Outcome;
use store::*;

use crate::conformance::{event, session, transfer, user};
use crate::stores;

fn notification(user_id: &str, kind: &str) -> NotificationRecord {
    NotificationRecord {
        id: 0,
        user_id: user_id.into(),
        kind: kind.into(),
        created_at: 5,
        data: r#"{"reason":"impossible_travel"}"#.into(),
    }
}

fn kinds(events: &[SecurityEventRecord]) -> Vec<&str> {
    events.iter().map(|event| event.kind.as_str()).collect()
}

#[tokio::test]
async fn quarantine_is_one_transaction_and_stops_money_at_the_writer() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        store
            .create_user(&user("u1", "q@example.com"))
            .await
            .unwrap();
        store
            .create_session(
                &session("s1", "u1", 1, 100_000),
                b"rt",
                &event("e0", "u1", 1),
                "hash",
            )
            .await
            .unwrap();
        store
            .ensure_settlement_accounts(&["EUR".into()], 1)
            .await
            .unwrap();
        store
            .create_account(&AccountRecord {
                id: "a1".into(),
                user_id: Some("u1".into()),
                kind: "customer".into(),
                currency: "EUR".into(),
                balance: 0,
                held: 0,
                status: "active".into(),
                created_at: 1,
                name: None,
            })
            .await
            .unwrap();
        let writer = LedgerWriter::start(store.clone()).unwrap();
        let deposit = transfer("dep", "settlement-EUR", "a1", 100, PostingKind::Deposit);
        assert_eq!(writer.post(deposit).await.unwrap(), Outcome::Posted);

        let mut detection = event("e1", "u1", 2);
        detection.kind = "impossible_travel".into();
        let mut quarantined = event("e2", "u1", 2);
        quarantined.kind = "account_quarantined".into();
        let note = notification("u1", "account_quarantined");
        let q = Quarantine {
            user_id: "u1",
            session_id: Some("s1"),
            revoke_reason: "impossible_travel",
            detection: &detection,
            quarantined: &quarantined,
            notification: &note,
        };
        assert!(store.quarantine(&q, 3).await.unwrap(), "{backend}");
        let killed = store.find_session("s1").await.unwrap().unwrap();
        assert_eq!(
            killed.revoked_at,
            Some(3),
            "{backend}: the session died with it"
        );
        assert_eq!(
            store.find_user("u1").await.unwrap().unwrap().status,
            "quarantined"
        );
        let events = store.list_security_events("u1", None, 10).await.unwrap();
        assert_eq!(
            kinds(&events),
            ["account_quarantined", "impossible_travel", "login"]
        );
        assert_eq!(
            events[0].location.as_deref(),
            Some("London, GB"),
            "{backend}"
        );
        let outbox = store.outbox_page(0, 10).await.unwrap();
        assert_eq!(outbox.len(), 1, "{backend}");
        assert_eq!(outbox[0].kind, "account_quarantined");

        // The writer re-reads the owner: the quarantined customer's money cannot leave, but
        // can still arrive.
        let out = transfer("wd", "a1", "settlement-EUR", 10, PostingKind::Withdrawal);
        assert_eq!(
            writer.post(out.clone()).await.unwrap(),
            Outcome::Refused(ledger::Refusal::AccountNotActive),
            "{backend}"
        );
        let more = transfer("dep2", "settlement-EUR", "a1", 5, PostingKind::Deposit);
        assert_eq!(
            writer.post(more).await.unwrap(),
            Outcome::Posted,
            "{backend}"
        );

        // A second detection while quarantined records only the detection.
        let mut again = event("e3", "u1", 4);
        again.kind = "session_hijack_suspected".into();
        let mut quarantined_again = event("e4", "u1", 4);
        quarantined_again.kind = "account_quarantined".into();
        let q2 = Quarantine {
            detection: &again,
            quarantined: &quarantined_again,
            session_id: None,
            ..q
        };
        assert!(!store.quarantine(&q2, 4).await.unwrap(), "{backend}");
        assert_eq!(
            store.outbox_page(0, 10).await.unwrap().len(),
            1,
            "{backend}"
        );

        // Lifting it: once, with its event; then the writer lets money leave again.
        let mut lifted = event("e5", "u1", 5);
        lifted.kind = "quarantine_lifted".into();
        store
            .create_session(
                &session("s2", "u1", 4, 100_000),
                b"rt2",
                &event("e-s2", "u1", 4),
                "hash",
            )
            .await
            .unwrap();
        store
            .create_session(
                &session("s3", "u1", 4, 100_000),
                b"rt3",
                &event("e-s3", "u1", 4),
                "hash",
            )
            .await
            .unwrap();
        let revoked = store.lift_quarantine(&lifted, Some("s3")).await.unwrap();
        assert_eq!(
            revoked,
            Some(vec!["s2".to_owned()]),
            "{backend}: all but the lifting session"
        );
        assert!(
            store
                .find_session("s3")
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        lifted.id = "e6".into();
        assert_eq!(
            store.lift_quarantine(&lifted, None).await.unwrap(),
            None,
            "{backend}"
        );
        assert_eq!(
            store.find_user("u1").await.unwrap().unwrap().status,
            "active"
        );
        let mut retry = out;
        retry.idempotency.key = "wd-after".into();
        assert_eq!(
            writer.post(retry).await.unwrap(),
            Outcome::Posted,
            "{backend}"
        );
        let events = store.list_security_events("u1", None, 10).await.unwrap();
        assert_eq!(
            kinds(&events)
                .iter()
                .filter(|k| **k == "quarantine_lifted")
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn sightings_and_the_outbox() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        store
            .create_user(&user("u1", "o@example.com"))
            .await
            .unwrap();
        assert_eq!(store.find_sighting("u1").await.unwrap(), None);
        let london = SightingRecord {
            seen_at: 1,
            latitude: 51.5142,
            longitude: -0.0931,
            accuracy_km: 10,
        };
        store.record_sighting("u1", &london).await.unwrap();
        let changchun = SightingRecord {
            seen_at: 2,
            latitude: 43.88,
            longitude: 125.3228,
            accuracy_km: 100,
        };
        store.record_sighting("u1", &changchun).await.unwrap();
        assert_eq!(
            store.find_sighting("u1").await.unwrap(),
            Some(changchun),
            "{backend}"
        );

        for (n, kind) in ["new_device", "account_quarantined", "new_device"]
            .iter()
            .enumerate()
        {
            let mut e = event(&format!("n{n}"), "u1", 3);
            e.kind = (*kind).into();
            store
                .record_event_with_notification(&e, &notification("u1", kind))
                .await
                .unwrap();
        }
        let all = store.outbox_page(0, 10).await.unwrap();
        let ids: Vec<i64> = all.iter().map(|n| n.id).collect();
        assert_eq!(ids.len(), 3, "{backend}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{backend}: in order");
        let second = store.outbox_page(ids[0], 1).await.unwrap();
        assert_eq!(second[0].id, ids[1], "{backend}: paged after a cursor");
        assert_eq!(
            store.ack_outbox(ids[2] + 1).await.unwrap(),
            None,
            "{backend}: not served yet"
        );
        assert_eq!(
            store.ack_outbox(ids[1]).await.unwrap(),
            Some(2),
            "{backend}"
        );
        let rest = store.outbox_page(0, 10).await.unwrap();
        assert_eq!(
            rest.len(),
            1,
            "{backend}: acknowledged items are never served again"
        );
        assert_eq!(rest[0].id, ids[2]);
        assert_eq!(
            store
                .list_security_events("u1", None, 10)
                .await
                .unwrap()
                .len(),
            3
        );
    }
}
