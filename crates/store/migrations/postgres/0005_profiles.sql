-- Personal data, envelope-encrypted: every field is AES-256-GCM under the record's data key,
-- which is stored only wrapped by a KEK version. The blind index is an HMAC of the normalised
-- national id under a key separate from the KEK. Deleting the row destroys the data key.

CREATE TABLE profiles (
    user_id           TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    kek_id            TEXT NOT NULL,
    kek_version       BIGINT NOT NULL,
    dek_wrapped       BYTEA NOT NULL,
    legal_name        BYTEA NOT NULL,
    date_of_birth     BYTEA NOT NULL,
    national_id       BYTEA NOT NULL,
    address           BYTEA NOT NULL,
    national_id_index BYTEA NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX profiles_by_national_id ON profiles (national_id_index);
