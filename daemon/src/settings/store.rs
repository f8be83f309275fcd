//! The `settings` table: one row per persisted key, the value as TOML text.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::config::parse_value;

pub fn all(conn: &Connection) -> rusqlite::Result<BTreeMap<String, toml::Value>> {
    let mut stmt = conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (key, text) = row?;
        out.insert(key, parse_value(&text));
    }
    Ok(out)
}

pub fn put(
    conn: &Connection,
    key: &str,
    value: &toml::Value,
    now: i64,
    uid: u32,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value, set_at, set_by_uid) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, set_at = excluded.set_at,
             set_by_uid = excluded.set_by_uid",
        params![key, value.to_string(), now, uid],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM settings WHERE key = ?1", [key])? > 0)
}

/// The persisted settings of the database at `path`, read before the daemon
/// opens it for writing (the log level must be known before logging starts).
/// No file or no table yet: none.
pub fn read_before_start(path: &Path) -> rusqlite::Result<BTreeMap<String, toml::Value>> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let exists = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !exists {
        return Ok(BTreeMap::new());
    }
    all(&conn)
}
