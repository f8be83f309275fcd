//! bangui against a real fail2ban-server started per test: status, bans in
//! chunks, unbans, the allowlist, fail2ban dying and coming back, managed
//! jail files, and replies bangui must refuse.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::fail2ban::{Fail2banConf, addresses};
use bangui_tests::{Daemon, Home, describe, stderr, stdout, wait_for};
use serde_json::Value;

/// Daemon config: fast health checks, fail2ban at `conf`, plus `extra` sections.
fn configure(home: &Home, conf: &Fail2banConf, daemon_keys: &str, extra: &str) {
    home.write_config(&format!(
        "{daemon_keys}\n{}{extra}\n[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section()
    ));
}

fn health(daemon: &Daemon) -> Value {
    daemon.ctl_json(&["fail2ban", "status"])
}

fn wait_state(daemon: &Daemon, state: &str) -> Value {
    wait_for(&format!("fail2ban to be {state}"), || {
        let h = health(daemon);
        (h["state"] == state).then_some(h)
    })
}

#[test]
fn ten_thousand_bans_in_chunks_then_unbans() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    configure(&home, &conf, "", "ban_chunk = 100\n");
    // The daemon writes its jail files; fail2ban then starts with them.
    let daemon = home.start();
    let server = conf.start();
    wait_state(&daemon, "up");

    let list = addresses(10_000).join("\n");
    let out = daemon.ctl_with(&["--json", "ban", "-"], Some(&list));
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["jails"][0]["jail"], "bangui-manual");
    assert_eq!(report["requested"], 10_000);
    assert_eq!(report["jails"][0]["sent"], 10_000);
    assert_eq!(report["jails"][0]["changed"], 10_000);
    assert_eq!(report["refused_total"], 0);

    let mut banned = server.banned("bangui-manual");
    banned.sort();
    let mut wanted = addresses(10_000);
    wanted.sort();
    assert_eq!(banned, wanted, "fail2ban-client sees every address");
    let jails = daemon.ctl_json(&["banned", "11.0.0.1"]);
    assert_eq!(jails[0]["jails"], serde_json::json!(["bangui-manual"]));
    // Many addresses at once (fail2ban's lists are read once per jail): one
    // of them not banned makes the answer "no".
    let mut asked: Vec<String> = addresses(100);
    asked.push("45.33.32.156".into());
    // Repeated, and written another way: each answers alike.
    asked.push("11.0.0.1".into());
    asked.push("11.0.0.1/32".into());
    let out = daemon.ctl_with(&["--json", "banned", "-"], Some(&asked.join("\n")));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let answers: Value = serde_json::from_slice(&out.stdout).unwrap();
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 103);
    assert!(
        answers[..100]
            .iter()
            .all(|a| a["jails"] == serde_json::json!(["bangui-manual"]))
    );
    assert_eq!(answers[100]["jails"], serde_json::json!([]));
    assert_eq!(answers[101]["jails"], serde_json::json!(["bangui-manual"]));
    assert_eq!(answers[102]["jails"], serde_json::json!(["bangui-manual"]));
    let out = daemon.ctl_with(&["banned", "--quiet", "-"], Some(&asked[..100].join("\n")));
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        describe(&out)
    );

    // Banning again changes nothing.
    let again = daemon.ctl_json(&["ban", "11.0.0.1", "11.0.0.2"]);
    assert_eq!(again["jails"][0]["sent"], 2);
    assert_eq!(again["jails"][0]["changed"], 0);

    let out = daemon.ctl_with(&["--json", "unban", "-"], Some(&list));
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // No jail given: lifted from every jail that holds them.
    assert_eq!(report["all_jails"], true);
    let lifted: u64 = report["jails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["changed"].as_u64().unwrap())
        .sum();
    assert_eq!(lifted, 10_000);
    assert!(server.banned("bangui-manual").is_empty());
    let human = daemon.ctl(&["banned", "11.0.0.1"]);
    assert!(
        stdout(&human).contains("is not banned"),
        "{}",
        describe(&human)
    );
    assert_eq!(human.status.code(), Some(1), "{}", describe(&human));
}

#[test]
fn status_jail_status_and_unknown_jails() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail("sshd-test", "");
    configure(&home, &conf, "", "");
    let daemon = home.start();
    let server = conf.start();
    let h = wait_state(&daemon, "up");
    assert_eq!(h["version"], "1.0.2");
    let names: Vec<&str> = h["jails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    for jail in ["bangui-blocklist", "bangui-manual", "sshd-test"] {
        assert!(names.contains(&jail), "{names:?}");
    }
    assert!(h["missing_jails"].as_array().unwrap().is_empty());

    server
        .client(&["set", "sshd-test", "banip", "11.1.1.1"])
        .unwrap();
    let jail = daemon.ctl_json(&["fail2ban", "status", "sshd-test"]);
    assert_eq!(jail["counts"]["currently_banned"], 1);
    assert_eq!(jail["banned"], serde_json::json!(["11.1.1.1"]));

    let human = daemon.ctl(&["status"]);
    assert!(
        stdout(&human).contains("fail2ban   up 1.0.2"),
        "{}",
        describe(&human)
    );

    let out = daemon.ctl(&["fail2ban", "status", "nojail"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        stderr(&out).contains("no jail `nojail`"),
        "{}",
        describe(&out)
    );
    let out = daemon.ctl(&["ban", "11.0.0.1", "--jail", "nojail"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let out = daemon.ctl(&["unban", "11.0.0.1", "--jail", "nojail"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
}

#[test]
fn fail2ban_dying_and_returning_is_noticed_once_each() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail("test-jail", "");
    configure(&home, &conf, "", "manage_jails = false\n");
    let mut server = conf.start();
    let daemon = home.start();
    wait_state(&daemon, "up");

    server.kill();
    let down = wait_state(&daemon, "down");
    assert!(
        down["error"].as_str().unwrap().contains("fail2ban.sock"),
        "{down}"
    );
    // Requests that need fail2ban say they cannot reach it and name the socket.
    let out = daemon.ctl(&["ban", "11.0.0.1", "--jail", "test-jail"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect to fail2ban on") && err.contains("fail2ban.sock"),
        "{err}"
    );
    // Everything else still works.
    assert!(daemon.ctl(&["ping"]).status.success());
    assert!(
        daemon
            .ctl(&["sessions", "create", "--label", "x"])
            .status
            .success()
    );
    // Several checks happen while it is down.
    wait_for("a few more health checks", || {
        let runs = daemon.ctl_json(&["jobs", "runs", "health_check", "--limit", "100"]);
        let down_runs = runs
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["summary"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("fail2ban is down")
            })
            .count();
        (down_runs >= 3).then_some(())
    });
    let runs = daemon.ctl_json(&["jobs", "runs", "health_check", "--limit", "100"]);
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "ok"),
        "fail2ban down is a finding, not a failed run: {runs}"
    );

    let _server = conf.start();
    wait_state(&daemon, "up");
    let log = daemon.log_text();
    // The transition lines, not the per-run summaries.
    assert_eq!(log.matches(": fail2ban is down error=").count(), 1, "{log}");
    assert_eq!(log.matches(": fail2ban is up version=").count(), 2, "{log}");
}

#[test]
fn the_allowlist_refuses_each_kind_with_its_reason() {
    let own = bangui_daemon::allowlist::own_addresses()
        .unwrap()
        .into_iter()
        .find(|a| !a.is_loopback())
        .expect("this test needs a non-loopback address on some interface");
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail("test-jail", "ignoreip = 11.8.0.0/16");
    configure(
        &home,
        &conf,
        "",
        "manage_jails = false\n[allowlist]\nnetworks = [\"11.9.0.0/16\"]\nprivate_ranges = false\nreserved_ranges = false\n",
    );
    let server = conf.start();
    let daemon = home.start();
    wait_state(&daemon, "up");

    let own = own.to_string();
    let out = daemon.ctl(&[
        "--json",
        "ban",
        "--jail",
        "test-jail",
        "127.0.0.1",
        &own,
        "11.8.0.5",
        "11.9.1.1",
        "not-an-address",
        "0.0.0.0/0",
        "11.0.0.1",
        "11.0.0.2",
    ]);
    // Some refused: a distinct status, the rest banned all the same.
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requested"], 8);
    assert_eq!(report["accepted"], 2);
    assert_eq!(report["refused_total"], 6);
    let reason = |target: &str| {
        report["refused"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == target)
            .map(|r| r["reason"].as_str().unwrap().to_string())
    };
    assert_eq!(reason("127.0.0.1").as_deref(), Some("loopback"));
    assert_eq!(reason(&own).as_deref(), Some("own-address"));
    assert_eq!(reason("11.8.0.5").as_deref(), Some("jail-ignoreip"));
    assert_eq!(reason("11.9.1.1").as_deref(), Some("allowlist"));
    assert_eq!(reason("not-an-address").as_deref(), Some("invalid"));
    assert_eq!(reason("0.0.0.0/0").as_deref(), Some("too-broad"));
    let mut banned = server.banned("test-jail");
    banned.sort();
    assert_eq!(banned, ["11.0.0.1", "11.0.0.2"]);

    let human = daemon.ctl(&["ban", "--jail", "test-jail", "127.0.0.1"]);
    assert_eq!(human.status.code(), Some(8), "{}", describe(&human));
    let text = stdout(&human);
    assert!(
        text.contains("refused, not banned: 1")
            && text.contains("127.0.0.1")
            && text.contains("loopback"),
        "{}",
        describe(&human)
    );
}

#[test]
fn managed_jail_files_are_written_once_and_edits_are_kept() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail("test-jail", "");
    configure(&home, &conf, "", "");
    // fail2ban runs before bangui has written its jails: status must say so.
    let _server = conf.start();
    let daemon = home.start();
    let manual = conf.dir.join("jail.d/bangui-manual.conf");
    let blocklist = conf.dir.join("jail.d/bangui-blocklist.conf");
    let text = std::fs::read_to_string(&manual).unwrap();
    assert!(text.starts_with("# Managed by bangui."), "{text}");
    assert!(text.contains("[bangui-manual]"));
    assert!(
        std::fs::read_to_string(&blocklist)
            .unwrap()
            .contains("bantime   = 604800")
    );

    let h = wait_state(&daemon, "up");
    assert_eq!(
        h["missing_jails"],
        serde_json::json!(["bangui-blocklist", "bangui-manual"])
    );
    assert!(
        h["hint"]
            .as_str()
            .unwrap()
            .contains("fail2ban-client reload")
    );
    assert!(stdout(&daemon.ctl(&["status"])).contains("fail2ban-client reload"));
    assert!(daemon.stop().success());

    // An administrator takes the manual jail over.
    let mine = "[bangui-manual]\nenabled = true\nfilter =\nlogpath = /dev/null\nbantime = 5m\n";
    std::fs::write(&manual, mine).unwrap();
    home.write_config(&format!(
        "{}manual_bantime = \"2d\"\nblocklist_bantime = \"2w\"\n",
        conf.daemon_section()
    ));
    let daemon = home.start();
    assert_eq!(std::fs::read_to_string(&manual).unwrap(), mine);
    assert!(
        std::fs::read_to_string(&blocklist)
            .unwrap()
            .contains("bantime   = 1209600"),
        "bangui's own file follows the config"
    );
    daemon.wait_log("left alone");
}

#[test]
fn an_oversize_reply_is_refused_with_a_clear_error() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    configure(
        &home,
        &conf,
        "",
        "manage_jails = false\nmax_reply = 65536\n",
    );
    // A jail whose banned list will be far over 64 KiB.
    conf.add_jail("big", "");
    let server = conf.start();
    let mut args = vec!["set", "big", "banip"];
    let list = addresses(6_000);
    args.extend(list.iter().map(String::as_str));
    server.client(&args).unwrap();

    let daemon = home.start();
    let out = daemon.ctl(&["fail2ban", "status", "big"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("larger than 65536 bytes"),
        "{}",
        describe(&out)
    );
    // The next request, on a fresh connection, works.
    let ok = daemon.ctl_json(&["banned", "11.0.0.1"]);
    assert_eq!(ok[0]["jails"], serde_json::json!(["big"]));
}
