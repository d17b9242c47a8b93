-- Passkeys (WebAuthn credentials) and the server-side state of WebAuthn ceremonies, which is
-- single-use (taken with DELETE ... RETURNING) and short-lived.

CREATE TABLE webauthn_credentials (
    credential_id TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX webauthn_credentials_by_user ON webauthn_credentials (user_id);

CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
