-- Operator accounts (fees, revenue, reserves): kind `operator`, named, one per name and
-- currency; like customer accounts they never go negative.
ALTER TABLE accounts ADD COLUMN name TEXT;
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
    CHECK (kind IN ('customer', 'settlement', 'operator'));
ALTER TABLE accounts ADD CONSTRAINT accounts_operator_named
    CHECK ((kind = 'operator') = (name IS NOT NULL));
CREATE UNIQUE INDEX accounts_one_operator_name_per_currency ON accounts (name, currency) WHERE kind = 'operator';
