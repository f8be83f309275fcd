-- Bans and unbans made through bangui, recorded when they happen. fail2ban
-- deletes a ban's row when the ban is lifted, so a ban made and lifted
-- between two syncs would otherwise never reach the archive.
--
-- origin: 'fail2ban' (copied from fail2ban's database) or 'bangui' (recorded
-- by bangui at the ban; the sync adopts fail2ban's own row for it later and
-- the row becomes 'fail2ban').
ALTER TABLE ban_history ADD COLUMN origin TEXT NOT NULL DEFAULT 'fail2ban';
-- Unix seconds when bangui lifted the ban; NULL when it expired or is in force.
ALTER TABLE ban_history ADD COLUMN unbanned_at INTEGER;

CREATE INDEX ban_history_own ON ban_history (ip, jail) WHERE origin = 'bangui';
