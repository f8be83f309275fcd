-- Blocklist sources, what each lists, what bangui banned for them, and one
-- row per import run.
CREATE TABLE blocklist_sources (
    name            TEXT    PRIMARY KEY,
    url             TEXT    NOT NULL,
    -- NULL: fail2ban.blocklist_jail.
    jail            TEXT,
    interval_secs   INTEGER NOT NULL,
    max_entries     INTEGER NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    -- 'ctl' (added with bangui-ctl) or 'config' (from the config file).
    origin          TEXT    NOT NULL CHECK (origin IN ('ctl', 'config')),
    created_at      INTEGER NOT NULL,
    -- Conditional download state of the last successful download.
    etag            TEXT,
    last_modified   TEXT,
    -- SHA-256 of the normalised content of the last completed run.
    content_sha256  BLOB,
    failure_streak  INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_success_at INTEGER
);

-- What each source lists now (after the allowlist and its cap): the wanted state.
CREATE TABLE blocklist_entries (
    source  TEXT NOT NULL REFERENCES blocklist_sources (name) ON DELETE CASCADE,
    target  TEXT NOT NULL,
    PRIMARY KEY (source, target)
) WITHOUT ROWID;

CREATE INDEX blocklist_entries_by_target ON blocklist_entries (target);

CREATE TABLE import_runs (
    id              INTEGER PRIMARY KEY,
    source          TEXT    NOT NULL,
    jail            TEXT    NOT NULL,
    trigger         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN
                        ('running', 'completed', 'unchanged', 'failed', 'interrupted')),
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    content_sha256  BLOB,
    download        TEXT,
    lines           INTEGER NOT NULL DEFAULT 0,
    entries         INTEGER NOT NULL DEFAULT 0,
    invalid         INTEGER NOT NULL DEFAULT 0,
    duplicates      INTEGER NOT NULL DEFAULT 0,
    too_broad       INTEGER NOT NULL DEFAULT 0,
    refused         INTEGER NOT NULL DEFAULT 0,
    over_cap        INTEGER NOT NULL DEFAULT 0,
    lost            INTEGER NOT NULL DEFAULT 0,
    to_ban          INTEGER NOT NULL DEFAULT 0,
    banned          INTEGER NOT NULL DEFAULT 0,
    to_unban        INTEGER NOT NULL DEFAULT 0,
    unbanned        INTEGER NOT NULL DEFAULT 0,
    deferred        INTEGER NOT NULL DEFAULT 0,
    -- JSON: invalid-line samples and refusals per reason.
    samples         TEXT    NOT NULL DEFAULT '[]',
    refused_by      TEXT    NOT NULL DEFAULT '{}',
    error           TEXT
);

CREATE INDEX import_runs_by_source ON import_runs (source, id);

-- A batch sent to fail2ban. Written (with its bans, for a ban batch) before
-- the request goes out; confirmed when fail2ban has acknowledged it.
CREATE TABLE blocklist_chunks (
    id              INTEGER PRIMARY KEY,
    run             INTEGER NOT NULL,
    jail            TEXT    NOT NULL,
    action          TEXT    NOT NULL CHECK (action IN ('ban', 'unban')),
    size            INTEGER NOT NULL,
    sent_at         INTEGER NOT NULL,
    confirmed_at    INTEGER
);

-- What bangui has banned in fail2ban for blocklists, one row per jail and
-- target, pointing at the batch that sent it. Checked against fail2ban's
-- banned list at the start of every run.
CREATE TABLE blocklist_bans (
    jail    TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    chunk   INTEGER NOT NULL,
    -- An unban put off until fail2ban has stored the ban; retried next run.
    pending_unban INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (jail, target)
) WITHOUT ROWID;

CREATE INDEX blocklist_bans_pending ON blocklist_bans (jail) WHERE pending_unban;
