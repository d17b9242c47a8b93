-- Identity: users, sessions with their refresh families, refresh-token hashes, security events.
-- Times are milliseconds since the Unix epoch (64-bit integers) on both backends.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles         TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- One row per login: the session and its refresh family. `generation` is the
-- compare-and-set counter of rotation; `grace_blob` seals the latest pair for a concurrent
-- refresh that presents the just-rotated token.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id),
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    ip             TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    acr            TEXT NOT NULL,
    amr            TEXT NOT NULL,
    generation     BIGINT NOT NULL,
    rotated_at     BIGINT,
    grace_blob     BYTEA,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Every refresh token ever issued, by hash only, so reuse of any older generation is known.
CREATE TABLE refresh_tokens (
    token_hash  BYTEA PRIMARY KEY NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    generation  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (session_id, generation)
);

CREATE TABLE security_events (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    session_id  TEXT
);
CREATE INDEX security_events_by_user ON security_events (user_id, id);
