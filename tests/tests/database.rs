//! Databases the daemon must refuse to start on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::{Home, describe, stderr};

fn prepared_home() -> Home {
    let home = Home::new();
    let daemon = home.start();
    assert!(daemon.stop().success());
    home
}

#[test]
fn a_database_from_a_newer_bangui_stops_start_up() {
    let home = prepared_home();
    let conn = rusqlite::Connection::open(home.database()).unwrap();
    conn.execute(
        "INSERT INTO bangui_migrations (version, name, checksum, applied_at) VALUES (99, 'future', 'x', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let out = home.run_to_exit();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("schema version 99"), "{err}");
    assert!(err.contains("newer bangui"), "{err}");
    assert!(!home.socket().exists(), "no socket is bound");
}

#[test]
fn a_changed_migration_stops_start_up() {
    let home = prepared_home();
    let conn = rusqlite::Connection::open(home.database()).unwrap();
    conn.execute(
        "UPDATE bangui_migrations SET checksum = 'edited' WHERE version = 1",
        [],
    )
    .unwrap();
    drop(conn);
    let out = home.run_to_exit();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("migration 1 (job_runs)"), "{err}");
    assert!(err.contains("differs"), "{err}");
}

#[test]
fn a_foreign_sqlite_file_is_not_touched() {
    let home = Home::new();
    std::fs::create_dir_all(home.state_dir()).unwrap();
    let conn = rusqlite::Connection::open(home.database()).unwrap();
    conn.execute_batch("PRAGMA application_id = 7; CREATE TABLE theirs (x);")
        .unwrap();
    drop(conn);
    let out = home.run_to_exit();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("not a bangui database"),
        "{}",
        describe(&out)
    );
}
