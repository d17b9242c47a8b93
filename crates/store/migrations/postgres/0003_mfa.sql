-- Second factors: a TOTP credential per user (secrets sealed with a KEK-derived key), recovery
-- codes as keyed MACs, and the short-lived single-use tickets between password and second step.

CREATE TABLE totp_credentials (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    secret_sealed  BYTEA,
    pending_sealed BYTEA,
    confirmed_at   BIGINT,
    last_used_step BIGINT,
    created_at     BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    code_mac   BYTEA PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

CREATE TABLE mfa_tickets (
    ticket_hash BYTEA PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    used_at     BIGINT
);
