-- The master password (an Argon2id hash, never the password) and when setup
-- was completed. One row, written by `bangui-ctl setup`.
CREATE TABLE setup (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash   TEXT    NOT NULL,
    completed_at    INTEGER NOT NULL,
    completed_by_uid INTEGER NOT NULL
);
