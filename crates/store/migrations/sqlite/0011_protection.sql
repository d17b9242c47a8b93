-- Account protection: where sessions and security events came from, each user's last located
-- request (for impossible travel, seen by every instance), and the notifications outbox
-- (written in the same transaction as the event it announces; drained in id order).

ALTER TABLE sessions ADD COLUMN location TEXT;
ALTER TABLE security_events ADD COLUMN location TEXT;

CREATE TABLE user_sightings (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    seen_at    INTEGER NOT NULL,
    latitude   REAL NOT NULL,
    longitude  REAL NOT NULL
) STRICT;

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL
) STRICT;
