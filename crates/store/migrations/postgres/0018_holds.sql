-- Holds (two-phase postings): a service reserves part of a customer account's balance (a card
-- authorisation, a payout waiting on its bank), then captures it (a transfer of at most the
-- held amount, the rest released) or voids it; an expired hold is voided by the ledger writer.
-- `accounts.held` is the sum of the account's active holds, kept by the writer in the
-- transaction that opens or closes one; a customer's `available` (balance − held) can never go
-- negative, whatever the application does.
ALTER TABLE accounts ADD COLUMN held BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0);
ALTER TABLE accounts ADD CONSTRAINT accounts_available_not_negative
    CHECK (kind <> 'customer' OR balance - held >= 0);

CREATE TABLE holds (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    -- held → captured | voided | expired, once.
    status          TEXT NOT NULL CHECK (status IN ('held', 'captured', 'voided', 'expired')),
    expires_at      BIGINT NOT NULL,
    initiated_by    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    captured_amount BIGINT CHECK (captured_amount > 0 AND captured_amount <= amount),
    transfer_id     TEXT UNIQUE REFERENCES transfers (id),
    closed_at       BIGINT,
    CHECK ((status = 'captured') = (transfer_id IS NOT NULL AND captured_amount IS NOT NULL)),
    CHECK ((status = 'held') = (closed_at IS NULL))
);
-- The writer's expiry sweep: active holds by due time.
CREATE INDEX holds_due ON holds (expires_at) WHERE status = 'held';
CREATE INDEX holds_by_account ON holds (account_id, created_at);
-- A closed hold never opens again, and a hold is never deleted.
CREATE FUNCTION strongroom_holds_close_once() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'holds are never deleted';
    END IF;
    IF OLD.status <> 'held' THEN
        RAISE EXCEPTION 'a closed hold is immutable';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER holds_close_once BEFORE UPDATE OR DELETE ON holds
    FOR EACH ROW EXECUTE FUNCTION strongroom_holds_close_once();

-- Ledger events gain the hold kinds and reversals, and name the hold.
ALTER TABLE ledger_events DROP CONSTRAINT ledger_events_kind_check;
ALTER TABLE ledger_events ADD CONSTRAINT ledger_events_kind_check CHECK (kind IN
    ('transfer_posted', 'account_frozen', 'account_unfrozen', 'hold_created', 'hold_captured',
     'hold_voided', 'transfer_reversed'));
ALTER TABLE ledger_events ADD COLUMN hold_id TEXT REFERENCES holds (id);
