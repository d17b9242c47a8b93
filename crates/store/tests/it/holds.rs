//! A hold transaction cut off at any point — its request timed out, its client went away —
//! leaves nothing half-written and no lock behind, on both backends: the pooled connection it
//! ran on is closed (rolling back), never handed to the next borrower mid-transaction.

use std::time::Duration;

use ledger::{Money, PostingKind};
use store::*;

use crate::conformance::transfer;

/// Cut-off points tried, `STEP_MICROS` apart.
const CUTS: u64 = 80;
const STEP_MICROS: u64 = 40;

fn new_hold(key: &str) -> NewHold {
    NewHold {
        id: format!("h-{key}"),
        account_id: "a".into(),
        amount: Money::new(10).unwrap(),
        currency: "EUR".into(),
        expires_at: i64::MAX,
        initiated_by: "service:test".into(),
        created_at: 10,
        idempotency: IdempotencyRecord {
            scope: "service:test".into(),
            key: key.into(),
            request_hash: key.as_bytes().to_vec(),
            response_body: format!("{{\"id\":\"h-{key}\"}}"),
        },
        request_id: format!("req-{key}"),
        ip: "192.0.2.7".into(),
    }
}

#[tokio::test]
async fn a_hold_cut_off_mid_transaction_leaves_no_lock_and_no_half_write() {
    let (stores, _dir, _cluster) = crate::stores().await;
    for (backend, store) in stores {
        let writer = crate::funded_account(&store, "a", 1_000_000).await;

        for cut in 0..CUTS {
            let hold = new_hold(&format!("cut-{cut}"));
            let _ = tokio::time::timeout(
                Duration::from_micros(cut * STEP_MICROS),
                store.create_hold(&hold),
            )
            .await;
            // Whatever was cut off, the lock is free at once and the ledger still posts.
            let posting = transfer(
                &format!("after-{cut}"),
                "settlement-EUR",
                "a",
                1,
                PostingKind::Deposit,
            );
            let posted = tokio::time::timeout(Duration::from_secs(3), writer.post(posting))
                .await
                .unwrap_or_else(|_| panic!("{backend}: the writer is blocked after cut {cut}"));
            assert_eq!(posted.unwrap(), PostingOutcome::Posted, "{backend}");
        }
        // Each hold is all there or not there: committed with its key (a retry replays it) or
        // not at all (a retry places it), and `held` is exactly the sum of the holds.
        let mut placed = 0;
        for cut in 0..CUTS {
            let hold = new_hold(&format!("cut-{cut}"));
            let existed = store.find_hold(&hold.id).await.unwrap().is_some();
            let again = store.create_hold(&hold).await.unwrap();
            let expected = if existed {
                HoldOutcome::Replayed {
                    body: hold.idempotency.response_body.clone(),
                }
            } else {
                HoldOutcome::Done
            };
            assert_eq!(again, expected, "{backend}: cut {cut}");
            placed += 1;
        }
        let held = store.find_account("a").await.unwrap().unwrap().held;
        assert_eq!(held, placed * 10, "{backend}");
    }
}
