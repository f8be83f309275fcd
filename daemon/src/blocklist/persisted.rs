//! Has fail2ban stored a ban yet? An unban that overtakes fail2ban's own
//! (queued) write of the ban is undone at its next restart, so bangui unbans
//! only bans it finds in fail2ban's database (`bips`), read-only and briefly.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::targets::Target;

/// When fail2ban's database cannot be read, a ban acknowledged this long ago
/// counts as stored: fail2ban writes within seconds even under load.
pub const FALLBACK_AGE_SECS: i64 = 300;

/// Addresses per query: well under SQLite's variable limit.
const PER_QUERY: usize = 500;

/// The targets whose ban in `jail` fail2ban's database holds.
pub fn stored(db: &Path, jail: &str, targets: &[Target]) -> Result<Vec<bool>, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Short, so that fail2ban's own writes are never held up for long.
    conn.busy_timeout(Duration::from_secs(2))?;
    let mut out = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(PER_QUERY) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!("SELECT ip FROM bips WHERE jail = ? AND ip IN ({marks})");
        let mut stmt = conn.prepare(&sql)?;
        let texts: Vec<String> = chunk.iter().map(Target::to_string).collect();
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&jail];
        params.extend(texts.iter().map(|t| t as &dyn rusqlite::ToSql));
        let found: std::collections::HashSet<String> = stmt
            .query_map(params.as_slice(), |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        out.extend(texts.iter().map(|t| found.contains(t)));
    }
    Ok(out)
}
