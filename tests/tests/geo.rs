//! Geo-IP end to end: MaxMind files written by a real MMDB writer, a loopback
//! server standing in for ip-api.com, and the real daemon and ctl.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use bangui_tests::fail2ban::Fail2banConf;
use bangui_tests::geo::{FakeIpApi, Reply, Trouble, write_asn_db, write_country_db};
use bangui_tests::{Daemon, Home, describe, stderr, stdout, wait_for};
use serde_json::Value;

const MINUTE: Duration = Duration::from_secs(60);

struct Files {
    country: PathBuf,
    asn: PathBuf,
}

fn maxmind(home: &Home) -> Files {
    let files = Files {
        country: home.path().join("Country.mmdb"),
        asn: home.path().join("ASN.mmdb"),
    };
    write_country_db(
        &files.country,
        &[
            ("11.1.0.0/16", "DE", "Germany"),
            ("2a00:1450::/32", "US", "United States"),
        ],
    );
    write_asn_db(&files.asn, &[("11.1.0.0/16", 64_501, "Example Net")]);
    files
}

/// A [geo] section using `files` and the fake at `url`.
fn geo_section(files: &Files, url: &str, extra: &str) -> String {
    format!(
        "[geo]\nmaxmind_db = {:?}\nmaxmind_asn_db = {:?}\nip_api_url = {url:?}\n{extra}\n",
        files.country.display().to_string(),
        files.asn.display().to_string()
    )
}

/// A home with MaxMind files and an ip-api stand-in (15 a minute), configured with `extra` [geo] keys.
fn rig(extra: &str) -> (Home, Files, FakeIpApi) {
    let home = Home::new();
    let files = maxmind(&home);
    let fake = FakeIpApi::start(15, MINUTE);
    home.write_config(&geo_section(&files, &fake.url(), extra));
    (home, files, fake)
}

fn lookup(daemon: &Daemon, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json", "geo", "lookup"];
    all.extend_from_slice(args);
    let out = daemon.ctl(&all);
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn one(daemon: &Daemon, args: &[&str]) -> Value {
    lookup(daemon, args).remove(0)
}

fn run_job(daemon: &Daemon, job: &str) -> Value {
    let out = daemon.ctl(&["--json", "jobs", "run", job, "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["run"].clone()
}

fn db_count(home: &Home, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(home.database()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn maxmind_answers_first_and_misses_fall_through_to_ip_api() {
    let (home, _, fake) = rig("");
    let daemon = home.start();

    let v4 = one(&daemon, &["11.1.2.3"]);
    assert_eq!(v4["country_code"], "DE");
    assert_eq!(v4["country"], "Germany");
    assert_eq!(v4["asn"], 64_501);
    assert_eq!(v4["org"], "Example Net");
    assert_eq!(v4["source"], "maxmind");
    let v6 = one(&daemon, &["2a00:1450:4001::5"]);
    assert_eq!(v6["country_code"], "US");
    assert_eq!(v6["source"], "maxmind");
    // IPv4-mapped IPv6 is the IPv4 address.
    assert_eq!(one(&daemon, &["::ffff:11.1.2.3"])["address"], "11.1.2.3");
    // Private ranges never leave the host.
    let private = one(&daemon, &["10.1.2.3"]);
    assert_eq!(private["status"], "not-routable");
    assert_eq!(private["source"], "local");
    // Not in MaxMind, no --remote: nothing sent.
    let miss = one(&daemon, &["11.9.9.9"]);
    assert_eq!(miss["status"], "unresolved");
    assert_eq!(fake.requests(), 0);

    let remote = one(&daemon, &["--remote", "11.9.9.9"]);
    assert_eq!(remote["status"], "resolved", "{remote}");
    assert_eq!(remote["source"], "ip-api");
    assert_eq!(remote["country_code"], "IS");
    assert_eq!(remote["asn"], 64_500);
    assert_eq!(fake.requests(), 1);
    // MaxMind hits and cached answers are not sent again.
    one(&daemon, &["--remote", "11.1.2.3", "11.9.9.9"]);
    assert_eq!(fake.requests(), 1);

    let stats = daemon.ctl_json(&["geo", "stats"]);
    assert_eq!(stats["ip_api"]["requests"], 1);
    assert_eq!(stats["ip_api"]["budget_left"], 14);
    assert_eq!(stats["maxmind"][0]["state"], "loaded");
    assert_eq!(stats["maxmind"][0]["database_type"], "GeoLite2-Country");
    assert_eq!(stats["maxmind"][1]["database_type"], "GeoLite2-ASN");
    assert!(stats["maxmind_hits"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["cache_hits"].as_u64().unwrap() >= 2, "{stats}");

    let text = daemon.ctl(&["geo", "lookup", "11.1.2.3", "nonsense"]);
    assert_eq!(text.status.code(), Some(2), "{}", describe(&text));
    assert!(stderr(&text).contains("`nonsense` is not an IP address"));
    let table = daemon.ctl(&["geo", "lookup", "11.1.2.3"]);
    assert!(stdout(&table).contains("Germany"), "{}", describe(&table));
}

#[test]
fn offline_mode_makes_no_requests_at_all() {
    let (home, _, fake) = rig("offline = true");
    let daemon = home.start();
    let out = daemon.ctl(&["geo", "lookup", "--remote", "11.9.9.9"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("offline"), "{}", describe(&out));
    daemon.stop();

    seed_unresolved(&home, &["11.9.9.1", "11.9.9.2"]);
    let daemon = home.start();
    daemon.wait_log("addresses without a country in the geo cache");
    let run = run_job(&daemon, "geo_re_resolve");
    assert_eq!(run["outcome"], "ok", "{run}");
    assert_eq!(fake.requests(), 0);
    assert_eq!(
        daemon.ctl_json(&["geo", "stats"])["ip_api"]["offline"],
        true
    );
}

/// Puts unresolved rows into the (stopped) daemon's database.
fn seed_unresolved(home: &Home, ips: &[&str]) {
    let mut conn = rusqlite::Connection::open(home.database()).unwrap();
    let tx = conn.transaction().unwrap();
    for ip in ips {
        tx.execute(
            "INSERT INTO geo_cache (ip, source, attempts, updated_at) VALUES (?1, 'none', 1, 1700000000)",
            [ip],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn two_thousand_unresolved_addresses_stay_within_the_rate_limit() {
    // A three-second window stands in for the service's minute; the daemon's
    // limiter runs the same code with the shorter window.
    let window = Duration::from_secs(3);
    let home = Home::new();
    let files = maxmind(&home);
    let fake = FakeIpApi::start(15, window);
    home.write_config(&geo_section(&files, &fake.url(), ""));
    // Create the database, then seed it.
    home.start().stop();
    let ips: Vec<String> = (0..2000)
        .map(|i| format!("11.2.{}.{}", i / 250, i % 250 + 1))
        .collect();
    seed_unresolved(&home, &ips.iter().map(String::as_str).collect::<Vec<_>>());
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_TEST_GEO_WINDOW_MS", "3000");
    });
    assert_eq!(daemon.ctl_json(&["geo", "stats"])["unresolved"], 2000);

    let run = run_job(&daemon, "geo_re_resolve");
    assert_eq!(run["outcome"], "ok", "{run}");
    assert!(
        run["summary"]
            .as_str()
            .unwrap()
            .starts_with("retried 2000, resolved 2000"),
        "{run}"
    );
    let log = fake.log();
    assert_eq!(log.len(), 20, "100 addresses per request");
    assert!(log.iter().all(|(_, n)| *n <= 100));
    assert!(
        fake.max_in_window(window) <= 15,
        "{} in one window",
        fake.max_in_window(window)
    );
    assert_eq!(fake.over_limit(), 0);
    let stats = daemon.ctl_json(&["geo", "stats"]);
    assert_eq!(stats["unresolved"], 0, "{stats}");
    assert_eq!(stats["resolved"], 2000);
}

#[test]
fn zero_budget_and_429_both_pause_until_the_window_resets() {
    let (home, _, fake) = rig("");
    let daemon = home.start();

    fake.trouble(Trouble::ZeroLeft(2));
    assert_eq!(
        one(&daemon, &["--remote", "11.9.0.1"])["status"],
        "resolved"
    );
    let stats = daemon.ctl_json(&["geo", "stats"]);
    assert_eq!(stats["ip_api"]["budget_left"], 0, "{stats}");
    assert!(stats["ip_api"]["next_window_secs"].as_u64().unwrap() >= 2);
    assert_eq!(
        one(&daemon, &["--remote", "11.9.0.2"])["status"],
        "resolved"
    );
    let log = fake.log();
    assert!(
        log[1].0.duration_since(log[0].0) >= Duration::from_secs(2),
        "sent {:?} after X-Rl: 0 with X-Ttl: 2",
        log[1].0.duration_since(log[0].0)
    );

    fake.trouble(Trouble::TooMany(2));
    let refused = one(&daemon, &["--remote", "11.9.0.3"]);
    assert_eq!(refused["status"], "unresolved");
    assert!(
        refused["reason"].as_str().unwrap().contains("429"),
        "{refused}"
    );
    assert_eq!(
        one(&daemon, &["--remote", "11.9.0.4"])["status"],
        "resolved"
    );
    let log = fake.log();
    assert_eq!(log.len(), 4);
    assert!(
        log[3].0.duration_since(log[2].0) >= Duration::from_secs(2),
        "sent {:?} after a 429",
        log[3].0.duration_since(log[2].0)
    );
}

#[test]
fn failures_are_retried_by_geo_re_resolve_and_then_resolve() {
    let (home, _, fake) = rig("");
    let daemon = home.start();

    fake.trouble(Trouble::Status(500));
    let failed = one(&daemon, &["--remote", "11.9.1.1"]);
    assert_eq!(failed["status"], "unresolved");
    assert!(
        failed["reason"].as_str().unwrap().contains("HTTP 500"),
        "{failed}"
    );
    assert_eq!(failed["attempts"], 1);

    fake.set("11.9.1.2", Reply::Fail("reserved range".into()));
    let refused = one(&daemon, &["--remote", "11.9.1.2"]);
    assert_eq!(refused["status"], "unresolved");
    assert_eq!(refused["reason"], "ip-api: reserved range");

    let unresolved = daemon.ctl_json(&["geo", "unresolved"]);
    assert_eq!(unresolved.as_array().unwrap().len(), 2, "{unresolved}");

    fake.set(
        "11.9.1.2",
        Reply::Success {
            code: "NO".into(),
            country: "Norway".into(),
            asn: 64_600,
            org: "Fjord Net".into(),
        },
    );
    let run = run_job(&daemon, "geo_re_resolve");
    assert!(
        run["summary"]
            .as_str()
            .unwrap()
            .starts_with("retried 2, resolved 2"),
        "{run}"
    );
    let now = one(&daemon, &["11.9.1.2"]);
    assert_eq!(now["country"], "Norway");
    assert_eq!(now["attempts"], 0);
    assert_eq!(one(&daemon, &["11.9.1.1"])["status"], "resolved");
    assert!(
        daemon
            .ctl_json(&["geo", "unresolved"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn flushed_entries_survive_restart_and_sigterm_flushes_the_rest() {
    let (home, files, _fake) = rig("");
    let daemon = home.start();

    // A plain lookup stores nothing; an administrator's --remote lookup keeps its answers.
    lookup(&daemon, &["11.1.0.1", "11.1.0.2", "2a00:1450::1"]);
    assert_eq!(daemon.ctl_json(&["geo", "stats"])["entries"], 0);
    lookup(
        &daemon,
        &["--remote", "11.1.0.1", "11.1.0.2", "2a00:1450::1"],
    );
    assert_eq!(daemon.ctl_json(&["geo", "stats"])["dirty"], 3);
    let flushed = daemon.ctl_json(&["geo", "flush"]);
    assert_eq!(flushed["written"], 3);
    assert_eq!(daemon.ctl_json(&["geo", "stats"])["dirty"], 0);
    assert_eq!(
        db_count(
            &home,
            "SELECT count(*) FROM geo WHERE country_code IS NOT NULL"
        ),
        3
    );

    // kill -9 after a flush: the flushed entries are all there.
    lookup(&daemon, &["--remote", "11.1.0.3"]);
    daemon.kill();
    let daemon = home.start();
    let stats = daemon.ctl_json(&["geo", "stats"]);
    assert_eq!(
        stats["entries"], 3,
        "the unflushed entry is the one lost: {stats}"
    );

    // SIGTERM with dirty entries: the final flush writes them.
    lookup(&daemon, &["11.1.0.3", "11.1.0.4", "--remote", "11.9.2.1"]);
    assert_eq!(daemon.ctl_json(&["geo", "stats"])["dirty"], 3);
    assert!(daemon.stop().success());
    assert_eq!(db_count(&home, "SELECT count(*) FROM geo_cache"), 6);
    assert_eq!(
        db_count(
            &home,
            "SELECT count(*) FROM geo WHERE ip = '11.9.2.1' AND source = 'ip-api' AND country_code IS NOT NULL"
        ),
        1
    );

    // After a restart the answers come from the cache, even with MaxMind gone.
    std::fs::remove_file(&files.country).unwrap();
    let daemon = home.start();
    let cached = one(&daemon, &["11.1.0.4"]);
    assert_eq!(cached["country_code"], "DE");
    assert_eq!(cached["org"], "Example Net");
    let forgot = daemon.ctl_json(&["geo", "forget", "11.1.0.4"]);
    assert_eq!(forgot["forgotten"], 1);
    assert_eq!(
        db_count(
            &home,
            "SELECT count(*) FROM geo_cache WHERE ip = '11.1.0.4'"
        ),
        0
    );
    assert_eq!(
        daemon.ctl_json(&["geo", "stats"])["maxmind"][0]["state"],
        "missing"
    );
}

#[test]
fn a_replaced_maxmind_file_is_used_without_restart_and_a_corrupt_one_is_survived() {
    let home = Home::new();
    let files = maxmind(&home);
    home.write_config(&geo_section(&files, "http://127.0.0.1:9", "ip_api = false"));
    let daemon = home.start();
    // Kept (an administrator's --remote lookup); plain lookups are not stored.
    assert_eq!(
        one(&daemon, &["--remote", "11.1.0.1"])["country_code"],
        "DE"
    );

    write_country_db(&files.country, &[("11.1.0.0/16", "IT", "Italy")]);
    assert_eq!(one(&daemon, &["11.1.0.2"])["country_code"], "IT");
    // The cached answer from the old file follows the new file too.
    assert_eq!(one(&daemon, &["11.1.0.1"])["country_code"], "IT");
    daemon.wait_log("cached MaxMind answers checked against the new file");

    bangui_tests::geo::replace(&files.country, b"this is not a MaxMind database");
    assert_eq!(
        one(&daemon, &["11.1.0.3"])["country_code"],
        "IT",
        "the open copy stays in use"
    );
    let stats = daemon.ctl_json(&["geo", "stats"]);
    assert_eq!(stats["maxmind"][0]["state"], "unreadable", "{stats}");
    daemon.wait_log("MaxMind country database cannot be read");
    daemon.stop();

    // Starting with a corrupt file: a warning, and the daemon carries on.
    let daemon = home.start();
    daemon.wait_log("carrying on without it");
    assert_eq!(one(&daemon, &["11.1.0.9"])["status"], "unresolved");
    assert_eq!(one(&daemon, &["11.1.0.1"])["country_code"], "IT");
}

#[test]
fn bad_ip_api_answers_leave_addresses_unresolved() {
    let (home, _, fake) = rig("ip_api_timeout = \"1s\"");
    let daemon = home.start();
    for (trouble, needle) in [
        (Trouble::Malformed, "not the expected JSON"),
        (Trouble::WrongCount, "answered 1 entries for 2 addresses"),
        (Trouble::Stall, "did not answer within"),
        (Trouble::Status(503), "HTTP 503"),
    ] {
        fake.trouble(trouble.clone());
        let n = fake.requests();
        let answers = lookup(
            &daemon,
            &[
                "--remote",
                &format!("11.9.3.{}", 2 * n + 1),
                &format!("11.9.3.{}", 2 * n + 2),
            ],
        );
        for a in &answers {
            assert_eq!(a["status"], "unresolved", "{trouble:?}: {a}");
            assert!(
                a["reason"].as_str().unwrap().contains(needle),
                "{trouble:?}: {a}"
            );
        }
    }
    assert_eq!(daemon.ctl_json(&["geo", "stats"])["unresolved"], 8);
    assert!(daemon.ctl(&["ping"]).status.success());
}

#[test]
fn banned_addresses_are_resolved_in_the_background() {
    let home = Home::new();
    let files = maxmind(&home);
    let conf = Fail2banConf::new(&home);
    home.write_config(&format!(
        "{}{}[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section(),
        geo_section(&files, "http://127.0.0.1:9", "ip_api = false")
    ));
    let daemon = home.start();
    let _server = conf.start();
    daemon.wait_fail2ban_up();
    let out = daemon.ctl(&["ban", "11.1.7.7", "2a00:1450::7"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stats = wait_for("the queue to resolve the bans", || {
        let s = daemon.ctl_json(&["geo", "stats"]);
        (s["resolved"] == 2).then_some(s)
    });
    assert_eq!(stats["lookups"], 2, "{stats}");
    assert_eq!(
        daemon
            .ctl_json(&["geo", "unresolved"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
