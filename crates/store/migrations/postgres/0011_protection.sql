-- Account protection: where sessions and security events came from, each user's last located
-- request (for impossible travel, seen by every instance), and the notifications outbox
-- (written in the same transaction as the event it announces; drained in id order — writers
-- take a table lock, so ids become visible in the order they were given).

ALTER TABLE sessions ADD COLUMN location TEXT;
ALTER TABLE security_events ADD COLUMN location TEXT;

CREATE TABLE user_sightings (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    seen_at    BIGINT NOT NULL,
    latitude   DOUBLE PRECISION NOT NULL,
    longitude  DOUBLE PRECISION NOT NULL
);

CREATE TABLE notifications (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);
