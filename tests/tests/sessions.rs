//! Session life cycle through the real ctl and daemon.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::{Home, describe, stdout, wait_for};

#[test]
fn create_validate_revoke_then_validate_fails() {
    let home = Home::new();
    let daemon = home.start();
    let created = daemon.ctl_json(&["sessions", "create", "--label", "web front end"]);
    let token = created["token"].as_str().unwrap().to_string();
    let id = created["session"]["id"].as_str().unwrap().to_string();
    assert!(token.starts_with("bgt_"));

    let out = daemon.ctl_with(&["--json", "sessions", "validate"], Some(&token));
    assert!(out.status.success(), "{}", describe(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["id"], id.as_str());
    assert_eq!(seen["label"], "web front end");

    let listed = daemon.ctl_json(&["sessions", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let shown = daemon.ctl_json(&["sessions", "show", &id]);
    assert_eq!(shown["id"], id.as_str());

    let out = daemon.ctl(&["sessions", "revoke", &id]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = daemon.ctl_with(&["sessions", "validate"], Some(&token));
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        daemon
            .ctl_json(&["sessions", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Neither the token nor its session id's secret ever reaches the log.
    assert!(!daemon.log_text().contains(&token));
    // And it is not in the database file either, only its hash.
    let db = std::fs::read(home.database()).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
}

#[test]
fn session_cleanup_removes_expired_sessions() {
    let home = Home::new();
    let daemon = home.start();
    let short = daemon.ctl_json(&["sessions", "create", "--label", "short", "--ttl", "1s"]);
    daemon.ctl_json(&["sessions", "create", "--label", "long", "--ttl", "1h"]);
    let expires = short["session"]["expires_at"].as_i64().unwrap();
    wait_for("the short session to expire", || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        (now > expires).then_some(())
    });
    let run = daemon.ctl_json(&["jobs", "run", "session_cleanup", "--wait"]);
    assert_eq!(run["run"]["outcome"], "ok");
    assert_eq!(run["run"]["summary"], "deleted 1 expired session(s)");
    let left = daemon.ctl_json(&["sessions", "list"]);
    let labels: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["long"]);
    daemon.wait_log("expired sessions deleted");
}

#[test]
fn create_prints_the_token_once_and_refuses_bad_input() {
    let home = Home::new();
    let daemon = home.start();
    let out = daemon.ctl(&["sessions", "create", "--label", "cli"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).trim().starts_with("bgt_"));
    assert!(bangui_tests::stderr(&out).contains("shown only this once"));
    let out = daemon.ctl(&["sessions", "create", "--label", "x", "--ttl", "5000d"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = daemon.ctl(&["sessions", "create", "--label", "x", "--ttl", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}
