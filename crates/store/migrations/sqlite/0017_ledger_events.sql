-- Ledger events for services (`GET /internal/v1/events`): one row per posted transfer and per
-- freeze or unfreeze, written in the transaction that made the change, after the chain-head
-- lock. Writers hold that lock until they commit, so ids grow in commit order: a consumer that
-- reads `id > last seen` in id order sees every event, in order, and at most a duplicate when
-- it re-reads after a crash.
CREATE TABLE ledger_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('transfer_posted', 'account_frozen', 'account_unfrozen')),
    transfer_id TEXT REFERENCES transfers (id),
    account_id  TEXT REFERENCES accounts (id),
    created_at  INTEGER NOT NULL
) STRICT;
CREATE TRIGGER ledger_events_are_immutable_update BEFORE UPDATE ON ledger_events
BEGIN SELECT RAISE(ABORT, 'ledger events are immutable'); END;
CREATE TRIGGER ledger_events_are_immutable_delete BEFORE DELETE ON ledger_events
BEGIN SELECT RAISE(ABORT, 'ledger events are immutable'); END;
