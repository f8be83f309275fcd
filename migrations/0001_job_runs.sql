-- One row per run of a background job; the newest runs of each job are kept.
CREATE TABLE job_runs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT    NOT NULL UNIQUE,
    job_id       TEXT    NOT NULL,
    trigger      TEXT    NOT NULL CHECK (trigger IN ('schedule', 'manual', 'start-up')),
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    duration_ms  INTEGER,
    outcome      TEXT    NOT NULL CHECK (outcome IN
                     ('running', 'ok', 'failed', 'timed-out', 'cancelled', 'interrupted')),
    summary      TEXT    NOT NULL DEFAULT '',
    error        TEXT
);

CREATE INDEX job_runs_by_job ON job_runs (job_id, seq);
