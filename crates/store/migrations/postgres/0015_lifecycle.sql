-- Account lifecycle: whether (and when) the user verified their email, and the single-use
-- tokens of password resets and email verifications. Only a token's SHA-256 is stored; a user
-- has at most one live token per purpose (a new one replaces the old). `email` is the address
-- the token was sent to: for an email change, the new address, which replaces the old one only
-- when its token is used.

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

CREATE TABLE user_tokens (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('password_reset', 'verify_email')),
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (user_id, purpose)
);
