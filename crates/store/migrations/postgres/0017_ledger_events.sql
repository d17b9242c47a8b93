-- Ledger events for services (`GET /internal/v1/events`): one row per posted transfer and per
-- freeze or unfreeze, written in the transaction that made the change, after the chain-head
-- lock. Writers hold that lock until they commit, so ids grow in commit order: a consumer that
-- reads `id > last seen` in id order sees every event, in order, and at most a duplicate when
-- it re-reads after a crash. (A rolled-back batch leaves a gap in the ids, never in the events.)
CREATE TABLE ledger_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('transfer_posted', 'account_frozen', 'account_unfrozen')),
    transfer_id TEXT REFERENCES transfers (id),
    account_id  TEXT REFERENCES accounts (id),
    created_at  BIGINT NOT NULL
);
CREATE FUNCTION strongroom_ledger_events_are_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger events are immutable';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_events_are_immutable BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION strongroom_ledger_events_are_immutable();
