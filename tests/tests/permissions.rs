//! Read-only peers can read but not change anything; the admin group can.
//! The ctl runs as `nobody` (uid 65534) through setpriv.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::{Home, describe, stderr, stdout};

/// Runs the ctl as nobody:nogroup with no supplementary groups.
fn as_nobody(home: &Home, args: &[&str]) -> std::process::Output {
    let ctl = home.shared_bin("bangui-ctl");
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    assert!(
        setpriv.exists(),
        "setpriv is missing: apt-get install util-linux"
    );
    let mut full = vec![
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        ctl.to_str().unwrap(),
        "--socket",
        home.socket().to_str().unwrap().to_owned().leak(),
    ];
    full.extend_from_slice(args);
    std::process::Command::new(setpriv)
        .args(&full)
        .output()
        .unwrap()
}

#[test]
fn a_non_admin_peer_reads_but_cannot_mutate() {
    let home = Home::new();
    home.write_config("socket_group = \"nogroup\"\n");
    let daemon = home.start();

    let out = as_nobody(&home, &["ping"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = as_nobody(&home, &["status"]);
    assert!(stdout(&out).contains("read-only"), "{}", describe(&out));
    for args in [
        &["jobs", "list"][..],
        &["geo", "stats"][..],
        &["blocklist", "list"][..],
        &["history", "stats"][..],
        &["setup", "status"][..],
        &["config", "show"][..],
    ] {
        let out = as_nobody(&home, args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
    }

    for args in [
        &["geo", "flush"][..],
        &["geo", "lookup", "--remote", "11.0.0.1"][..],
        &["blocklist", "add", "x", "http://127.0.0.1:9/x.txt"][..],
        &["blocklist", "run"][..],
        &["jobs", "run", "session_cleanup"][..],
        &["sessions", "create", "--label", "x"][..],
        &["sessions", "revoke", "abc"][..],
        &["ban", "11.0.0.1"][..],
        &["unban", "11.0.0.1"][..],
        &["config", "set", "geo.queue_size", "5000"][..],
        &["config", "unset", "geo.queue_size"][..],
    ] {
        let out = as_nobody(&home, args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", describe(&out));
        // The command as typed, who you are, and how to be allowed.
        let err = stderr(&out);
        let typed = format!(
            "`bangui-ctl --socket {} {}`",
            home.socket().display(),
            args.join(" ")
        );
        assert!(err.contains(&typed), "{typed}: {}", describe(&out));
        assert!(
            err.contains("you are nobody") && err.contains("sudo"),
            "{}",
            describe(&out)
        );
    }
    assert!(
        daemon
            .ctl_json(&["jobs", "runs", "session_cleanup"])
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["trigger"] != "manual"),
        "nothing ran"
    );
    let log = daemon.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("permission denied") && l.contains("65534")),
        "{log}"
    );
}

#[test]
fn members_of_the_admin_group_may_mutate() {
    let home = Home::new();
    home.write_config("socket_group = \"nogroup\"\nadmin_group = \"nogroup\"\n");
    let _daemon = home.start();
    let out = as_nobody(&home, &["jobs", "run", "session_cleanup", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_peer_outside_the_socket_group_cannot_connect() {
    let home = Home::new();
    let _daemon = home.start();
    let out = as_nobody(&home, &["ping"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        describe(&out)
    );
}

#[test]
fn the_socket_has_mode_0660_and_the_configured_group() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let home = Home::new();
    home.write_config("socket_group = \"nogroup\"\n");
    let _daemon = home.start();
    let meta = std::fs::metadata(home.socket()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), 65534);
}

#[test]
fn an_unknown_group_is_a_config_error() {
    let home = Home::new();
    home.write_config("admin_group = \"no-such-group-here\"\n");
    let out = home.run_to_exit();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("no-such-group-here"),
        "{}",
        describe(&out)
    );
}
