-- The ledger writer's batch in one round trip (PostgreSQL).
--
-- `strongroom_ledger_write_batch` is every write of a decided batch (transfers and their
-- events, entries, idempotency keys, compare-and-set balances, the chain head, the audit
-- records and the audit head), counting the rows it touched. The writer calls it inside its
-- own transaction after locking the heads and reading keys, references and accounts (the
-- general path).
--
-- `strongroom_ledger_post_batch` is the fast path. The writer decides a batch from its own
-- state (the account cache and both heads as its last commit left them) and sends it in one
-- statement, run in autocommit: the statement's end is the commit, so its answer comes after
-- the commit, as every posting's answer must. The function locks both heads in the writer's
-- order, and writes nothing unless
--   * the chain head (sequence, hash, generation) and the audit head are the ones the writer
--     decided from: nobody wrote a posting, a hold, a status change or an audit record since
--     its last commit, so its cached balances and statuses are exact ('stale' otherwise);
--   * none of the batch's idempotency keys, external references or reversed transfers is
--     stored yet: the decision assumed so ('stored' otherwise).
-- Either way it raises (SQLSTATE 'SRSTL' stale, 'SRSTO' stored), so that the statement rolls
-- back: returning would commit the row locks taken, a commit PostgreSQL flushes to disk while
-- the head is still locked. The writer then decides the batch again on the general path,
-- from fresh reads under the locks. A write that touches other than the expected rows raises
-- too, which rolls the whole statement back.

CREATE FUNCTION strongroom_ledger_write_batch(
    p_transfers jsonb, p_entries jsonb, p_keys jsonb, p_balances jsonb,
    p_last_seq bigint, p_last_hash bytea,
    p_audit jsonb, p_audit_seq bigint, p_audit_hash bytea
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    WITH t AS (INSERT INTO transfers (id, kind, from_account_id, to_account_id, amount, currency,
        memo, external_ref, initiated_by, created_at, reverses)
        SELECT j ->> 0, j ->> 1, j ->> 2, j ->> 3, (j ->> 4)::bigint, j ->> 5, j ->> 6, j ->> 7,
            j ->> 8, (j ->> 9)::bigint, j ->> 10
        FROM jsonb_array_elements(p_transfers) AS j RETURNING 1),
    v AS (INSERT INTO ledger_events (kind, transfer_id, created_at)
        SELECT e.kind, x.j ->> 0, (x.j ->> 9)::bigint
        FROM jsonb_array_elements(p_transfers) WITH ORDINALITY AS x(j, n)
        CROSS JOIN (VALUES ('transfer_posted', 1), ('transfer_reversed', 2)) AS e(kind, o)
        WHERE e.o = 1 OR x.j ->> 10 IS NOT NULL ORDER BY x.n, e.o RETURNING 1),
    e AS (INSERT INTO entries (seq, id, transfer_id, account_id, direction, amount,
        balance_after, currency, created_at, prev_hash, hash)
        SELECT (j ->> 0)::bigint, j ->> 1, j ->> 2, j ->> 3, j ->> 4, (j ->> 5)::bigint,
            (j ->> 6)::bigint, j ->> 7, (j ->> 8)::bigint, decode(j ->> 9, 'hex'),
            decode(j ->> 10, 'hex')
        FROM jsonb_array_elements(p_entries) AS j RETURNING 1),
    k AS (INSERT INTO idempotency_keys (scope, key, request_hash, state, response_status,
        response_body, created_at)
        SELECT j ->> 0, j ->> 1, decode(j ->> 2, 'hex'), j ->> 3, NULL, j ->> 4,
            (j ->> 5)::bigint
        FROM jsonb_array_elements(p_keys) AS j RETURNING 1),
    b AS (UPDATE accounts SET balance = (j ->> 1)::bigint
        FROM jsonb_array_elements(p_balances) AS j
        WHERE accounts.id = j ->> 0 AND accounts.balance = (j ->> 2)::bigint RETURNING 1),
    h AS (UPDATE ledger_head SET seq = p_last_seq, hash = p_last_hash WHERE id = 1 RETURNING 1),
    a AS (INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, target, outcome,
        request_id, ip, details, prev_hash, hash)
        SELECT (j ->> 0)::bigint, (j ->> 1)::bigint, j ->> 2, j ->> 3, j ->> 4, j ->> 5, j ->> 6,
            j ->> 7, j ->> 8, j ->> 9, decode(j ->> 10, 'hex'), decode(j ->> 11, 'hex')
        FROM jsonb_array_elements(p_audit) AS j RETURNING 1),
    ah AS (UPDATE audit_head SET seq = p_audit_seq, hash = p_audit_hash WHERE id = 1 RETURNING 1)
    SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM v) + (SELECT count(*) FROM e)
        + (SELECT count(*) FROM k) + (SELECT count(*) FROM b) + (SELECT count(*) FROM h)
        + (SELECT count(*) FROM a) + (SELECT count(*) FROM ah)
    INTO written;
    RETURN written;
END
$$;

CREATE FUNCTION strongroom_ledger_post_batch(
    p_generation bigint, p_seq bigint, p_hash bytea, p_audit_head_seq bigint,
    p_audit_head_hash bytea, p_key_lookups jsonb, p_ref_lookups jsonb,
    p_reversal_lookups jsonb,
    p_transfers jsonb, p_entries jsonb, p_keys jsonb, p_balances jsonb,
    p_last_seq bigint, p_last_hash bytea,
    p_audit jsonb, p_audit_seq bigint, p_audit_hash bytea, p_expected_rows bigint
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    head ledger_head%ROWTYPE;
    audit audit_head%ROWTYPE;
    written bigint;
BEGIN
    SELECT * INTO head FROM ledger_head WHERE id = 1 FOR UPDATE;
    IF head.generation IS DISTINCT FROM p_generation OR head.seq IS DISTINCT FROM p_seq
        OR head.hash IS DISTINCT FROM p_hash THEN
        RAISE EXCEPTION 'the ledger head moved' USING ERRCODE = 'SRSTL';
    END IF;
    SELECT * INTO audit FROM audit_head WHERE id = 1 FOR UPDATE;
    IF audit.seq IS DISTINCT FROM p_audit_head_seq
        OR audit.hash IS DISTINCT FROM p_audit_head_hash THEN
        RAISE EXCEPTION 'the audit head moved' USING ERRCODE = 'SRSTL';
    END IF;
    -- Each lookup probes its index once per element (LATERAL ... LIMIT 1; the writer's session
    -- also turns sequential scans and hash and merge joins off): a plan that scans a whole
    -- table would cost more with every key ever stored.
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_key_lookups) AS j,
            LATERAL (SELECT 1 FROM idempotency_keys AS k
                WHERE k.scope = j ->> 0 AND k.key = j ->> 1 LIMIT 1) AS found)
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_ref_lookups) AS j,
            LATERAL (SELECT 1 FROM transfers AS t
                WHERE t.initiated_by = j ->> 0 AND t.kind = j ->> 1
                AND t.external_ref = j ->> 2 AND t.external_ref IS NOT NULL LIMIT 1) AS found)
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_reversal_lookups) AS j,
            LATERAL (SELECT 1 FROM transfers AS t
                WHERE t.reverses = j ->> 2 AND t.reverses IS NOT NULL LIMIT 1) AS found) THEN
        RAISE EXCEPTION 'a key, reference or reversal of the batch is stored'
            USING ERRCODE = 'SRSTO';
    END IF;
    UPDATE ledger_head SET generation = generation + 1 WHERE id = 1;
    written := strongroom_ledger_write_batch(p_transfers, p_entries, p_keys, p_balances,
        p_last_seq, p_last_hash, p_audit, p_audit_seq, p_audit_hash);
    IF written IS DISTINCT FROM p_expected_rows THEN
        RAISE EXCEPTION 'a ledger batch wrote % rows, expected %', written, p_expected_rows;
    END IF;
    RETURN 'posted';
END
$$;
