//! Unit tests of the audit chain and checkpoints.

use super::*;

fn facts(seq: i64, action: &str) -> AuditFacts<'_> {
    AuditFacts {
        seq,
        at: 1_700_000_000_000,
        actor_kind: "user",
        actor_id: "u1",
        action,
        target: "user:u1",
        outcome: "success",
        request_id: "r1",
        ip: "127.0.0.1",
        details: "{}",
    }
}

fn chain(actions: &[&str]) -> Vec<(AuditFacts<'static>, Vec<u8>, Vec<u8>)> {
    let mut previous = GENESIS_HASH.to_vec();
    let mut out = Vec::new();
    for (index, action) in actions.iter().enumerate() {
        let seq = i64::try_from(index).unwrap().checked_add(1).unwrap();
        let record = AuditFacts {
            action: Box::leak(action.to_string().into_boxed_str()),
            ..facts(seq, "x")
        };
        let hash = audit_hash(&previous, &record);
        out.push((record, previous.clone(), hash.clone()));
        previous = hash;
    }
    out
}

#[test]
fn a_sound_log_replays_and_every_field_is_covered() {
    let records = chain(&["login", "transfer", "lock"]);
    let mut replay = AuditReplay::new(Expectations::default());
    for (facts, prev, hash) in &records {
        replay
            .record(&StoredRecord {
                facts: facts.clone(),
                prev_hash: prev,
                hash,
            })
            .unwrap();
    }
    let (_, _, last) = records.last().unwrap();
    assert_eq!(replay.finish((3, last)).unwrap(), 3);

    let base = facts(1, "login");
    let hash = audit_hash(&GENESIS_HASH, &base);
    for changed in [
        AuditFacts {
            actor_id: "u2",
            ..base.clone()
        },
        AuditFacts {
            outcome: "failure",
            ..base.clone()
        },
        AuditFacts {
            details: "{\"a\":1}",
            ..base.clone()
        },
        AuditFacts {
            ip: "10.0.0.1",
            ..base.clone()
        },
    ] {
        assert_ne!(audit_hash(&GENESIS_HASH, &changed), hash);
    }
}

#[test]
fn an_altered_or_recomputed_record_is_named() {
    let records = chain(&["login", "transfer", "lock"]);
    // Altered without recomputing: the hash no longer matches.
    let mut replay = AuditReplay::new(Expectations::default());
    let (first, prev, hash) = &records[0];
    replay
        .record(&StoredRecord {
            facts: first.clone(),
            prev_hash: prev,
            hash,
        })
        .unwrap();
    let (second, prev, hash) = &records[1];
    let error = replay
        .record(&StoredRecord {
            facts: AuditFacts {
                outcome: "failure",
                ..second.clone()
            },
            prev_hash: prev,
            hash,
        })
        .unwrap_err();
    assert!(error.0.contains("seq 2"), "{error}");

    // Recomputed from seq 2 on: only an anchor from before the rewrite catches it.
    let rewritten = chain(&["login", "nothing", "lock"]);
    let (_, _, anchored) = &records[1];
    let mut expectations = Expectations::default();
    expectations
        .pin(2, anchored, "the anchor".to_owned())
        .unwrap();
    let mut replay = AuditReplay::new(expectations);
    let mut failure = None;
    for (facts, prev, hash) in &rewritten {
        if let Err(error) = replay.record(&StoredRecord {
            facts: facts.clone(),
            prev_hash: prev,
            hash,
        }) {
            failure = Some(error);
            break;
        }
    }
    let error = failure.expect("the anchor catches the rewrite");
    assert!(error.0.contains("audit record seq 2"), "{error}");
    assert!(error.0.contains("the anchor"), "{error}");
}

#[test]
fn checkpoint_messages_differ_for_different_heads() {
    let base = CheckpointFacts {
        at: 1,
        audit_seq: 2,
        audit_hash: &[1; 32],
        ledger_seq: 3,
        ledger_hash: &[2; 32],
    };
    let message = checkpoint_message(&base);
    assert_ne!(
        checkpoint_message(&CheckpointFacts {
            ledger_seq: 4,
            ..base.clone()
        }),
        message
    );
    assert_ne!(
        checkpoint_message(&CheckpointFacts {
            audit_hash: &[3; 32],
            ..base
        }),
        message
    );
}
