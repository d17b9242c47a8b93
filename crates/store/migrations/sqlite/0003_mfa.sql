-- Second factors: a TOTP credential per user (secrets sealed with a KEK-derived key), recovery
-- codes as keyed MACs, and the short-lived single-use tickets between password and second step.

CREATE TABLE totp_credentials (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    secret_sealed  BLOB,
    pending_sealed BLOB,
    confirmed_at   INTEGER,
    last_used_step INTEGER,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
    code_mac   BLOB PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    used_at    INTEGER,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

CREATE TABLE mfa_tickets (
    ticket_hash BLOB PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;
