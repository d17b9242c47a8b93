-- The ledger: accounts with balances, immutable transfers and hash-chained entries, and
-- idempotency keys. Customer balances can never go negative (CHECK); entries can never be
-- changed or deleted (triggers).

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT REFERENCES users (id),
    kind       TEXT NOT NULL CHECK (kind IN ('customer', 'settlement')),
    currency   TEXT NOT NULL,
    balance    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK (kind = 'settlement' OR balance >= 0)
) STRICT;
CREATE UNIQUE INDEX accounts_one_per_user_currency ON accounts (user_id, currency) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_one_settlement_per_currency ON accounts (currency) WHERE kind = 'settlement';

CREATE TABLE transfers (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    from_account_id TEXT NOT NULL REFERENCES accounts (id),
    to_account_id   TEXT NOT NULL REFERENCES accounts (id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    memo            TEXT,
    external_ref    TEXT,
    initiated_by    TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE entries (
    seq           INTEGER PRIMARY KEY NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    transfer_id   TEXT NOT NULL REFERENCES transfers (id),
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    direction     TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount        INTEGER NOT NULL CHECK (amount > 0),
    balance_after INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    prev_hash     BLOB NOT NULL,
    hash          BLOB NOT NULL
) STRICT;
CREATE INDEX entries_by_account ON entries (account_id, seq);

CREATE TRIGGER entries_are_immutable_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;
CREATE TRIGGER entries_are_immutable_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;

-- The head of the hash chain: one row, locked by every posting.
CREATE TABLE ledger_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    BLOB NOT NULL,
    state           TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
CREATE TRIGGER transfers_are_immutable_update BEFORE UPDATE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
CREATE TRIGGER transfers_are_immutable_delete BEFORE DELETE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
