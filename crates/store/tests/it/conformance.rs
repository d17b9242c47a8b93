//! What every `Store` method promises, checked on SQLite and PostgreSQL alike.

use ledger::batch::{IdempotencyRecord, Outcome, PostingRequest};
use ledger::{Money, PostingKind, Refusal};
use store::*;

use crate::stores;

pub(crate) fn user(id: &str, email: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        email: email.into(),
        display_name: "Conformance".into(),
        password_hash: "hash".into(),
        roles: "customer".into(),
        status: "active".into(),
        created_at: 1,
        email_verified_at: None,
    }
}

pub(crate) fn session(id: &str, user_id: &str, created_at: i64, expires_at: i64) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        user_id: user_id.into(),
        created_at,
        last_seen_at: created_at,
        expires_at,
        ip: "192.0.2.1".into(),
        user_agent: "ua".into(),
        auth_time: created_at,
        acr: "pwd".into(),
        amr: "pwd".into(),
        generation: 0,
        rotated_at: None,
        grace_blob: None,
        revoked_at: None,
        location: None,
    }
}

pub(crate) fn event(id: &str, user_id: &str, created_at: i64) -> SecurityEventRecord {
    SecurityEventRecord {
        id: id.into(),
        user_id: user_id.into(),
        kind: "login".into(),
        created_at,
        ip: "192.0.2.1".into(),
        user_agent: "ua".into(),
        session_id: None,
        location: Some("London, GB".into()),
        request_id: format!("req-{id}"),
    }
}

fn operator_audit(action: &str) -> store::AuditEntry {
    store::AuditEntry {
        at: 20,
        actor_kind: store::ActorKind::Operator,
        actor_id: "ops".into(),
        action: action.into(),
        target: "account:a-eur".into(),
        outcome: "success",
        request_id: "cli:1".into(),
        ip: String::new(),
        details: "{}".into(),
    }
}

#[tokio::test]
async fn users_sessions_refresh_families_events_and_purges() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        // Users: one per email; found by id and email.
        assert!(
            store
                .create_user(&user("u1", "a@example.com"))
                .await
                .unwrap(),
            "{backend}"
        );
        assert!(
            !store
                .create_user(&user("u2", "a@example.com"))
                .await
                .unwrap(),
            "{backend}"
        );
        assert_eq!(
            store
                .find_user_by_email("a@example.com")
                .await
                .unwrap()
                .unwrap()
                .id,
            "u1"
        );
        assert!(store.find_user("u2").await.unwrap().is_none(), "{backend}");

        // Sessions: created with their event, listed newest first, paged by id.
        for (id, at) in [("s1", 1_000), ("s2", 2_000), ("s3", 3_000)] {
            store
                .create_session(
                    &session(id, "u1", at, 100_000),
                    id.as_bytes(),
                    &event(&format!("e-{id}"), "u1", at),
                    "hash",
                )
                .await
                .unwrap();
        }
        // A sign-in that read the user before a password change gets no session.
        assert!(
            !store
                .create_session(
                    &session("s-stale", "u1", 4_000, 100_000),
                    b"stale",
                    &event("e-stale", "u1", 4_000),
                    "an older hash",
                )
                .await
                .unwrap(),
            "{backend}"
        );
        assert!(store.find_session("s-stale").await.unwrap().is_none());
        let page = store.list_sessions("u1", 5_000, None, 2).await.unwrap();
        let ids: Vec<&str> = page.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s3", "s2"], "{backend}");
        let rest = store
            .list_sessions("u1", 5_000, Some("s2"), 2)
            .await
            .unwrap();
        assert_eq!(rest.len(), 1, "{backend}");
        let events = store.list_security_events("u1", None, 10).await.unwrap();
        assert_eq!(events.len(), 3, "{backend}: each session with its event");

        // Refresh rotation is a compare-and-set on the generation.
        assert_eq!(
            store.find_refresh_token(b"s1").await.unwrap(),
            Some(("s1".into(), 0))
        );
        assert!(
            store
                .rotate_refresh("s1", 0, b"s1-next", b"grace", 4_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .rotate_refresh("s1", 0, b"s1-other", b"grace", 4_000)
                .await
                .unwrap(),
            "{backend}"
        );
        assert_eq!(
            store.find_refresh_token(b"s1-next").await.unwrap(),
            Some(("s1".into(), 1))
        );

        // Revoking the others keeps the current one; revoking twice reports nothing new.
        let mut revoked = store
            .revoke_other_sessions("u1", "s1", "test", 5_000)
            .await
            .unwrap();
        revoked.sort();
        assert_eq!(revoked, ["s2", "s3"], "{backend}");
        assert!(
            !store.revoke_session("s2", "test", 5_000).await.unwrap(),
            "{backend}"
        );
        assert!(
            store.revoke_session("s1", "test", 5_000).await.unwrap(),
            "{backend}"
        );
        let s1 = store.find_session("s1").await.unwrap().unwrap();
        assert!(
            s1.revoked_at.is_some() && s1.grace_blob.is_none(),
            "{backend}"
        );
        assert!(
            store.live_sessions(5_000).await.unwrap().is_empty(),
            "{backend}"
        );

        // Purges: nothing before expiry; sessions (with refresh tokens) after it; old events.
        assert_eq!(
            store.purge_expired_identity(99_999, 100).await.unwrap(),
            0,
            "{backend}"
        );
        assert!(
            store.purge_expired_identity(100_000, 100).await.unwrap() > 0,
            "{backend}"
        );
        store.purge_expired_identity(100_000, 100).await.unwrap();
        assert!(
            store.find_session("s1").await.unwrap().is_none(),
            "{backend}"
        );
        assert!(
            store
                .find_refresh_token(b"s1-next")
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert_eq!(
            store.purge_security_events(2_500, 100).await.unwrap(),
            2,
            "{backend}"
        );
        assert_eq!(
            store
                .list_security_events("u1", None, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn second_factors_tickets_and_their_one_time_rules() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        store
            .create_user(&user("u1", "b@example.com"))
            .await
            .unwrap();
        store
            .create_session(
                &session("s1", "u1", 1, 1_000_000),
                b"t",
                &event("e1", "u1", 1),
                "hash",
            )
            .await
            .unwrap();

        // MFA tickets: attempts are claimed before each check, at most five.
        store
            .create_mfa_ticket(b"ticket", "u1", 10_000)
            .await
            .unwrap();
        for _ in 0..5 {
            assert_eq!(
                store
                    .claim_mfa_attempt(b"ticket", 1, 5)
                    .await
                    .unwrap()
                    .as_deref(),
                Some("u1")
            );
        }
        assert!(
            store
                .claim_mfa_attempt(b"ticket", 1, 5)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert!(
            store.consume_mfa_ticket(b"ticket", 1, 5).await.unwrap(),
            "{backend}"
        );
        assert!(
            !store.consume_mfa_ticket(b"ticket", 1, 5).await.unwrap(),
            "{backend}"
        );

        // A pending TOTP secret belongs to its session, expires, and survives few attempts.
        store
            .set_pending_totp("u1", b"pending", "s1", 5_000, 1)
            .await
            .unwrap();
        assert!(
            store
                .claim_pending_totp("u1", "other", 2, 3)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert!(
            store
                .claim_pending_totp("u1", "s1", 6_000, 3)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert_eq!(
            store
                .claim_pending_totp("u1", "s1", 2, 3)
                .await
                .unwrap()
                .as_deref(),
            Some(&b"pending"[..])
        );
        assert!(
            store
                .confirm_totp(
                    "u1",
                    b"pending",
                    10,
                    &[b"code-1".to_vec(), b"code-2".to_vec()],
                    3
                )
                .await
                .unwrap()
        );
        let totp = store.find_totp("u1").await.unwrap().unwrap();
        assert_eq!(
            totp.secret_sealed.as_deref(),
            Some(&b"pending"[..]),
            "{backend}"
        );
        assert!(
            totp.pending_sealed.is_none() && totp.confirmed_at.is_some(),
            "{backend}"
        );
        assert_eq!(store.legacy_totp_count().await.unwrap(), 0, "{backend}");

        // TOTP steps are used once and only forward.
        assert!(
            !store.use_totp_step("u1", 10).await.unwrap(),
            "{backend}: the setup step"
        );
        assert!(store.use_totp_step("u1", 11).await.unwrap(), "{backend}");
        assert!(!store.use_totp_step("u1", 11).await.unwrap(), "{backend}");

        // Recovery codes: each once; replaced wholesale.
        assert_eq!(store.recovery_codes_remaining("u1").await.unwrap(), 2);
        assert!(
            store.use_recovery_code("u1", b"code-1", 4).await.unwrap(),
            "{backend}"
        );
        assert!(
            !store.use_recovery_code("u1", b"code-1", 4).await.unwrap(),
            "{backend}"
        );
        store
            .replace_recovery_codes("u1", &[b"code-3".to_vec()], 5)
            .await
            .unwrap();
        assert!(
            !store.use_recovery_code("u1", b"code-2", 6).await.unwrap(),
            "{backend}"
        );
        assert_eq!(store.recovery_codes_remaining("u1").await.unwrap(), 1);

        // Passkeys: a credential id once; factors removed with the last-factor rule.
        assert_eq!(
            store
                .add_passkey("cred", "u1", "Key", "{}", 7)
                .await
                .unwrap(),
            PasskeyInsert::Added
        );
        assert_eq!(
            store
                .add_passkey("cred", "u1", "Key", "{}", 7)
                .await
                .unwrap(),
            PasskeyInsert::Duplicate
        );
        assert_eq!(store.passkey_list("u1").await.unwrap()[0].name, "Key");
        assert_eq!(
            store
                .remove_factor("u1", FactorRef::Totp, true)
                .await
                .unwrap(),
            RemoveOutcome::Removed
        );
        assert_eq!(
            store
                .remove_factor("u1", FactorRef::Passkey("cred"), true)
                .await
                .unwrap(),
            RemoveOutcome::LastFactor
        );
        assert_eq!(
            store
                .remove_factor("u1", FactorRef::Passkey("cred"), false)
                .await
                .unwrap(),
            RemoveOutcome::Removed
        );
        assert_eq!(
            store.recovery_codes_remaining("u1").await.unwrap(),
            0,
            "{backend}: codes go with the last factor"
        );

        // Ceremonies are taken once, and only before they expire.
        store
            .save_ceremony("c1", "register", Some("u1"), "{}", 100)
            .await
            .unwrap();
        assert!(
            store
                .take_ceremony("c1", "login", 1)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert!(
            store
                .take_ceremony("c1", "register", 1)
                .await
                .unwrap()
                .is_some(),
            "{backend}"
        );
        assert!(
            store
                .take_ceremony("c1", "register", 1)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn data_keys_profiles_and_rewrapping() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        store
            .create_user(&user("u1", "c@example.com"))
            .await
            .unwrap();
        let key = |version: i64, bytes: &[u8]| DataKeyRecord {
            kek_id: "local".into(),
            kek_version: version,
            dek_wrapped: bytes.to_vec(),
        };
        assert!(
            store
                .insert_data_key("factors:u1", &key(1, b"w1"), 1)
                .await
                .unwrap()
        );
        assert!(
            !store
                .insert_data_key("factors:u1", &key(1, b"w2"), 1)
                .await
                .unwrap(),
            "{backend}"
        );
        assert_eq!(
            store
                .find_data_key("factors:u1")
                .await
                .unwrap()
                .unwrap()
                .dek_wrapped,
            b"w1"
        );
        let profile = ProfileRecord {
            user_id: "u1".into(),
            kek_id: "local".into(),
            kek_version: 1,
            dek_wrapped: b"pw".to_vec(),
            legal_name: b"n".to_vec(),
            date_of_birth: b"d".to_vec(),
            national_id: b"i".to_vec(),
            address: b"a".to_vec(),
            national_id_index: b"index".to_vec(),
            updated_at: 1,
        };
        store.put_profile(&profile).await.unwrap();
        assert_eq!(
            store.profiles_by_national_id_index(b"index").await.unwrap(),
            ["u1"]
        );
        assert_eq!(
            store.wrapped_key_versions().await.unwrap(),
            [("local".to_owned(), 1, 2)],
            "{backend}"
        );

        // Rewrapping finds both kinds of data key and is a compare-and-set on the old bytes.
        let stale = store.wrapped_keys_not_at("local", 2).await.unwrap();
        assert_eq!(stale.len(), 2, "{backend}");
        for row in &stale {
            assert!(
                !store
                    .rewrap_key(&row.owner, b"not-it", "local", 2, b"new")
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .rewrap_key(&row.owner, &row.bytes, "local", 2, b"new")
                    .await
                    .unwrap()
            );
        }
        assert!(
            store
                .wrapped_keys_not_at("local", 2)
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        assert!(store.delete_profile("u1").await.unwrap(), "{backend}");
        assert!(
            store.find_profile("u1").await.unwrap().is_none(),
            "{backend}"
        );
        assert!(
            store.delete_data_key("factors:u1").await.unwrap(),
            "{backend}"
        );
    }
}

pub(crate) fn transfer(
    key: &str,
    from: &str,
    to: &str,
    amount: i64,
    kind: PostingKind,
) -> PostingRequest {
    PostingRequest {
        kind,
        transfer_id: format!("t-{key}"),
        debit_entry_id: format!("d-{key}"),
        credit_entry_id: format!("c-{key}"),
        from_account_id: from.into(),
        to_account_id: to.into(),
        amount: Money::new(amount).unwrap(),
        currency: "EUR".into(),
        memo: None,
        external_ref: None,
        initiated_by: "service:test".into(),
        source_owner: None,
        reverses: None,
        created_at: 10,
        idempotency: IdempotencyRecord {
            scope: "service:test".into(),
            key: key.into(),
            request_hash: key.as_bytes().to_vec(),
            response_body: "{}".into(),
        },
        request_id: format!("req-{key}"),
        ip: "192.0.2.7".into(),
    }
}

#[tokio::test]
async fn accounts_postings_journal_and_idempotency_keys() {
    let (stores, _dir, _cluster) = stores().await;
    for (backend, store) in stores {
        store
            .create_user(&user("u1", "d@example.com"))
            .await
            .unwrap();
        store
            .ensure_settlement_accounts(&["EUR".into()], 1)
            .await
            .unwrap();
        let account = |id: &str, currency: &str| AccountRecord {
            id: id.into(),
            user_id: Some("u1".into()),
            kind: "customer".into(),
            currency: currency.into(),
            balance: 0,
            held: 0,
            status: "active".into(),
            created_at: 1,
            name: None,
        };
        assert!(
            store
                .create_account(&account("a-eur", "EUR"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .create_account(&account("a-eur-2", "EUR"))
                .await
                .unwrap(),
            "{backend}: one per currency"
        );
        assert!(
            store
                .create_account(&account("a-usd", "USD"))
                .await
                .unwrap()
        );
        let first = store.list_accounts("u1", None, 1).await.unwrap();
        assert_eq!(first[0].currency, "EUR", "{backend}");
        let next = store.list_accounts("u1", Some("EUR"), 5).await.unwrap();
        assert_eq!(next.len(), 1, "{backend}");

        // The writer posts, answers each request, and chains the journal.
        let writer = LedgerWriter::start(store.clone()).unwrap();
        let mut deposit = transfer("dep", "settlement-EUR", "a-eur", 100, PostingKind::Deposit);
        deposit.external_ref = Some("bank-1".into());
        assert_eq!(
            writer.post(deposit.clone()).await.unwrap(),
            Outcome::Posted,
            "{backend}"
        );
        assert_eq!(
            writer.post(deposit).await.unwrap(),
            Outcome::Replayed { body: "{}".into() },
            "{backend}"
        );
        // The same reference under another key is found in the store and names the original.
        let mut again = transfer(
            "dep-again",
            "settlement-EUR",
            "a-eur",
            100,
            PostingKind::Deposit,
        );
        again.external_ref = Some("bank-1".into());
        assert_eq!(
            writer.post(again).await.unwrap(),
            Outcome::Refused(Refusal::DuplicateExternalRef {
                original_id: "t-dep".into()
            }),
            "{backend}"
        );
        let overdraw = transfer(
            "wd",
            "a-eur",
            "settlement-EUR",
            101,
            PostingKind::Withdrawal,
        );
        assert_eq!(
            writer.post(overdraw.clone()).await.unwrap(),
            Outcome::Refused(Refusal::InsufficientFunds),
            "{backend}"
        );
        // The refusal was kept with its key: replayed, it answers again without deciding.
        assert_eq!(
            writer.post(overdraw).await.unwrap(),
            Outcome::RefusedBefore(Refusal::InsufficientFunds),
            "{backend}"
        );
        assert_eq!(
            store.find_account("a-eur").await.unwrap().unwrap().balance,
            100
        );
        let journal = store.journal_after(0).await.unwrap();
        assert_eq!(journal.len(), 2, "{backend}");
        assert_eq!(
            journal[1].entry.prev_hash, journal[0].entry.hash,
            "{backend}"
        );
        assert_eq!(
            store.ledger_head().await.unwrap(),
            (2, journal[1].entry.hash.clone())
        );
        // The entries commit to their transfer row, read back beside them.
        let row = journal[0].transfer().unwrap();
        assert_eq!(
            (row.kind, row.amount, row.initiated_by),
            ("deposit", 100, "service:test"),
            "{backend}"
        );
        // The posting's audit record was written in the writer's batch, chained to the head.
        let (audit_seq, audit_hash) = store.audit_head().await.unwrap();
        let records = store.audit_after(0, 100).await.unwrap();
        let posted = records
            .iter()
            .find(|record| record.action == "ledger.deposit")
            .unwrap_or_else(|| panic!("{backend}: no audit record of the deposit"));
        assert_eq!(
            (
                posted.actor_kind.as_str(),
                posted.actor_id.as_str(),
                posted.target.as_str(),
                posted.request_id.as_str()
            ),
            ("service", "test", "transfer:t-dep", "req-dep"),
            "{backend}"
        );
        let last = records.last().unwrap();
        assert_eq!(
            (last.seq, &last.hash),
            (audit_seq, &audit_hash),
            "{backend}"
        );
        assert_eq!(
            store.account_entries("a-eur", 0, 10).await.unwrap().len(),
            1
        );
        assert!(
            store.find_transfer("t-dep").await.unwrap().is_some(),
            "{backend}"
        );

        // Frozen accounts cannot send.
        assert!(
            store
                .set_account_active("a-eur", false, &operator_audit("ledger.freeze"))
                .await
                .unwrap(),
            "{backend}"
        );
        let frozen = transfer("wd2", "a-eur", "settlement-EUR", 1, PostingKind::Withdrawal);
        assert_eq!(
            writer.post(frozen).await.unwrap(),
            Outcome::Refused(Refusal::AccountNotActive),
            "{backend}"
        );

        // Idempotency keys are purged only after their retention.
        assert_eq!(
            store.purge_idempotency_keys(10, 100).await.unwrap(),
            0,
            "{backend}"
        );
        // The posted key and the three refused ones (`dep-again`, `wd`, `wd2`).
        assert_eq!(
            store.purge_idempotency_keys(11, 100).await.unwrap(),
            4,
            "{backend}"
        );
    }
}
