-- The audit log: one hash-chained record per security event, money movement, admin action,
-- approval, key operation and state-changing CLI action, appended in the same transaction as
-- the change; its head (one row) is locked by every append, always as the transaction's last
-- lock. Signed checkpoints pin both chain heads; approvals hold four-eyes requests (a
-- withdrawal passes through `approving` until the ledger writer has posted it, then becomes
-- `approved`, or `failed` when the ledger refused it). Records,
-- checkpoints and decided approvals can never be changed or deleted (triggers).

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY NOT NULL,
    at         INTEGER NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'service', 'operator', 'system')),
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    ip         TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE TRIGGER audit_log_is_immutable_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit records are immutable'); END;
CREATE TRIGGER audit_log_is_immutable_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit records are immutable'); END;

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_checkpoints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    audit_seq   INTEGER NOT NULL,
    audit_hash  BLOB NOT NULL,
    ledger_seq  INTEGER NOT NULL,
    ledger_hash BLOB NOT NULL,
    key_id      TEXT NOT NULL,
    signature   BLOB NOT NULL
) STRICT;
CREATE TRIGGER audit_checkpoints_are_immutable_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are immutable'); END;
CREATE TRIGGER audit_checkpoints_are_immutable_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are immutable'); END;

CREATE TABLE approvals (
    id           TEXT PRIMARY KEY NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    params       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approving', 'approved', 'failed', 'rejected', 'expired')),
    decided_by   TEXT,
    decided_at   INTEGER
) STRICT;
CREATE INDEX approvals_by_status ON approvals (status, requested_at);
CREATE TRIGGER approvals_decided_are_final BEFORE UPDATE ON approvals
WHEN OLD.status NOT IN ('pending', 'approving')
BEGIN SELECT RAISE(ABORT, 'a decided approval is final'); END;
CREATE TRIGGER approvals_are_kept BEFORE DELETE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals are kept'); END;

-- Entries from here on commit to their transfer row in their hash; older ones did not.
INSERT INTO strongroom_meta (key, value)
SELECT 'ledger_transfer_hashed_from', CAST(seq + 1 AS TEXT) FROM ledger_head;
