//! Reading fail2ban's own database: read-only, in short pages by rowid, so
//! that fail2ban's writes (which a reader's lock holds up) are never kept
//! waiting for long.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The schema versions whose `bans` table bangui knows.
pub const KNOWN_VERSIONS: &[i64] = &[4];
/// Rows per read: one short statement each.
pub const PAGE: usize = 500;
/// Longest a matched log line or the list of them is kept.
const MAX_MATCH: usize = 300;
const MAX_MATCHES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("fail2ban's database {0} does not exist")]
    Missing(String),
    #[error("fail2ban's database is locked (busy longer than the timeout); trying again next time")]
    Locked,
    #[error(
        "fail2ban's database has schema version {0}; bangui reads version 4 (fail2ban 0.11 and 1.x). Nothing was read"
    )]
    UnknownSchema(i64),
    #[error("cannot read fail2ban's database: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for SourceError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                SourceError::Locked
            }
            _ => SourceError::Sqlite(e),
        }
    }
}

impl SourceError {
    pub fn status(&self) -> &'static str {
        match self {
            SourceError::Missing(_) => "missing",
            SourceError::Locked => "locked",
            SourceError::UnknownSchema(_) => "unknown-schema",
            SourceError::Sqlite(_) => "failed",
        }
    }
}

/// One row of fail2ban's `bans`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRow {
    pub rowid: i64,
    pub jail: String,
    pub ip: String,
    pub time_of_ban: i64,
    pub bantime: i64,
    pub bancount: i64,
    pub failures: Option<i64>,
    pub matches: Option<String>,
}

pub struct Fail2banDb {
    conn: Connection,
}

impl Fail2banDb {
    /// Opens read-only (`mode=ro`, never `immutable`: fail2ban writes it) and checks the schema.
    pub fn open(path: &Path, busy: Duration) -> Result<Fail2banDb, SourceError> {
        if !path.exists() {
            return Err(SourceError::Missing(path.display().to_string()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy)?;
        let version: Option<i64> = conn
            .query_row("SELECT max(version) FROM fail2banDb", [], |r| r.get(0))
            .optional()?
            .flatten();
        let version = version.unwrap_or(0);
        if !KNOWN_VERSIONS.contains(&version) {
            return Err(SourceError::UnknownSchema(version));
        }
        Ok(Fail2banDb { conn })
    }

    pub fn max_rowid(&self) -> Result<i64, SourceError> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(rowid), 0) FROM bans", [], |r| r.get(0))?)
    }

    /// (jail, ip, time of ban) of one row, if it is still there.
    pub fn identity(&self, rowid: i64) -> Result<Option<(String, String, i64)>, SourceError> {
        Ok(self
            .conn
            .query_row(
                "SELECT jail, ip, timeofban FROM bans WHERE rowid = ?1",
                [rowid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// The next page of rows after `rowid`.
    pub fn page(&self, after: i64) -> Result<Vec<BanRow>, SourceError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, jail, ip, timeofban, bantime, bancount, data FROM bans
             WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![after, PAGE as i64], read_ban_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every row fail2ban holds now for these addresses (any jail), read
    /// [`PAGE`] addresses at a time through fail2ban's index on `ip`.
    pub fn rows_for(&self, ips: &[String]) -> Result<Vec<BanRow>, SourceError> {
        let mut out = Vec::new();
        for chunk in ips.chunks(PAGE) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut stmt = self.conn.prepare(&format!(
                "SELECT rowid, jail, ip, timeofban, bantime, bancount, data FROM bans
                 WHERE ip IN ({marks}) ORDER BY rowid"
            ))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(chunk), read_ban_row)?;
            out.extend(rows.collect::<Result<Vec<_>, _>>()?);
        }
        Ok(out)
    }
}

fn read_ban_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BanRow> {
    let data: Option<String> = r.get::<_, Option<String>>(6).unwrap_or(None);
    let (failures, matches) = data.as_deref().map(parse_data).unwrap_or((None, None));
    Ok(BanRow {
        rowid: r.get(0)?,
        jail: r.get(1)?,
        ip: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        time_of_ban: r.get(3)?,
        bantime: r.get(4)?,
        bancount: r.get(5)?,
        failures,
        matches,
    })
}

/// fail2ban's `data` JSON: the failure count and the matched lines (clipped).
fn parse_data(text: &str) -> (Option<i64>, Option<String>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return (None, None);
    };
    let failures = value.get("failures").and_then(serde_json::Value::as_i64);
    let matches = value.get("matches").and_then(|m| m.as_array()).map(|list| {
        let clipped: Vec<String> = list
            .iter()
            .take(MAX_MATCHES)
            .map(|m| {
                let line = match m {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(""),
                    other => other.to_string(),
                };
                line.chars().take(MAX_MATCH).collect()
            })
            .collect();
        serde_json::Value::from(clipped).to_string()
    });
    (failures, matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_read_and_clipped() {
        let (f, m) = parse_data(r#"{"matches": ["a", ["b", "c"]], "failures": 3}"#);
        assert_eq!(f, Some(3));
        assert_eq!(m.as_deref(), Some(r#"["a","bc"]"#));
        assert_eq!(parse_data("not json"), (None, None));
        let long = format!(r#"{{"matches": ["{}"]}}"#, "x".repeat(1000));
        assert_eq!(parse_data(&long).1.unwrap().len(), MAX_MATCH + 4);
    }
}
