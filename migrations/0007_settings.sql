-- Runtime settings persisted by `bangui-ctl config set`. They override the
-- config file at start (environment variables and flags still win). The value
-- is TOML, as it would be written in the file.
CREATE TABLE settings (
    key         TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    set_at      INTEGER NOT NULL,
    set_by_uid  INTEGER NOT NULL
) WITHOUT ROWID;
