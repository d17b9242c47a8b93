-- PostgreSQL's 0021 adds the ledger writer's one-round-trip batch functions. SQLite runs in the
-- server's process, where a statement costs no round trip: nothing changes here, and the
-- migration exists so that both backends stand at the same schema version.
SELECT 1;
