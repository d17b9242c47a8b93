-- The ledger: accounts with balances, immutable transfers and hash-chained entries, and
-- idempotency keys. Customer balances can never go negative (CHECK); entries can never be
-- changed or deleted (trigger), whatever the application does.

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT REFERENCES users (id),
    kind       TEXT NOT NULL CHECK (kind IN ('customer', 'settlement')),
    currency   TEXT NOT NULL,
    balance    BIGINT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (kind = 'settlement' OR balance >= 0)
);
CREATE UNIQUE INDEX accounts_one_per_user_currency ON accounts (user_id, currency) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_one_settlement_per_currency ON accounts (currency) WHERE kind = 'settlement';

CREATE TABLE transfers (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    from_account_id TEXT NOT NULL REFERENCES accounts (id),
    to_account_id   TEXT NOT NULL REFERENCES accounts (id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    memo            TEXT,
    external_ref    TEXT,
    initiated_by    TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE entries (
    seq           BIGINT PRIMARY KEY NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    transfer_id   TEXT NOT NULL REFERENCES transfers (id),
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    direction     TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount        BIGINT NOT NULL CHECK (amount > 0),
    balance_after BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    prev_hash     BYTEA NOT NULL,
    hash          BYTEA NOT NULL
);
CREATE INDEX entries_by_account ON entries (account_id, seq);

CREATE FUNCTION strongroom_entries_are_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'entries are immutable';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER entries_are_immutable BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION strongroom_entries_are_immutable();
CREATE TRIGGER transfers_are_immutable BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION strongroom_entries_are_immutable();

CREATE TABLE ledger_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    BYTEA NOT NULL,
    state           TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
