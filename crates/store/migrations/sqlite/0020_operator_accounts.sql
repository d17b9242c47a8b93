-- no-transaction
-- Operator accounts (fees, revenue, reserves): kind `operator`, named, one per name and
-- currency; like customer accounts they never go negative. SQLite cannot change the kind's
-- CHECK in place, so `accounts` is rebuilt by SQLite's documented procedure (foreign keys off
-- while the rows move, then a new table renamed over the old), in one transaction of its own.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE accounts_v2 (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT REFERENCES users (id),
    kind       TEXT NOT NULL CHECK (kind IN ('customer', 'settlement', 'operator')),
    currency   TEXT NOT NULL,
    balance    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    held       INTEGER NOT NULL DEFAULT 0,
    name       TEXT,
    CHECK (kind = 'settlement' OR balance >= 0),
    CHECK ((kind = 'operator') = (name IS NOT NULL))
) STRICT;
INSERT INTO accounts_v2 (id, user_id, kind, currency, balance, status, created_at, held)
    SELECT id, user_id, kind, currency, balance, status, created_at, held FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v2 RENAME TO accounts;
CREATE UNIQUE INDEX accounts_one_per_user_currency ON accounts (user_id, currency) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_one_settlement_per_currency ON accounts (currency) WHERE kind = 'settlement';
CREATE UNIQUE INDEX accounts_one_operator_name_per_currency ON accounts (name, currency) WHERE kind = 'operator';
CREATE TRIGGER accounts_available_insert BEFORE INSERT ON accounts
WHEN NEW.held < 0 OR (NEW.kind = 'customer' AND NEW.balance - NEW.held < 0)
BEGIN SELECT RAISE(ABORT, 'available balance would be negative'); END;
CREATE TRIGGER accounts_available_update BEFORE UPDATE OF balance, held ON accounts
WHEN NEW.held < 0 OR (NEW.kind = 'customer' AND NEW.balance - NEW.held < 0)
BEGIN SELECT RAISE(ABORT, 'available balance would be negative'); END;
COMMIT;
PRAGMA foreign_keys = ON;
