-- Personal data, envelope-encrypted: every field is AES-256-GCM under the record's data key,
-- which is stored only wrapped by a KEK version. The blind index is an HMAC of the normalised
-- national id under a key separate from the KEK. Deleting the row destroys the data key.

CREATE TABLE profiles (
    user_id           TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    kek_id            TEXT NOT NULL,
    kek_version       INTEGER NOT NULL,
    dek_wrapped       BLOB NOT NULL,
    legal_name        BLOB NOT NULL,
    date_of_birth     BLOB NOT NULL,
    national_id       BLOB NOT NULL,
    address           BLOB NOT NULL,
    national_id_index BLOB NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX profiles_by_national_id ON profiles (national_id_index);
