-- The audit log: one hash-chained record per security event, money movement, admin action,
-- approval, key operation and state-changing CLI action, appended in the same transaction as
-- the change; its head (one row) is locked by every append, always as the transaction's last
-- lock. Signed checkpoints pin both chain heads; approvals hold four-eyes requests (a
-- withdrawal passes through `approving` until the ledger writer has posted it, then becomes
-- `approved`, or `failed` when the ledger refused it). Records,
-- checkpoints and decided approvals can never be changed or deleted (triggers).

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY NOT NULL,
    at         BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'service', 'operator', 'system')),
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    ip         TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at);

CREATE FUNCTION strongroom_audit_is_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit records are immutable';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_is_immutable BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION strongroom_audit_is_immutable();

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_checkpoints (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    audit_seq   BIGINT NOT NULL,
    audit_hash  BYTEA NOT NULL,
    ledger_seq  BIGINT NOT NULL,
    ledger_hash BYTEA NOT NULL,
    key_id      TEXT NOT NULL,
    signature   BYTEA NOT NULL
);
CREATE TRIGGER audit_checkpoints_are_immutable BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION strongroom_audit_is_immutable();

CREATE TABLE approvals (
    id           TEXT PRIMARY KEY NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    params       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approving', 'approved', 'failed', 'rejected', 'expired')),
    decided_by   TEXT,
    decided_at   BIGINT
);
CREATE INDEX approvals_by_status ON approvals (status, requested_at);

CREATE FUNCTION strongroom_approvals_are_final() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'approvals are kept';
    END IF;
    IF OLD.status NOT IN ('pending', 'approving') THEN
        RAISE EXCEPTION 'a decided approval is final';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER approvals_are_final BEFORE UPDATE OR DELETE ON approvals
    FOR EACH ROW EXECUTE FUNCTION strongroom_approvals_are_final();

-- Entries from here on commit to their transfer row in their hash; older ones did not.
INSERT INTO strongroom_meta (key, value)
SELECT 'ledger_transfer_hashed_from', (seq + 1)::text FROM ledger_head;
