-- Holds (two-phase postings): a service reserves part of a customer account's balance (a card
-- authorisation, a payout waiting on its bank), then captures it (a transfer of at most the
-- held amount, the rest released) or voids it; an expired hold is voided by the ledger writer.
-- `accounts.held` is the sum of the account's active holds, kept by the writer in the
-- transaction that opens or closes one; a customer's `available` (balance − held) can never go
-- negative, whatever the application does (triggers below, as a CHECK cannot be added here).
ALTER TABLE accounts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER accounts_available_insert BEFORE INSERT ON accounts
WHEN NEW.held < 0 OR (NEW.kind = 'customer' AND NEW.balance - NEW.held < 0)
BEGIN SELECT RAISE(ABORT, 'available balance would be negative'); END;
CREATE TRIGGER accounts_available_update BEFORE UPDATE OF balance, held ON accounts
WHEN NEW.held < 0 OR (NEW.kind = 'customer' AND NEW.balance - NEW.held < 0)
BEGIN SELECT RAISE(ABORT, 'available balance would be negative'); END;

CREATE TABLE holds (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    -- held → captured | voided | expired, once.
    status          TEXT NOT NULL CHECK (status IN ('held', 'captured', 'voided', 'expired')),
    expires_at      INTEGER NOT NULL,
    initiated_by    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    captured_amount INTEGER CHECK (captured_amount > 0 AND captured_amount <= amount),
    transfer_id     TEXT UNIQUE REFERENCES transfers (id),
    closed_at       INTEGER,
    CHECK ((status = 'captured') = (transfer_id IS NOT NULL AND captured_amount IS NOT NULL)),
    CHECK ((status = 'held') = (closed_at IS NULL))
) STRICT;
-- The writer's expiry sweep: active holds by due time.
CREATE INDEX holds_due ON holds (expires_at) WHERE status = 'held';
CREATE INDEX holds_by_account ON holds (account_id, created_at);
-- A closed hold never opens again, and a hold is never deleted.
CREATE TRIGGER holds_close_once BEFORE UPDATE ON holds WHEN OLD.status <> 'held'
BEGIN SELECT RAISE(ABORT, 'a closed hold is immutable'); END;
CREATE TRIGGER holds_are_kept BEFORE DELETE ON holds
BEGIN SELECT RAISE(ABORT, 'holds are never deleted'); END;

-- Ledger events gain the hold kinds and reversals, and name the hold. SQLite cannot change a
-- CHECK in place: the table is rebuilt with its rows and ids (and its AUTOINCREMENT counter).
CREATE TABLE ledger_events_v2 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('transfer_posted', 'account_frozen',
                'account_unfrozen', 'hold_created', 'hold_captured', 'hold_voided',
                'transfer_reversed')),
    transfer_id TEXT REFERENCES transfers (id),
    account_id  TEXT REFERENCES accounts (id),
    created_at  INTEGER NOT NULL,
    hold_id     TEXT REFERENCES holds (id)
) STRICT;
INSERT INTO ledger_events_v2 (id, kind, transfer_id, account_id, created_at)
    SELECT id, kind, transfer_id, account_id, created_at FROM ledger_events ORDER BY id;
DROP TABLE ledger_events;
ALTER TABLE ledger_events_v2 RENAME TO ledger_events;
CREATE TRIGGER ledger_events_are_immutable_update BEFORE UPDATE ON ledger_events
BEGIN SELECT RAISE(ABORT, 'ledger events are immutable'); END;
CREATE TRIGGER ledger_events_are_immutable_delete BEFORE DELETE ON ledger_events
BEGIN SELECT RAISE(ABORT, 'ledger events are immutable'); END;
