-- Second-factor secrets under the configured KEK provider. `data_keys` holds data keys that
-- are not a profile's, wrapped like one: a key per user ("factors:USER") that seals the TOTP
-- secret and keys the recovery-code MACs, and keys moved off the local KEK file. `key_scheme`
-- says what a TOTP secret or recovery code is under: 'local-v1' (a key derived from the local
-- KEK file, before this migration) or 'envelope-v1' (the user's data key).

CREATE TABLE data_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    kek_id      TEXT NOT NULL,
    kek_version BIGINT NOT NULL,
    dek_wrapped BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX data_keys_by_kek ON data_keys (kek_id, kek_version);

ALTER TABLE totp_credentials ADD COLUMN key_scheme TEXT NOT NULL DEFAULT 'local-v1';
ALTER TABLE recovery_codes ADD COLUMN key_scheme TEXT NOT NULL DEFAULT 'local-v1';

-- A pending TOTP secret belongs to the session that asked for it, for a short while, and
-- survives only a few wrong confirmation codes.
ALTER TABLE totp_credentials ADD COLUMN pending_session_id TEXT;
ALTER TABLE totp_credentials ADD COLUMN pending_expires_at BIGINT;
ALTER TABLE totp_credentials ADD COLUMN pending_attempts BIGINT NOT NULL DEFAULT 0;
