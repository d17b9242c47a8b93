-- Reversals: a `reversal` transfer names the transfer it reverses (and its entries' hashes
-- commit to the link). A transfer is reversed at most once, whoever asks: the ledger writer
-- checks under the chain-head lock, and this index refuses a second reversal whatever the
-- application does.
ALTER TABLE transfers ADD COLUMN reverses TEXT REFERENCES transfers (id);
CREATE UNIQUE INDEX transfers_reversed_once ON transfers (reverses) WHERE reverses IS NOT NULL;
-- A reversal always names what it reverses, and only a reversal does.
ALTER TABLE transfers ADD CONSTRAINT transfers_reversal_linked
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL));
