//! Numbered SQL migrations, each applied once in its own transaction and
//! recorded with the SHA-256 of its text.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Opened, StoreError};

/// One embedded `migrations/NNNN_name.sql` file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Marks the file as bangui's ("bang"), so another program's database is never migrated.
const APPLICATION_ID: i64 = 0x6261_6e67;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "database {} has schema version {found}, but this bangui knows versions up to {known}: it was written by a newer bangui. Install that version again, or move the file away to start afresh",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error(
        "database {}: migration {version} ({name}) was applied from a file whose content differs from this build's (recorded checksum {recorded}, now {current}). Migrations must never change once released",
        path.display()
    )]
    Changed {
        path: PathBuf,
        version: u32,
        name: String,
        recorded: String,
        current: String,
    },
    #[error("{} is not a bangui database (application id {found:#x})", path.display())]
    ForeignDatabase { path: PathBuf, found: i64 },
    #[error("database {}: migration {version} ({name}) failed: {source}", path.display())]
    Failed {
        path: PathBuf,
        version: u32,
        name: String,
        #[source]
        source: rusqlite::Error,
    },
}

pub fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Checks what is applied and applies what is missing.
pub fn run(
    conn: &mut Connection,
    migrations: &[Migration],
    path: &Path,
) -> Result<Opened, StoreError> {
    let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(MigrateError::ForeignDatabase {
            path: path.to_path_buf(),
            found: app_id,
        }
        .into());
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS bangui_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT    NOT NULL,
             checksum   TEXT    NOT NULL,
             applied_at INTEGER NOT NULL
         );",
    )?;
    let known = migrations.last().map_or(0, |m| m.version);
    let applied = applied(conn)?;
    for (version, name, recorded) in &applied {
        match migrations.iter().find(|m| m.version == *version) {
            None => {
                return Err(MigrateError::NewerSchema {
                    path: path.to_path_buf(),
                    found: applied.last().map_or(*version, |a| a.0),
                    known,
                }
                .into());
            }
            Some(m) => {
                let current = checksum(m.sql);
                if &current != recorded {
                    return Err(MigrateError::Changed {
                        path: path.to_path_buf(),
                        version: *version,
                        name: name.clone(),
                        recorded: recorded.clone(),
                        current,
                    }
                    .into());
                }
            }
        }
    }

    let mut count = 0;
    for m in migrations {
        if applied.iter().any(|a| a.0 == m.version) {
            continue;
        }
        let failed = |source| MigrateError::Failed {
            path: path.to_path_buf(),
            version: m.version,
            name: m.name.to_string(),
            source,
        };
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO bangui_migrations (version, name, checksum, applied_at)
             VALUES (?1, ?2, ?3, unixepoch())",
            params![m.version, m.name, checksum(m.sql)],
        )?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied database migration"
        );
        count += 1;
    }
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    Ok(Opened {
        schema_version: known,
        migrations_applied: count,
    })
}

fn applied(conn: &Connection) -> Result<Vec<(u32, String, String)>, rusqlite::Error> {
    let mut stmt =
        conn.prepare("SELECT version, name, checksum FROM bangui_migrations ORDER BY version")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// The newest applied migration of an open database.
pub fn schema_version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.query_row("SELECT max(version) FROM bangui_migrations", [], |r| {
        r.get::<_, Option<u32>>(0)
    })
    .optional()
    .map(|v| v.flatten().unwrap_or(0))
}

/// A fresh database file with every migration applied, for unit tests.
#[cfg(test)]
pub fn temp_db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let path = dir.path().join("t.db");
    let mut conn = Connection::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
    run(&mut conn, MIGRATIONS, &path).unwrap_or_else(|e| panic!("migrate: {e}"));
    (dir, conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Migration = Migration {
        version: 1,
        name: "one",
        sql: "CREATE TABLE a (x INTEGER);",
    };
    const V2: Migration = Migration {
        version: 2,
        name: "two",
        sql: "CREATE TABLE b (y INTEGER);",
    };

    fn open(dir: &tempfile::TempDir) -> (Connection, PathBuf) {
        let path = dir.path().join("t.db");
        (Connection::open(&path).unwrap(), path)
    }

    #[test]
    fn applies_in_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, path) = open(&dir);
        let first = run(&mut conn, &[V1], &path).unwrap();
        assert_eq!((first.schema_version, first.migrations_applied), (1, 1));
        let second = run(&mut conn, &[V1, V2], &path).unwrap();
        assert_eq!((second.schema_version, second.migrations_applied), (2, 1));
        let again = run(&mut conn, &[V1, V2], &path).unwrap();
        assert_eq!(again.migrations_applied, 0);
        assert_eq!(schema_version(&conn).unwrap(), 2);
        let uv: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(uv, 2);
    }

    #[test]
    fn newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, path) = open(&dir);
        run(&mut conn, &[V1, V2], &path).unwrap();
        let err = run(&mut conn, &[V1], &path).unwrap_err().to_string();
        assert!(err.contains("schema version 2"), "{err}");
        assert!(err.contains("up to 1"), "{err}");
    }

    #[test]
    fn changed_migration_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, path) = open(&dir);
        run(&mut conn, &[V1], &path).unwrap();
        let changed = Migration {
            sql: "CREATE TABLE a (x INTEGER, z TEXT);",
            ..V1
        };
        let err = run(&mut conn, &[changed], &path).unwrap_err().to_string();
        assert!(err.contains("migration 1 (one)"), "{err}");
        assert!(err.contains("differs"), "{err}");
    }

    #[test]
    fn failed_migration_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, path) = open(&dir);
        let broken = Migration {
            version: 2,
            name: "broken",
            sql: "CREATE TABLE c (z INTEGER); CREATE TABLE oops (",
        };
        let err = run(&mut conn, &[V1, broken], &path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("migration 2 (broken) failed"), "{err}");
        let c_exists: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'c'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            c_exists, 0,
            "the failed migration's first statement was rolled back"
        );
        assert_eq!(schema_version(&conn).unwrap(), 1);
    }

    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, path) = open(&dir);
        conn.pragma_update(None, "application_id", 42).unwrap();
        let err = run(&mut conn, &[V1], &path).unwrap_err().to_string();
        assert!(err.contains("not a bangui database"), "{err}");
    }

    #[test]
    fn embedded_migrations_are_numbered_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
        assert!(!MIGRATIONS.is_empty());
    }
}
