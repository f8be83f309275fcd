-- bangui's long-lived copy of fail2ban's ban history.
CREATE TABLE ban_history (
    id          INTEGER PRIMARY KEY,
    jail        TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    time_of_ban INTEGER NOT NULL,
    -- Seconds; -1: permanent.
    bantime     INTEGER NOT NULL,
    bancount    INTEGER NOT NULL,
    failures    INTEGER,
    -- JSON array of the log lines that led to the ban, clipped.
    matches     TEXT,
    synced_at   INTEGER NOT NULL,
    -- The archive's key, address first so that it also serves lookups by
    -- address (one index fewer to keep up while a big sync inserts).
    UNIQUE (ip, jail, time_of_ban)
);

CREATE INDEX ban_history_by_time ON ban_history (time_of_ban);

-- Per day, jail and country, kept after the raw rows are pruned.
CREATE TABLE history_daily (
    day         TEXT    NOT NULL,
    jail        TEXT    NOT NULL,
    country     TEXT    NOT NULL,
    bans        INTEGER NOT NULL,
    addresses   INTEGER NOT NULL,
    PRIMARY KEY (day, jail, country)
) WITHOUT ROWID;

-- Where the last sync stopped in fail2ban's database, and how it went.
CREATE TABLE history_sync (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    dbfile      TEXT,
    last_rowid  INTEGER NOT NULL DEFAULT 0,
    last_jail   TEXT,
    last_ip     TEXT,
    last_time   INTEGER,
    status      TEXT    NOT NULL DEFAULT 'never',
    detail      TEXT,
    synced_at   INTEGER,
    pruned_at   INTEGER
);

INSERT INTO history_sync (id) VALUES (1);
