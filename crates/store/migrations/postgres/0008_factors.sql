-- Factor management: passkeys carry a name the user chose, shown in the factor list.

ALTER TABLE webauthn_credentials ADD COLUMN name TEXT NOT NULL DEFAULT 'Passkey';
