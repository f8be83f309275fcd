//! Setup, login and logout through the real daemon and ctl.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bangui_tests::{Home, describe, stderr, stdout};

const PASSWORD: &str = "correct horse battery staple";

#[test]
fn setup_login_validate_logout() {
    let home = Home::new();
    let daemon = home.start();

    let status = daemon.ctl_json(&["setup", "status"]);
    assert_eq!(status["complete"], false);
    let early = daemon.ctl_with(&["login", "--password-stdin"], Some(PASSWORD));
    assert_eq!(early.status.code(), Some(1), "{}", describe(&early));
    assert!(
        stderr(&early).contains("bangui-ctl setup"),
        "{}",
        describe(&early)
    );

    let short = daemon.ctl_with(&["setup", "--password-stdin"], Some("short"));
    assert_eq!(short.status.code(), Some(2));
    assert!(stderr(&short).contains("10 to 1024 characters"));
    let out = daemon.ctl_with(&["setup", "--password-stdin"], Some(PASSWORD));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(daemon.ctl_json(&["setup", "status"])["complete"], true);
    let again = daemon.ctl_with(
        &["setup", "--password-stdin"],
        Some("another password here"),
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", describe(&again));

    let login = daemon.ctl_with(
        &["--json", "login", "--password-stdin", "--label", "web"],
        Some(PASSWORD),
    );
    assert!(login.status.success(), "{}", describe(&login));
    let created: serde_json::Value = serde_json::from_slice(&login.stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("bgt_"));
    assert_eq!(created["session"]["label"], "web");

    let valid = daemon.ctl_with(&["sessions", "validate"], Some(&token));
    assert!(valid.status.success(), "{}", describe(&valid));
    let out = daemon.ctl_with(&["logout"], Some(&token));
    assert!(out.status.success(), "{}", describe(&out));
    let gone = daemon.ctl_with(&["sessions", "validate"], Some(&token));
    assert!(!gone.status.success(), "{}", describe(&gone));

    // Wrong passwords: refused, and slowed down.
    let started = Instant::now();
    let wrong = daemon.ctl_with(&["login", "--password-stdin"], Some("not the password"));
    assert_eq!(wrong.status.code(), Some(4), "{}", describe(&wrong));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "answered at once"
    );
    let too_soon = daemon.ctl_with(&["login", "--password-stdin"], Some("not the password"));
    assert_eq!(too_soon.status.code(), Some(4));
    assert!(
        stderr(&too_soon).contains("too many wrong passwords"),
        "{}",
        describe(&too_soon)
    );
    bangui_tests::wait_for("the wait after a wrong password to pass", || {
        let ok = daemon.ctl_with(&["login", "--password-stdin"], Some(PASSWORD));
        ok.status.success().then_some(())
    });

    // Root changes the password without the old one.
    let forced = daemon.ctl_with(
        &["setup", "--password-stdin", "--force"],
        Some("a new master password"),
    );
    assert!(forced.status.success(), "{}", describe(&forced));
    let old = daemon.ctl_with(&["login", "--password-stdin"], Some(PASSWORD));
    assert_eq!(old.status.code(), Some(4));

    // Neither the passwords nor the token reach the log.
    let log = daemon.log_text();
    for secret in [
        PASSWORD,
        "a new master password",
        "not the password",
        token.as_str(),
    ] {
        assert!(!log.contains(secret), "`{secret}` is in the log");
    }
    assert!(log.contains("wrong password"));
    let _ = stdout(&forced);
}

/// The front-end example in proto/examples logs in, validates and logs out.
#[test]
fn the_front_end_example_works() {
    let home = Home::new();
    let daemon = home.start();
    let out = daemon.ctl_with(&["setup", "--password-stdin"], Some(PASSWORD));
    assert!(out.status.success(), "{}", describe(&out));
    let mut child = std::process::Command::new(bangui_tests::bin("examples/front_end"))
        .arg(&daemon.socket)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("logged in: session"), "{text}");
    assert!(text.contains("valid: "), "{text}");
    assert!(
        text.contains("after logout: ") && text.contains("matches no session"),
        "{text}"
    );
    assert!(
        daemon
            .ctl_json(&["sessions", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}
