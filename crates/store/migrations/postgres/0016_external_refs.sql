-- An external reference (a bank's payment id, a card network's authorisation id) posts at
-- most once per caller and posting kind: the ledger writer looks the references of each batch
-- up here, under the chain-head lock, and refuses a second movement with 409
-- `duplicate_external_ref` naming the first. Not a UNIQUE index: a database written before
-- this rule may already hold duplicates, which must not stop the upgrade; the oldest of them
-- is the original. Only rows with a reference are indexed.
CREATE INDEX transfers_by_external_ref ON transfers (initiated_by, kind, external_ref, created_at)
    WHERE external_ref IS NOT NULL;
