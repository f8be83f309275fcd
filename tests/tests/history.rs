//! Ban history end to end: a real fail2ban-server's database copied by
//! history_sync, and crafted fail2ban databases for the edge cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use bangui_tests::fail2ban::Fail2banConf;
use bangui_tests::geo::write_country_db;
use bangui_tests::{Daemon, Home, describe, wait_for};
use rusqlite::Connection;
use serde_json::Value;

const JAIL: &str = "web";

fn sync(daemon: &Daemon) -> Value {
    let out = daemon.ctl(&["--json", "jobs", "run", "history_sync", "--wait"]);
    let answer: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)));
    answer["run"].clone()
}

fn archived(home: &Home) -> Vec<(String, String, i64)> {
    let conn = Connection::open(home.database()).unwrap();
    let mut stmt = conn
        .prepare("SELECT jail, ip, time_of_ban FROM ban_history ORDER BY ip, time_of_ban")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A daemon reading a real fail2ban (jail `web`); history_sync only by hand.
fn live() -> (
    Home,
    Fail2banConf,
    bangui_tests::fail2ban::Fail2banServer,
    Daemon,
) {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail(JAIL, "bantime = 600");
    home.write_config(&format!(
        "{}\n[jobs.history_sync]\nenabled = false\n[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section()
    ));
    let daemon = home.start();
    let server = conf.start();
    (home, conf, server, daemon)
}

fn ban(server: &bangui_tests::fail2ban::Fail2banServer, ips: &[&str]) {
    let mut args = vec!["set", JAIL, "banip"];
    args.extend_from_slice(ips);
    server.client(&args).unwrap();
    for ip in ips {
        wait_for("fail2ban to store the ban", || {
            server.has_stored(JAIL, ip).then_some(())
        });
    }
}

#[test]
fn bans_made_by_fail2ban_reach_the_archive_once() {
    let (home, conf, server, daemon) = live();
    ban(&server, &["11.20.0.1", "11.20.0.2"]);
    let run = sync(&daemon);
    assert_eq!(run["outcome"], "ok", "{run}");
    assert!(
        run["summary"]
            .as_str()
            .unwrap()
            .starts_with("copied 2 new ban(s)"),
        "{run}"
    );
    let page = daemon.ctl_json(&["history", "list"]);
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r["jail"], JAIL);
        assert_eq!(r["bantime"], 600);
        assert!(r["time_of_ban"].as_i64().unwrap() > 1_700_000_000);
    }

    // Twice, and after a restart: no duplicates.
    assert!(
        sync(&daemon)["summary"]
            .as_str()
            .unwrap()
            .starts_with("copied 0 new")
    );
    daemon.stop();
    let daemon = home.start();
    sync(&daemon);
    assert_eq!(archived(&home).len(), 2);

    // fail2ban purges a row: the archive keeps it; new bans still arrive.
    server.stop();
    let f2b = Connection::open(conf.run.join("fail2ban.sqlite3")).unwrap();
    f2b.execute("DELETE FROM bans WHERE ip = '11.20.0.1'", [])
        .unwrap();
    drop(f2b);
    let server = conf.start();
    ban(&server, &["11.20.0.3"]);
    let run = sync(&daemon);
    assert!(
        run["summary"].as_str().unwrap().starts_with("copied 1 new"),
        "{run}"
    );
    let ips: Vec<String> = archived(&home).into_iter().map(|(_, ip, _)| ip).collect();
    assert_eq!(ips, ["11.20.0.1", "11.20.0.2", "11.20.0.3"]);

    // A reset database (fail2ban started afresh): copied again, nothing doubled.
    server.stop();
    conf.wipe_database();
    let server = conf.start();
    ban(&server, &["11.20.0.4"]);
    let run = sync(&daemon);
    assert_eq!(run["outcome"], "ok", "{run}");
    let rows = archived(&home);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(daemon.log_text().contains("copying it again"));
    let ip = daemon.ctl_json(&["history", "ip", "11.20.0.4"]);
    assert_eq!(ip["total_bans"], 1);
    assert_eq!(ip["bans"][0]["jail"], JAIL);
}

/// A fail2ban-format database with `rows` of (jail, ip, time of ban).
fn craft(path: &Path, version: i64, rows: &[(&str, &str, i64)]) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE fail2banDb(version INTEGER);
         CREATE TABLE jails(name TEXT NOT NULL UNIQUE, enabled INTEGER NOT NULL DEFAULT 1);
         CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL,
             bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON);
         CREATE TABLE bips(ip TEXT NOT NULL, jail TEXT NOT NULL, timeofban INTEGER NOT NULL,
             bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON,
             PRIMARY KEY(ip, jail));",
    )
    .unwrap();
    conn.execute("INSERT INTO fail2banDb VALUES (?1)", [version])
        .unwrap();
    for (jail, ip, t) in rows {
        conn.execute(
            "INSERT INTO bans (jail, ip, timeofban, bantime, bancount, data)
             VALUES (?1, ?2, ?3, 3600, 1, '{\"matches\": [\"sshd: failed\"], \"failures\": 5}')",
            rusqlite::params![jail, ip, t],
        )
        .unwrap();
    }
}

fn offline(home: &Home, database: &Path, extra: &str) -> Daemon {
    home.write_config(&format!(
        "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\nfirewall = \"stock\"\ndatabase = {:?}\n{extra}\n[jobs.history_sync]\nenabled = false\n",
        home.path().join("none.sock").display().to_string(),
        home.path().join("none").display().to_string(),
        database.display().to_string()
    ));
    home.start()
}

#[test]
fn an_unknown_schema_a_missing_file_and_a_locked_database_say_so() {
    let home = Home::new();
    let db = home.path().join("f2b.sqlite3");
    let daemon = offline(&home, &db, "");
    let run = sync(&daemon);
    assert_eq!(run["outcome"], "ok");
    assert!(
        run["summary"].as_str().unwrap().contains("does not exist"),
        "{run}"
    );
    let stats = daemon.ctl_json(&["history", "stats"]);
    assert_eq!(stats["sync"]["status"], "missing");

    craft(&db, 99, &[("sshd", "11.21.0.1", 1_700_000_000)]);
    let run = sync(&daemon);
    assert_eq!(run["outcome"], "failed", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("schema version 99"),
        "{run}"
    );
    assert_eq!(
        daemon.ctl_json(&["history", "stats"])["sync"]["status"],
        "unknown-schema"
    );
    assert!(archived(&home).is_empty(), "nothing read");

    std::fs::remove_file(&db).unwrap();
    let recent = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 100;
    craft(&db, 4, &[("sshd", "11.21.0.1", recent)]);
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let run = sync(&daemon);
    assert_eq!(run["outcome"], "ok", "{run}");
    assert!(run["summary"].as_str().unwrap().contains("locked"), "{run}");
    assert_eq!(
        daemon.ctl_json(&["history", "stats"])["sync"]["status"],
        "locked"
    );
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    let run = sync(&daemon);
    assert!(
        run["summary"].as_str().unwrap().starts_with("copied 1 new"),
        "{run}"
    );
    assert_eq!(
        daemon.ctl_json(&["history", "stats"])["sync"]["status"],
        "ok"
    );
}

#[test]
fn queries_and_statistics_match_a_known_fixture() {
    let home = Home::new();
    let db = home.path().join("f2b.sqlite3");
    let day = 86_400;
    // Midnight UTC 30 days ago: inside the default retention whenever this runs.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t0 = (now / day - 30) * day;
    let first_day: String = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t0 as u64),
    )
    .to_string()
    .chars()
    .take(10)
    .collect();
    craft(
        &db,
        4,
        &[
            ("sshd", "11.30.0.1", t0),
            ("sshd", "11.30.0.1", t0 + 100),
            ("sshd", "11.30.0.2", t0 + 200),
            ("nginx", "11.30.0.1", t0 + day),
            ("nginx", "11.31.0.1", t0 + day + 5),
            ("postfix", "2a00:1450::1", t0 + 2 * day),
        ],
    );
    let country = home.path().join("Country.mmdb");
    write_country_db(
        &country,
        &[
            ("11.30.0.0/16", "DE", "Germany"),
            ("11.31.0.0/16", "FR", "France"),
        ],
    );
    let daemon = offline(
        &home,
        &db,
        &format!(
            "[geo]\noffline = true\nmaxmind_db = {:?}\nmaxmind_asn_db = \"\"\n",
            country.display().to_string()
        ),
    );
    let run = sync(&daemon);
    assert!(
        run["summary"].as_str().unwrap().starts_with("copied 6 new"),
        "{run}"
    );
    // The background queue resolves the new addresses.
    wait_for("geo answers for the history", || {
        (daemon.ctl_json(&["geo", "stats"])["resolved"] == 3).then_some(())
    });

    let by_jail = daemon.ctl_json(&["history", "stats", "--by", "jail"]);
    assert_eq!(by_jail["total_bans"], 6);
    assert_eq!(by_jail["total_addresses"], 4);
    let groups: Vec<(String, u64, u64)> = by_jail["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().into(),
                g["bans"].as_u64().unwrap(),
                g["addresses"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("sshd".into(), 3, 2),
            ("nginx".into(), 2, 2),
            ("postfix".into(), 1, 1)
        ]
    );
    let by_country = daemon.ctl_json(&["history", "stats", "--by", "country"]);
    let keys: Vec<(String, u64)> = by_country["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().into(),
                g["bans"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [("DE".into(), 4), ("FR".into(), 1), ("unknown".into(), 1)]
    );
    let by_day = daemon.ctl_json(&["history", "stats", "--by", "day"]);
    assert_eq!(by_day["groups"][0]["key"], first_day.as_str());
    assert_eq!(by_day["groups"][0]["bans"], 3);
    let top = daemon.ctl_json(&["history", "top", "--by", "ip", "--limit", "1"]);
    assert_eq!(top["groups"][0]["key"], "11.30.0.1");
    assert_eq!(top["groups"][0]["bans"], 3);

    let since = daemon.ctl_json(&["history", "list", "--since", &(t0 + day).to_string()]);
    assert_eq!(since["rows"].as_array().unwrap().len(), 3);
    let de = daemon.ctl_json(&["history", "list", "--country", "de", "--jail", "sshd"]);
    assert_eq!(de["rows"].as_array().unwrap().len(), 3);
    assert_eq!(de["rows"][0]["country_code"], "DE");
    let first = daemon.ctl_json(&["history", "list", "--limit", "4"]);
    assert_eq!(first["rows"].as_array().unwrap().len(), 4);
    let next = first["next_before_id"].as_u64().unwrap();
    let second = daemon.ctl_json(&[
        "history",
        "list",
        "--limit",
        "4",
        "--before",
        &next.to_string(),
    ]);
    assert_eq!(second["rows"].as_array().unwrap().len(), 2);
    assert_eq!(second["next_before_id"], Value::Null);
    let ip = daemon.ctl_json(&["history", "ip", "11.30.0.1"]);
    assert_eq!(ip["total_bans"], 3);
    assert_eq!(ip["geo"]["country_code"], "DE");

    let bad = daemon.ctl(&["history", "stats", "--by", "colour"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = daemon.ctl(&["history", "list", "--since", "yesterday-ish"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn old_bans_are_rolled_up_and_still_counted() {
    let home = Home::new();
    let db = home.path().join("f2b.sqlite3");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let old = now - 40 * 86_400;
    craft(
        &db,
        4,
        &[
            ("sshd", "11.40.0.1", old),
            ("sshd", "11.40.0.2", old + 10),
            ("sshd", "11.40.0.3", now - 60),
        ],
    );
    // Archived while young enough, then the retention shrinks to 30 days.
    let daemon = offline(&home, &db, "");
    sync(&daemon);
    assert_eq!(archived(&home).len(), 3);
    daemon.stop();
    let daemon = offline(&home, &db, "[history]\nretention_days = 30\n");
    sync(&daemon);
    // Raw rows past 30 days are gone; the counts stay.
    assert_eq!(archived(&home).len(), 1);
    let list = daemon.ctl_json(&["history", "list"]);
    assert_eq!(list["rows"].as_array().unwrap().len(), 1);
    let stats = daemon.ctl_json(&["history", "stats", "--by", "jail"]);
    assert_eq!(stats["groups"][0]["key"], "sshd");
    assert_eq!(stats["groups"][0]["bans"], 3, "{stats}");
    let conn = Connection::open(home.database()).unwrap();
    let auto_vacuum: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        .unwrap();
    assert_eq!(auto_vacuum, 2, "incremental, so pruning can return space");
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(free, 0, "pruned pages handed back");
    let rolled: i64 = conn
        .query_row("SELECT sum(bans) FROM history_daily", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rolled, 2);
    // Read again from the start (a moved database): the pruned rows are not
    // archived or counted twice.
    daemon.stop();
    let moved = home.path().join("moved.sqlite3");
    std::fs::rename(&db, &moved).unwrap();
    let daemon = offline(&home, &moved, "[history]\nretention_days = 30\n");
    sync(&daemon);
    assert_eq!(archived(&home).len(), 1);
    let stats = daemon.ctl_json(&["history", "stats", "--by", "jail"]);
    assert_eq!(stats["groups"][0]["bans"], 3);
}

#[test]
fn syncing_every_second_does_not_lock_fail2ban_out() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    home.write_config(&format!(
        "{}\n[jobs.history_sync]\ninterval = \"1s\"\n[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section()
    ));
    let daemon = home.start();
    let server = conf.start();
    daemon.wait_fail2ban_up();
    let list = bangui_tests::fail2ban::addresses(20_000).join("\n");
    let out = daemon.ctl_with(&["ban", "-"], Some(&list));
    assert!(out.status.success(), "{}", describe(&out));
    // fail2ban stores every ban while history_sync reads every second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (distinct, _) = server.stored_bans("bangui-manual");
        if distinct == 20_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fail2ban stored only {distinct} bans"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(server.log_lines("database is locked"), 0);
    assert_eq!(server.log_lines("Traceback"), 0);
    wait_for("the archive to catch up", || {
        (archived(&home).len() == 20_000).then_some(())
    });
}
