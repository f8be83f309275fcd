//! Runtime settings through the real daemon and ctl: `config show`, `config
//! set`, `config unset`, and persisted settings at the next start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::{Daemon, Home, describe, stderr, stdout};
use serde_json::Value;

fn entry(daemon: &Daemon, key: &str) -> Value {
    let view = daemon.ctl_json(&["config", "show", key]);
    view["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {view}"))
        .clone()
}

fn set(daemon: &Daemon, key: &str, value: &str) -> Value {
    daemon.ctl_json(&["config", "set", key, value])
}

#[test]
fn a_persisted_setting_overrides_the_file_after_a_restart() {
    let home = Home::new();
    home.write_config("[history]\nretention_days = 30\n");
    let daemon = home.start();
    let e = entry(&daemon, "history.retention_days");
    assert_eq!(
        (e["value"].as_str(), e["source"].as_str()),
        (Some("30"), Some("file"))
    );
    assert_eq!(
        entry(&daemon, "geo.queue_size")["source"],
        "default",
        "a key the file leaves out"
    );

    let changed = set(&daemon, "history.retention_days", "90");
    assert_eq!(changed["applies"], "next-start", "{changed}");
    assert_eq!(changed["source"], "persisted");
    let e = entry(&daemon, "history.retention_days");
    assert_eq!(e["value"], "30", "still running with the file's value");
    assert_eq!(e["next_start"]["value"], "90");
    assert_eq!(e["next_start"]["source"], "persisted");
    let text = stdout(&daemon.ctl(&["config", "show", "history"]));
    assert!(text.contains("next start: 90 (persisted)"), "{text}");

    daemon.stop();
    let daemon = home.start();
    let e = entry(&daemon, "history.retention_days");
    assert_eq!(
        (e["value"].as_str(), e["source"].as_str()),
        (Some("90"), Some("persisted"))
    );
    assert!(e["next_start"].is_null());

    let out = daemon.ctl(&["config", "unset", "history.retention_days"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("now 30 (file)"), "{}", describe(&out));
    let again = daemon.ctl(&["config", "unset", "history.retention_days"]);
    assert_eq!(again.status.code(), Some(5), "{}", describe(&again));
    daemon.stop();
    let daemon = home.start();
    let e = entry(&daemon, "history.retention_days");
    assert_eq!(
        (e["value"].as_str(), e["source"].as_str()),
        (Some("30"), Some("file"))
    );
}

#[test]
fn live_settings_apply_at_once() {
    let home = Home::new();
    // Without BANGUI_LOG_LEVEL, so the log level is the daemon's own to change.
    let daemon = home.start_with(|cmd| {
        cmd.env_remove("BANGUI_LOG_LEVEL");
    });

    let changed = set(&daemon, "sessions.default_ttl", "2h");
    assert_eq!(changed["applies"], "now", "{changed}");
    let created = daemon.ctl_json(&["sessions", "create", "--label", "ttl"]);
    let s = &created["session"];
    assert_eq!(
        s["expires_at"].as_i64().unwrap() - s["created_at"].as_i64().unwrap(),
        7200
    );

    let changed = set(&daemon, "jobs.session_cleanup.interval", "90m");
    assert_eq!(changed["applies"], "now");
    let jobs = daemon.ctl_json(&["jobs", "list"]);
    let job = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "session_cleanup")
        .unwrap();
    assert_eq!(job["interval_ms"], 90 * 60 * 1000);

    // At "warn", a setting change (an info line) is no longer logged; back at "info" it is.
    assert_eq!(set(&daemon, "daemon.log_level", "warn")["applies"], "now");
    set(&daemon, "geo.queue_size", "5000");
    set(&daemon, "daemon.log_level", "info");
    set(&daemon, "geo.queue_size", "6000");
    let log = daemon.log_text();
    assert!(log.contains("key=\"daemon.log_level\""), "{log}");
    assert!(!log.contains("persisted=\"5000\""), "{log}");
    assert!(log.contains("persisted=\"6000\""), "{log}");
    assert_eq!(
        entry(&daemon, "geo.queue_size")["next_start"]["value"],
        "6000"
    );
}

#[test]
fn environment_and_flags_are_named_and_win() {
    let home = Home::new();
    // The harness starts the daemon with BANGUI_LOG_LEVEL=debug.
    let daemon = home.start_with(|cmd| {
        cmd.arg("--log-format").arg("text");
    });
    let e = entry(&daemon, "daemon.log_level");
    assert_eq!(
        (e["value"].as_str(), e["source"].as_str()),
        (Some("\"debug\""), Some("environment"))
    );
    assert_eq!(entry(&daemon, "daemon.log_format")["source"], "flag");
    assert_eq!(entry(&daemon, "daemon.state_dir")["settable"], false);

    let changed = set(&daemon, "daemon.log_level", "warn");
    assert_eq!(changed["applies"]["shadowed"], "environment", "{changed}");
    let out = daemon.ctl(&["config", "set", "daemon.log_format", "json"]);
    assert!(
        stdout(&out).contains("command-line flag"),
        "{}",
        describe(&out)
    );
}

#[test]
fn invalid_values_are_refused_with_the_reason() {
    let home = Home::new();
    let daemon = home.start();
    for (key, value, reason) in [
        ("history.retention_days", "0", "must be between 1 and 36500"),
        ("history.retention_days", "lots", "invalid type"),
        ("sessions.default_ttl", "soon", "not a duration"),
        ("jobs.history_sync.enabled", "maybe", "expected a boolean"),
        (
            "allowlist.networks",
            "[\"not-a-net\"]",
            "allowlist.networks",
        ),
        ("fail2ban.ban_chunk_max", "10", "between ban_chunk"),
        ("retention_days", "5", "did you mean history.retention_days"),
        ("no.such.key", "5", "no setting `no.such.key`"),
        ("daemon.state_dir", "/tmp/elsewhere", "cannot be persisted"),
        ("daemon.admin_group", "wheel", "only the config file"),
        ("fail2ban.socket", "/tmp/evil.sock", "only the config file"),
        ("fail2ban.database", "/etc/shadow", "only the config file"),
    ] {
        let out = daemon.ctl(&["config", "set", key, value]);
        assert_eq!(out.status.code(), Some(2), "{key}: {}", describe(&out));
        assert!(stderr(&out).contains(reason), "{key}: {}", describe(&out));
    }
    let view = daemon.ctl_json(&["config", "show"]);
    assert!(
        view["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["source"] != "persisted"),
        "nothing was persisted"
    );
    daemon.stop();
    let daemon = home.start();
    assert_eq!(entry(&daemon, "history.retention_days")["value"], "365");
}

/// The file changes under a persisted setting so that both together no
/// longer validate: the daemon starts on the file alone and says why.
#[test]
fn a_persisted_setting_that_no_longer_fits_is_ignored_and_named() {
    let home = Home::new();
    home.write_config("[fail2ban]\nsocket = \"/nonexistent/f2b.sock\"\nmanage_jails = false\n");
    let daemon = home.start();
    set(&daemon, "fail2ban.ban_chunk_max", "200");
    daemon.stop();
    home.write_config(
        "[fail2ban]\nsocket = \"/nonexistent/f2b.sock\"\nmanage_jails = false\nban_chunk = 500\n",
    );
    let daemon = home.start();
    let view = daemon.ctl_json(&["config", "show"]);
    let ignored = &view["ignored"][0];
    assert_eq!(ignored["key"], "fail2ban.ban_chunk_max", "{view}");
    assert!(
        ignored["reason"]
            .as_str()
            .unwrap()
            .contains("between ban_chunk (500)")
    );
    assert_eq!(entry(&daemon, "fail2ban.ban_chunk_max")["value"], "5000");
    assert!(daemon.log_text().contains("persisted setting ignored"));
    let text = stdout(&daemon.ctl(&["config", "show"]));
    assert!(
        text.contains("config unset fail2ban.ban_chunk_max"),
        "{text}"
    );
    let out = daemon.ctl(&["config", "unset", "fail2ban.ban_chunk_max"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        daemon.ctl_json(&["config", "show"])["ignored"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn secrets_never_reach_config_show_or_the_log() {
    const PASSWORD: &str = "correct horse battery staple";
    let home = Home::new();
    home.write_config(
        "[geo]\noffline = true\nmaxmind_db = \"\"\nmaxmind_asn_db = \"\"\n\
         ip_api_url = \"https://user:file-secret-pw@pro.ip-api.com/?key=FILEKEY123\"\n",
    );
    let daemon = home.start();
    let out = daemon.ctl_with(&["setup", "--password-stdin"], Some(PASSWORD));
    assert!(out.status.success(), "{}", describe(&out));
    let login = daemon.ctl_with(&["--json", "login", "--password-stdin"], Some(PASSWORD));
    let token = serde_json::from_slice::<Value>(&login.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let set = daemon.ctl(&[
        "config",
        "set",
        "geo.ip_api_url",
        "https://u:set-secret-pw@pro.ip-api.com/?key=SETKEY456",
    ]);
    assert!(set.status.success(), "{}", describe(&set));

    let shown = [
        stdout(&set),
        stdout(&daemon.ctl(&["config", "show"])),
        stdout(&daemon.ctl(&["--json", "config", "show"])),
    ]
    .join("\n");
    assert!(shown.contains("pro.ip-api.com"), "{shown}");
    daemon.stop();
    let daemon = home.start();
    let after = stdout(&daemon.ctl(&["config", "show"]));
    assert!(
        after.contains("\"https://***@pro.ip-api.com?…\""),
        "{after}"
    );
    let log = home.all_daemon_logs();
    assert!(log.contains("runtime setting changed"), "{log}");
    for secret in [
        PASSWORD,
        token.as_str(),
        "file-secret-pw",
        "FILEKEY123",
        "set-secret-pw",
        "SETKEY456",
    ] {
        assert!(!shown.contains(secret), "`{secret}` shown: {shown}");
        assert!(!after.contains(secret), "`{secret}` shown after restart");
        assert!(!log.contains(secret), "`{secret}` is in the log");
    }
}
