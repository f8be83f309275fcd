-- Geo-IP answers, one row per address. Countries and repeated strings
-- (organisations, failure reasons) live once in their own tables.
CREATE TABLE geo_countries (
    id      INTEGER PRIMARY KEY,
    code    TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    UNIQUE (code, name)
);

CREATE TABLE geo_strings (
    id      INTEGER PRIMARY KEY,
    value   TEXT    NOT NULL UNIQUE
);

CREATE TABLE geo_cache (
    ip          TEXT    PRIMARY KEY,
    -- NULL while the country is unknown.
    country_id  INTEGER REFERENCES geo_countries (id),
    asn         INTEGER,
    org_id      INTEGER REFERENCES geo_strings (id),
    -- maxmind, ip-api, local (private/reserved, never sent anywhere) or none.
    source      TEXT    NOT NULL CHECK (source IN ('none', 'maxmind', 'ip-api', 'local')),
    -- Why the country is unknown.
    reason_id   INTEGER REFERENCES geo_strings (id),
    -- Failed attempts since the last success.
    attempts    INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- For people reading the database with sqlite3.
CREATE VIEW geo AS
SELECT g.ip, c.code AS country_code, c.name AS country, g.asn, o.value AS org,
       g.source, r.value AS reason, g.attempts, g.updated_at
FROM geo_cache g
LEFT JOIN geo_countries c ON c.id = g.country_id
LEFT JOIN geo_strings o ON o.id = g.org_id
LEFT JOIN geo_strings r ON r.id = g.reason_id;
