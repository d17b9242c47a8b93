-- Installation metadata: one row per key, written once by the first migration run.
CREATE TABLE strongroom_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

INSERT INTO strongroom_meta (key, value) VALUES ('schema_family', 'strongroom');
