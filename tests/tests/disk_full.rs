//! A full disk: the state directory on a tiny tmpfs in a private mount
//! namespace, filled up while the daemon runs. Changes fail with a clear
//! error, reads go on, STATUS says so, nothing half-done is recorded as done,
//! and work resumes once space is freed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use bangui_tests::notify::NotifySocket;
use bangui_tests::{Home, describe, stderr, wait_for};

/// Runs `script` with sh in the daemon's mount namespace.
fn in_namespace(pid: u32, script: &str) -> std::process::Output {
    Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-m", "sh", "-c", script])
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_fails_changes_clearly_keeps_reads_and_recovers() {
    let home = Home::new();
    let state = home.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let n = NotifySocket::start(&home.path().join("notify.sock"), None);
    let script = format!(
        "mount -t tmpfs -o size=4m,mode=0750 tmpfs {:?} && exec \"$@\"",
        state.display().to_string()
    );
    let daemon = home.start_under(&["unshare", "-m", "sh", "-c", &script, "sh"], |cmd, _| {
        cmd.env("NOTIFY_SOCKET", &n.path);
    });
    let pid = daemon.pid();
    let out = daemon.ctl(&["config", "set", "geo.queue_size", "5000"]);
    assert!(out.status.success(), "{}", describe(&out));

    // Fill the tmpfs to the last block.
    let filler = state.join("filler");
    let fill = in_namespace(
        pid,
        &format!(
            "dd if=/dev/zero of={:?} bs=64k 2>/dev/null; sync; true",
            filler.display().to_string()
        ),
    );
    assert!(fill.status.success(), "{}", describe(&fill));

    // A change fails, with the reason, and is not kept.
    let failed = wait_for("a change to fail for lack of space", || {
        let out = daemon.ctl(&["config", "set", "history.retention_days", "400"]);
        (!out.status.success()).then_some(out)
    });
    assert_eq!(failed.status.code(), Some(1), "{}", describe(&failed));
    assert!(
        stderr(&failed).contains("disk is full"),
        "{}",
        describe(&failed)
    );
    let created = daemon.ctl(&["sessions", "create", "--label", "x"]);
    assert!(!created.status.success(), "{}", describe(&created));

    // Reads go on.
    for args in [
        &["ping"][..],
        &["status"][..],
        &["jobs", "list"][..],
        &["config", "show"][..],
        &["blocklist", "list"][..],
        &["sessions", "list"][..],
    ] {
        let out = daemon.ctl(args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
    }
    let view = daemon.ctl_json(&["config", "show", "history.retention_days"]);
    assert_eq!(view["entries"][0]["value"], "365", "{view}");
    assert!(
        view["entries"][0]["next_start"].is_null(),
        "a failed change is not pending: {view}"
    );
    assert!(
        daemon
            .ctl_json(&["sessions", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    let status = wait_for("STATUS to say the disk is full", || {
        n.messages()
            .into_iter()
            .filter_map(|m| m.value("STATUS"))
            .find(|s| s.contains("disk full"))
    });
    assert!(status.contains("reads go on"), "{status}");
    assert!(
        daemon
            .log_text()
            .contains("the state directory's disk is full")
    );

    // Space comes back: so does work.
    let freed = in_namespace(pid, &format!("rm -f {:?}", filler.display().to_string()));
    assert!(freed.status.success(), "{}", describe(&freed));
    let out = daemon.ctl(&["config", "set", "history.retention_days", "400"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        daemon
            .ctl(&["sessions", "create", "--label", "y"])
            .status
            .success()
    );
    let since = std::time::Instant::now();
    wait_for("STATUS without the disk-full note", || {
        n.messages()
            .into_iter()
            .filter(|m| m.at >= since)
            .filter_map(|m| m.value("STATUS"))
            .find(|s| !s.contains("disk full"))
    });
    assert!(daemon.log_text().contains("has room again"));
    daemon.stop();
}
