//! The archive rules for bangui's own rows, on a real database file.

use rusqlite::Connection;

use super::super::source::BanRow;
use super::super::store;
use crate::store::migrate;

fn db() -> (tempfile::TempDir, Connection) {
    migrate::temp_db()
}

fn fail2ban_row(ip: &str, time: i64) -> BanRow {
    BanRow {
        rowid: 1,
        jail: "j".into(),
        ip: ip.into(),
        time_of_ban: time,
        bantime: 600,
        bancount: 1,
        failures: Some(3),
        matches: None,
    }
}

/// (time of ban, origin, unbanned at) of an address's rows, oldest first.
fn rows(conn: &Connection, ip: &str) -> Vec<(i64, String, Option<i64>)> {
    let mut stmt = conn
        .prepare(
            "SELECT time_of_ban, origin, unbanned_at FROM ban_history WHERE ip = ?1
             ORDER BY time_of_ban",
        )
        .unwrap();
    stmt.query_map([ip], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_lifted_ban_and_its_quick_successor_stay_two_bans() {
    let (_dir, mut conn) = db();
    let ip = ["192.0.2.1".to_string()];
    store::record_own_bans(&mut conn, "j", &ip, 1000, 600).unwrap();
    assert_eq!(
        store::record_own_unbans(&mut conn, "j", &ip, 1002).unwrap(),
        1
    );
    store::record_own_bans(&mut conn, "j", &ip, 1003, 600).unwrap();
    // fail2ban's row for the second ban, in the same second as bangui's.
    store::archive_unwatermarked(&mut conn, &[fail2ban_row(&ip[0], 1003)], 2000, 0).unwrap();
    assert_eq!(
        rows(&conn, &ip[0]),
        [
            (1000, "bangui".to_string(), Some(1002)),
            (1003, "fail2ban".to_string(), None)
        ]
    );
}

#[test]
fn the_sync_adopts_the_nearest_own_row_and_its_lift() {
    let (_dir, mut conn) = db();
    let ip = ["192.0.2.2".to_string()];
    store::record_own_bans(&mut conn, "j", &ip, 1001, 600).unwrap();
    store::record_own_unbans(&mut conn, "j", &ip, 1010).unwrap();
    // fail2ban stamped the ban 3 s later than bangui's clock said.
    store::archive_unwatermarked(&mut conn, &[fail2ban_row(&ip[0], 1004)], 2000, 0).unwrap();
    assert_eq!(
        rows(&conn, &ip[0]),
        [(1004, "fail2ban".to_string(), Some(1010))]
    );
    // The same row read again changes nothing.
    store::archive_unwatermarked(&mut conn, &[fail2ban_row(&ip[0], 1004)], 2001, 0).unwrap();
    assert_eq!(rows(&conn, &ip[0]).len(), 1);
}

#[test]
fn a_ban_the_sync_already_copied_is_not_recorded_again() {
    let (_dir, mut conn) = db();
    let ip = ["192.0.2.3".to_string()];
    store::archive_unwatermarked(&mut conn, &[fail2ban_row(&ip[0], 1000)], 2000, 0).unwrap();
    let fresh = store::record_own_bans(&mut conn, "j", &ip, 1002, 600).unwrap();
    assert!(fresh.is_empty());
    assert_eq!(rows(&conn, &ip[0]), [(1000, "fail2ban".to_string(), None)]);
    // A lift marks only a ban still in force.
    assert_eq!(
        store::record_own_unbans(&mut conn, "j", &ip, 1500).unwrap(),
        1
    );
    assert_eq!(
        store::record_own_unbans(&mut conn, "j", &ip, 1501).unwrap(),
        0
    );
    let expired = ["192.0.2.4".to_string()];
    store::record_own_bans(&mut conn, "j", &expired, 1000, 600).unwrap();
    assert_eq!(
        store::record_own_unbans(&mut conn, "j", &expired, 5000).unwrap(),
        0
    );
}
