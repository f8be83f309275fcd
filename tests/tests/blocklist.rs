//! Blocklist imports end to end: the real daemon, a real fail2ban-server, lists
//! served over loopback HTTP, and a relay that counts the ban requests that
//! reach fail2ban.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use bangui_tests::fail2ban::{Fail2banConf, Fail2banServer, Relay};
use bangui_tests::lists::{ListServer, Serve};
use bangui_tests::{Daemon, Home, describe, stderr, stdout, wait_for};
use serde_json::Value;

const JAIL: &str = "bangui-blocklist";

struct Rig {
    home: Home,
    conf: Fail2banConf,
    server: Option<Fail2banServer>,
    relay: Relay,
    lists: ListServer,
    daemon: Option<Daemon>,
}

/// A daemon, fail2ban behind a counting relay, and a list server. The
/// scheduled import job is off: tests run imports by hand.
fn rig(fail2ban_keys: &str, extra: &str) -> Rig {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    let relay_socket = home.path().join("relay.sock");
    home.write_config(&format!(
        "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\nfirewall = \"stock\"\n{fail2ban_keys}\n{extra}\n\
         [jobs.health_check]\ninterval = \"1s\"\n[jobs.blocklist_import]\nenabled = false\n",
        relay_socket.display().to_string(),
        conf.dir.display().to_string(),
    ));
    // The daemon writes the jail files; fail2ban then starts with them.
    let daemon = home.start();
    let server = conf.start();
    let relay = Relay::start(conf.socket(), relay_socket);
    daemon.wait_fail2ban_up();
    Rig {
        home,
        conf,
        server: Some(server),
        relay,
        lists: ListServer::start(),
        daemon: Some(daemon),
    }
}

impl Rig {
    fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().unwrap()
    }

    fn server(&self) -> &Fail2banServer {
        self.server.as_ref().unwrap()
    }

    fn add(&self, name: &str, path: &str) {
        let out = self
            .daemon()
            .ctl(&["blocklist", "add", name, &self.lists.url(path), "--local"]);
        assert!(out.status.success(), "{}", describe(&out));
    }

    /// `blocklist run NAME --wait --json`: the one run's record.
    fn run(&self, name: &str) -> Value {
        let out = self
            .daemon()
            .ctl(&["--json", "blocklist", "run", name, "--wait"]);
        let runs: Vec<Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)));
        assert_eq!(runs.len(), 1, "{}", describe(&out));
        runs.into_iter().next().unwrap()
    }

    fn banned(&self) -> BTreeSet<String> {
        self.server().banned(JAIL).into_iter().collect()
    }

    fn restart_daemon(&mut self) {
        let daemon = self.home.start();
        daemon.wait_fail2ban_up();
        self.daemon = Some(daemon);
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_import_bans_exactly_the_valid_allowed_entries() {
    let r = rig("", "[allowlist]\nnetworks = [\"11.99.0.0/16\"]\n");
    r.lists.set(
        "mixed.txt",
        Serve::Text {
            body: "\u{feff}# a mixed list\r\n\
                11.1.0.1\r\n\
                11.1.0.2 ; inline comment\r\n\
                11.1.0.1\r\n\
                2a00:1450::1\textra column\r\n\
                11.2.0.0/24\r\n\
                10.0.0.7\r\n\
                11.99.1.1\r\n\
                127.0.0.1\r\n\
                0.0.0.0/4\r\n\
                not an address\r\n\
                11.1.0.300\r\n\
                \r\n"
                .as_bytes()
                .to_vec(),
            etag: false,
            gzip: true,
        },
    );
    r.add("mixed", "mixed.txt");
    let run = r.run("mixed");
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["entries"], 7, "{run}");
    assert_eq!(run["duplicates"], 1);
    assert_eq!(run["invalid"], 2);
    assert_eq!(run["too_broad"], 1);
    assert_eq!(run["refused"], 3);
    let by: Vec<(String, u64)> = run["refused_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["reason"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by,
        [
            ("allowlist".into(), 1),
            ("loopback".into(), 1),
            ("private".into(), 1)
        ]
    );
    assert_eq!(run["samples"].as_array().unwrap().len(), 3);
    assert!(
        run["samples"][1]
            .as_str()
            .unwrap()
            .contains("not an address"),
        "{run}"
    );
    assert_eq!(run["to_ban"], 4);
    assert_eq!(run["banned"], 4);
    assert!(run["download"].as_str().unwrap().starts_with("HTTP 200"));
    assert_eq!(
        r.banned(),
        set(&["11.1.0.1", "11.1.0.2", "2a00:1450::1", "11.2.0.0/24"])
    );
    let show = r.daemon().ctl_json(&["blocklist", "show", "mixed"]);
    assert_eq!(show["listed"], 4);
    assert_eq!(show["banned"], 4);
    assert_eq!(show["last_run"]["status"], "completed");
}

#[test]
fn the_same_content_again_sends_nothing_and_so_does_a_304() {
    let r = rig("", "");
    let list: Vec<String> = (1..=300)
        .map(|i| format!("11.3.{}.{}", i / 250, i % 250 + 1))
        .collect();
    r.lists.set(
        "plain.txt",
        Serve::Text {
            body: list.join("\n").into_bytes(),
            etag: false,
            gzip: false,
        },
    );
    r.lists.set_lines("tagged.txt", &list);
    r.add("plain", "plain.txt");
    r.add("tagged", "tagged.txt");

    let first = r.run("plain");
    assert_eq!(first["banned"], 300);
    let (bans, _) = r.relay.counts();
    assert!(bans >= 1);

    let again = r.run("plain");
    assert_eq!(again["status"], "unchanged", "{again}");
    assert_eq!(again["banned"], 0);
    assert_eq!(
        r.relay.counts().0,
        bans,
        "no ban request for unchanged content"
    );

    // Another source listing the same addresses adopts them without a request.
    let tagged = r.run("tagged");
    assert_eq!(tagged["banned"], 0, "{tagged}");
    assert_eq!(r.relay.counts().0, bans);
    let not_modified = r.run("tagged");
    assert_eq!(not_modified["download"], "not modified", "{not_modified}");
    assert_eq!(not_modified["status"], "unchanged");
    assert_eq!(r.lists.requests("tagged.txt"), 2);
    assert_eq!(r.relay.counts().0, bans, "a 304 sends nothing");
    assert_eq!(r.banned().len(), 300);

    // Without a name, every enabled source.
    let out = r.daemon().ctl(&["--json", "blocklist", "run", "--wait"]);
    let runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["source"].as_str().unwrap()).collect();
    assert_eq!(names, ["plain", "tagged"]);
    assert!(runs.iter().all(|r| r["status"] == "unchanged"), "{runs:?}");
}

#[test]
fn the_job_imports_the_sources_that_are_due() {
    let r = rig("", "");
    r.lists
        .set_lines("due.txt", &lines(&["11.9.0.1", "11.9.0.2"]));
    r.add("due", "due.txt");
    let out = r
        .daemon()
        .ctl_json(&["jobs", "run", "blocklist_import", "--wait"]);
    let summary = out["run"]["summary"].as_str().unwrap();
    assert_eq!(summary, "due: completed (+2 −0)", "{out}");
    assert_eq!(r.banned(), set(&["11.9.0.1", "11.9.0.2"]));
    let again = r
        .daemon()
        .ctl_json(&["jobs", "run", "blocklist_import", "--wait"]);
    assert_eq!(again["run"]["summary"], "no source due");
    let show = r.daemon().ctl_json(&["blocklist", "show", "due"]);
    let next = show["next_run_at"].as_i64().unwrap();
    let last = show["last_success_at"].as_i64().unwrap();
    assert_eq!(next - last, 24 * 3600, "the default interval: {show}");
}

#[test]
fn credentials_in_urls_never_reach_a_log_or_an_answer() {
    let r = rig("", "[blocklist]\nretries = 0\n");
    r.lists.set_lines("cred.txt", &lines(&["11.10.0.1"]));
    let url = format!(
        "http://user:s3cret-pass@{}/cred.txt?key=s3cret-key",
        r.lists.addr
    );
    let out = r
        .daemon()
        .ctl(&["blocklist", "add", "cred", &url, "--local"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(r.run("cred")["banned"], 1);
    r.lists.set("cred.txt", Serve::Status(500));
    let failed = r.daemon().ctl(&["blocklist", "run", "cred", "--wait"]);
    assert!(!failed.status.success());
    let show = r.daemon().ctl(&["--json", "blocklist", "show", "cred"]);
    let text = format!(
        "{}{}{}",
        stdout(&show),
        stdout(&failed),
        r.daemon().log_text()
    );
    assert!(!text.contains("s3cret"), "a secret leaked:\n{text}");
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(
        show["url"],
        format!("http://***@{}/cred.txt?…", r.lists.addr)
    );
}

#[test]
fn a_daemon_killed_while_banning_ends_with_each_address_banned_once() {
    // Small fixed batches make the ban phase long enough to kill it half-way.
    let mut r = rig("ban_chunk = 50\nban_request_time = 0\n", "");
    let list: Vec<String> = bangui_tests::fail2ban::addresses(20_000);
    r.lists.set_lines("big.txt", &list);
    r.add("big", "big.txt");

    let mut ctl = r.daemon().spawn_ctl(&["blocklist", "run", "big", "--wait"]);
    wait_for("the ban phase to be under way", || {
        let runs = r.daemon().ctl_json(&["blocklist", "runs", "big"]);
        (runs[0]["banned"].as_u64().unwrap_or(0) >= 2_000).then_some(())
    });
    r.daemon.take().unwrap().kill();
    let _ = ctl.wait();
    let partly = r.banned().len();
    assert!(
        partly > 0 && partly < 20_000,
        "killed half-way: {partly} banned"
    );

    r.restart_daemon();
    let runs = r.daemon().ctl_json(&["blocklist", "runs", "big"]);
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    let (before, _) = r.relay.counts();
    let run = r.run("big");
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        run["to_ban"].as_u64().unwrap() as usize,
        20_000 - partly,
        "only what fail2ban does not hold is sent: {run}"
    );
    assert!(r.relay.counts().0 > before);
    let wanted: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(r.banned(), wanted);

    // fail2ban stores every address exactly once.
    wait_for("fail2ban to store every ban", || {
        let (distinct, rows) = r.server().stored_bans(JAIL);
        (distinct == 20_000).then_some(rows)
    });
    let (distinct, rows) = r.server().stored_bans(JAIL);
    assert_eq!((distinct, rows), (20_000, 20_000));
    assert_eq!(r.run("big")["status"], "unchanged");
}

#[test]
fn a_changed_list_bans_and_unbans_only_the_difference() {
    let r = rig("", "");
    r.lists
        .set_lines("a.txt", &lines(&["11.4.0.1", "11.4.0.2", "11.4.0.3"]));
    r.lists
        .set_lines("b.txt", &lines(&["11.4.0.3", "11.4.0.4"]));
    r.add("a", "a.txt");
    r.add("b", "b.txt");
    assert_eq!(r.run("a")["banned"], 3);
    assert_eq!(r.run("b")["banned"], 1);
    assert_eq!(
        r.banned(),
        set(&["11.4.0.1", "11.4.0.2", "11.4.0.3", "11.4.0.4"])
    );

    // 11.4.0.3 leaves a but b still lists it; 11.4.0.1 leaves; 11.4.0.5 arrives.
    r.lists
        .set_lines("a.txt", &lines(&["11.4.0.2", "11.4.0.5"]));
    wait_for("fail2ban to store the first bans", || {
        r.server().has_stored(JAIL, "11.4.0.1").then_some(())
    });
    let (bans, unbans) = r.relay.counts();
    let run = r.run("a");
    assert_eq!(run["to_ban"], 1, "{run}");
    assert_eq!(run["to_unban"], 1, "{run}");
    assert_eq!(run["unbanned"], 1);
    assert_eq!(r.relay.counts(), (bans + 1, unbans + 1));
    assert_eq!(
        r.banned(),
        set(&["11.4.0.2", "11.4.0.3", "11.4.0.4", "11.4.0.5"])
    );
    let a = r.daemon().ctl_json(&["blocklist", "show", "a"]);
    assert_eq!(a["listed"], 2);

    // The unban holds across a fail2ban restart.
    wait_for("fail2ban to store the new ban", || {
        r.server().has_stored(JAIL, "11.4.0.5").then_some(())
    });
    let mut r = r;
    r.server.take().unwrap().stop();
    r.server = Some(r.conf.start());
    // fail2ban restores its stored bans shortly after it starts.
    let restored = wait_for("fail2ban to restore its bans", || {
        let banned = r.banned();
        (banned.len() >= 4).then_some(banned)
    });
    assert_eq!(
        restored,
        set(&["11.4.0.2", "11.4.0.3", "11.4.0.4", "11.4.0.5"])
    );
    assert_eq!(r.banned(), restored, "11.4.0.1 stays unbanned");

    // Removing b with --unban lifts only what nobody else lists.
    let out = r
        .daemon()
        .ctl_json(&["blocklist", "remove", "b", "--unban"]);
    assert_eq!(out["unbanned"], 2, "{out}");
    assert_eq!(r.banned(), set(&["11.4.0.2", "11.4.0.5"]));
}

#[test]
fn bans_fail2ban_lost_are_sent_again() {
    let mut r = rig("", "");
    let list: Vec<String> = (1..=200).map(|i| format!("11.5.0.{i}")).collect();
    r.lists.set_lines("l.txt", &list);
    r.add("l", "l.txt");
    assert_eq!(r.run("l")["banned"], 200);

    // fail2ban restarts with nothing stored: every ban is gone.
    r.server.take().unwrap().stop();
    r.conf.wipe_database();
    r.server = Some(r.conf.start());
    wait_for("fail2ban to be up again", || {
        (r.daemon().ctl_json(&["fail2ban", "status"])["state"] == "up").then_some(())
    });
    assert!(r.banned().is_empty());
    let run = r.run("l");
    assert_eq!(run["lost"], 200, "{run}");
    assert_eq!(run["banned"], 200);
    assert_eq!(run["status"], "completed");
    assert_eq!(r.banned().len(), 200);
}

#[test]
fn bad_downloads_fail_cleanly_and_change_nothing() {
    let r = rig(
        "",
        "[blocklist]\nmax_body = 4096\ntimeout = \"2s\"\nconnect_timeout = \"1s\"\nretries = 1\n",
    );
    r.lists
        .set_lines("good.txt", &lines(&["11.6.0.1", "11.6.0.2"]));
    r.add("src", "good.txt");
    assert_eq!(r.run("src")["banned"], 2);
    let good = r.banned();

    let big: Vec<String> = (0..2000)
        .map(|i| format!("11.7.{}.{}", i / 250, i % 250 + 1))
        .collect();
    let cases: Vec<(&str, Serve, &str)> = vec![
        (
            "big.txt",
            Serve::Text {
                body: big.join("\n").into_bytes(),
                etag: false,
                gzip: false,
            },
            "larger than 4096 bytes",
        ),
        ("slow.txt", Serve::Endless, "did not finish within"),
        ("error.txt", Serve::Status(500), "HTTP 500"),
        (
            "binary.txt",
            Serve::Text {
                body: vec![0x1f, 0x8b, 0x08, 0x00, 0x00, 0x13, 0x37],
                etag: false,
                gzip: false,
            },
            "binary",
        ),
        (
            "page.html",
            Serve::Text {
                body: b"<html><body>Service temporarily unavailable</body></html>\n".to_vec(),
                etag: false,
                gzip: false,
            },
            "no valid entries",
        ),
        (
            "mostly.txt",
            Serve::Text {
                body: b"11.6.0.1\n<p>\n<p>\n<p>\n".to_vec(),
                etag: false,
                gzip: false,
            },
            "most lines are not addresses",
        ),
    ];
    let mut n = 0;
    for (path, serve, needle) in cases {
        n += 1;
        r.lists.set(path, serve);
        let name = format!("bad{n}");
        r.add(&name, path);
        let out = r
            .daemon()
            .ctl(&["--json", "blocklist", "run", &name, "--wait"]);
        assert_eq!(out.status.code(), Some(7), "{path}: {}", describe(&out));
        let runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(runs[0]["status"], "failed", "{path}");
        let error = runs[0]["error"].as_str().unwrap();
        assert!(error.contains(needle), "{path}: {error}");
        assert_eq!(r.banned(), good, "{path} changed the jail");
    }
    // The host is unreachable.
    let out = r.daemon().ctl(&[
        "blocklist",
        "add",
        "gone",
        "http://127.0.0.1:9/list.txt",
        "--local",
    ]);
    assert!(out.status.success());
    let out = r
        .daemon()
        .ctl(&["--json", "blocklist", "run", "gone", "--wait"]);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert!(
        stdout(&out).contains("download of http://127.0.0.1:9/list.txt failed"),
        "{}",
        describe(&out)
    );

    // The good source, now failing, keeps its bans; its streak backs it off.
    r.lists.set("good.txt", Serve::Status(503));
    let failed = r
        .daemon()
        .ctl(&["--json", "blocklist", "run", "src", "--wait"]);
    assert_eq!(failed.status.code(), Some(7));
    assert_eq!(r.banned(), good);
    let show = r.daemon().ctl_json(&["blocklist", "show", "src"]);
    assert_eq!(show["failure_streak"], 1);
    assert!(r.daemon().ctl(&["ping"]).status.success());
}

#[test]
fn a_plan_sends_and_stores_nothing() {
    let r = rig("", "");
    r.lists.set_lines(
        "p.txt",
        &lines(&["11.8.0.1", "11.8.0.2", "10.1.1.1", "junk"]),
    );
    r.add("p", "p.txt");
    let plan = r.daemon().ctl_json(&["blocklist", "plan", "p"]);
    assert_eq!(plan["to_ban"], 2, "{plan}");
    assert_eq!(plan["refused"], 1);
    assert_eq!(plan["invalid"], 1);
    assert_eq!(r.relay.counts(), (0, 0));
    assert!(r.banned().is_empty());
    assert_eq!(
        r.daemon().ctl_json(&["blocklist", "show", "p"])["listed"],
        0
    );
    let text = r.daemon().ctl(&["blocklist", "plan", "p"]);
    assert!(
        stdout(&text).contains("would    ban 2"),
        "{}",
        describe(&text)
    );
}

#[test]
fn sources_are_managed_from_the_ctl_and_the_config_file() {
    let r = rig(
        "",
        "[blocklist]\nfile_dir = \"/nonexistent\"\n[[blocklist.source]]\nname = \"from-config\"\nurl = \"file:///nonexistent/list.txt\"\ninterval = \"6h\"\n",
    );
    let list = r.daemon().ctl_json(&["blocklist", "list"]);
    assert_eq!(list[0]["name"], "from-config");
    assert_eq!(list[0]["origin"], "config");
    assert_eq!(list[0]["interval_secs"], 6 * 3600);
    let out = r.daemon().ctl(&["blocklist", "remove", "from-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("config file"), "{}", describe(&out));

    for (args, needle) in [
        (
            vec!["blocklist", "add", "bad name", "http://x/", "--local"],
            "not a source name",
        ),
        (
            vec!["blocklist", "add", "x", "ftp://x/", "--local"],
            "http://, https:// or file://",
        ),
        (
            vec![
                "blocklist",
                "add",
                "x",
                "http://x/",
                "--interval",
                "5s",
                "--local",
            ],
            "at least 1 minute",
        ),
        (
            vec!["blocklist", "add", "from-config", "http://x/", "--local"],
            "exists already",
        ),
    ] {
        let out = r.daemon().ctl(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains(needle),
            "{args:?}: {}",
            describe(&out)
        );
    }
    r.add("mine", "m.txt");
    let off = r.daemon().ctl_json(&["blocklist", "disable", "mine"]);
    assert_eq!(off["enabled"], false);
    assert_eq!(off["next_run_at"], Value::Null);
    assert_eq!(
        r.daemon().ctl_json(&["blocklist", "enable", "mine"])["enabled"],
        true
    );
    let missing = r.daemon().ctl(&["blocklist", "show", "nope"]);
    assert_eq!(missing.status.code(), Some(5));
    // A file source: the config one's file appears.
    let out = r
        .daemon()
        .ctl(&["--json", "blocklist", "run", "from-config", "--wait"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(
        stdout(&out).contains("cannot read /nonexistent/list.txt"),
        "{}",
        describe(&out)
    );
    let text = r.daemon().ctl(&["blocklist", "list"]);
    assert!(stdout(&text).contains("mine"));
}
