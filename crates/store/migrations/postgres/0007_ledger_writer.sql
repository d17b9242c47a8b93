-- The ledger writer's cache generation: every transaction that changes account balances or
-- statuses increments it under the chain-head lock, so a writer whose cached accounts were
-- read at generation G knows they are still exact when it next finds G + 1 (nobody else
-- wrote in between, on this or another instance).
ALTER TABLE ledger_head ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

-- Idempotency keys are purged by age once they have been kept for the retention period.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
