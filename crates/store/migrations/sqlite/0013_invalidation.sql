-- The invalidation feed other instances poll as a backstop to pub/sub: sessions revoked and
-- accounts whose status changed since a point in time, each found through an index.

CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

ALTER TABLE users ADD COLUMN status_changed_at INTEGER;
CREATE INDEX users_status_changed_at ON users (status_changed_at)
    WHERE status_changed_at IS NOT NULL;
