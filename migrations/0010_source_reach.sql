-- Per-source marks an administrator sets: `local` lets downloads reach
-- loopback and private addresses (refused otherwise, so a list host cannot
-- point the root daemon at internal services); `secret_path` hides the URL's
-- path wherever the URL is shown or logged (some lists carry a key there).
ALTER TABLE blocklist_sources ADD COLUMN local INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocklist_sources ADD COLUMN secret_path INTEGER NOT NULL DEFAULT 0;
