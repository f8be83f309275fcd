-- Login sessions. Only the SHA-256 of a token is stored, never the token.
CREATE TABLE sessions (
    id              TEXT    PRIMARY KEY,
    token_sha256    BLOB    NOT NULL UNIQUE,
    label           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    created_by_uid  INTEGER NOT NULL
);

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
