//! The `sessions` table.

use bangui_proto::messages::SessionInfo;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

const COLUMNS: &str = "id, label, created_at, last_seen_at, expires_at, created_by_uid";

pub fn insert(
    conn: &Connection,
    session: &SessionInfo,
    token_sha256: &[u8],
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sessions (id, token_sha256, label, created_at, last_seen_at, expires_at, created_by_uid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            session.id,
            token_sha256,
            session.label,
            session.created_at,
            session.last_seen_at,
            session.expires_at,
            session.created_by_uid,
        ],
    )?;
    Ok(())
}

pub fn by_token(conn: &Connection, token_sha256: &[u8]) -> Result<Option<SessionInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sessions WHERE token_sha256 = ?1"
    ))?;
    Ok(stmt.query_row([token_sha256], read).optional()?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<SessionInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"))?;
    Ok(stmt.query_row([id], read).optional()?)
}

pub fn touch(conn: &Connection, id: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Newest first.
pub fn list(conn: &Connection, limit: u32) -> Result<Vec<SessionInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sessions ORDER BY created_at DESC, id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], read)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Returns whether a session was deleted.
pub fn delete(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE id = ?1", [id])? > 0)
}

/// Deletes sessions that expired at or before `now`; returns how many.
pub fn delete_expired(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?)
}

fn read(r: &Row<'_>) -> rusqlite::Result<SessionInfo> {
    Ok(SessionInfo {
        id: r.get(0)?,
        label: r.get(1)?,
        created_at: r.get(2)?,
        last_seen_at: r.get(3)?,
        expires_at: r.get(4)?,
        created_by_uid: r.get(5)?,
    })
}
