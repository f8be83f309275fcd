-- How a source's list is read, where it differs from every list's default
-- (NULL): the JSON field holding the address or network, the least score a
-- scored list's second column must reach, and the broadest network accepted
-- per family. Lines left out for their score are counted per run.
ALTER TABLE blocklist_sources ADD COLUMN json_field TEXT;
ALTER TABLE blocklist_sources ADD COLUMN min_score INTEGER;
ALTER TABLE blocklist_sources ADD COLUMN min_prefix_v4 INTEGER;
ALTER TABLE blocklist_sources ADD COLUMN min_prefix_v6 INTEGER;
ALTER TABLE import_runs ADD COLUMN below_score INTEGER NOT NULL DEFAULT 0;
-- When a source first listed each entry (NULL for entries listed before).
ALTER TABLE blocklist_entries ADD COLUMN listed_at INTEGER;
-- Entries an import left out because another entry of the same source holds them.
ALTER TABLE import_runs ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;
