-- Devices: browsers that signed in to an account (by the random id of their signed
-- `__Host-strongroom_device` cookie), and the (browser family, OS, country) kinds a user signs
-- in with, so a new kind is announced. Both are forgotten 400 days after their last sign-in.

CREATE TABLE known_devices (
    user_id      TEXT NOT NULL REFERENCES users (id),
    device_id    TEXT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE device_kinds (
    user_id      TEXT NOT NULL REFERENCES users (id),
    browser      TEXT NOT NULL,
    os           TEXT NOT NULL,
    country      TEXT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, browser, os, country)
);

-- The GeoIP accuracy radius of the last location: impossible travel subtracts both radii.
ALTER TABLE user_sightings ADD COLUMN accuracy_km BIGINT NOT NULL DEFAULT 0;
