//! Start-up, single instance, stale sockets, config errors and shutdown of the
//! real daemon binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::{Home, describe, stderr, stdout};

#[test]
fn starts_answers_ping_and_stops_cleanly_on_sigterm() {
    let home = Home::new();
    let daemon = home.start();
    let out = daemon.ctl(&["ping"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout(&out).contains("pong from bangui"),
        "{}",
        describe(&out)
    );

    let status = daemon.ctl_json(&["status"]);
    assert_eq!(status["pid"].as_u64(), Some(u64::from(daemon.pid())));
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count() as u64;
    assert_eq!(status["schema_version"].as_u64(), Some(migrations));
    assert!(status["database_bytes"].as_u64().unwrap() > 0);
    assert_eq!(status["peer"]["admin"], true);

    let socket = home.socket();
    assert!(socket.exists());
    let log = daemon.log.clone();
    let exit = daemon.stop();
    assert!(exit.success(), "SIGTERM exit status: {exit}");
    assert!(!socket.exists(), "the socket is removed at shutdown");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("bangui stopped"), "{text}");
}

#[test]
fn a_second_daemon_on_the_same_state_is_refused_with_the_pid() {
    let home = Home::new();
    let daemon = home.start();
    // Another socket, so that only the state lock can stop it.
    let out = home
        .daemon_command()
        .arg("--socket")
        .arg(home.path().join("other.sock"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("pid {}", daemon.pid())), "{err}");
    assert!(err.contains("already running"), "{err}");
    // The first one is unharmed.
    assert!(daemon.ctl(&["ping"]).status.success());
}

#[test]
fn a_stale_socket_is_removed_and_a_live_one_refused() {
    let home = Home::new();
    // A socket file nobody listens on: what a killed daemon leaves behind.
    drop(std::os::unix::net::UnixListener::bind(home.socket()).unwrap());
    assert!(home.socket().exists());
    let daemon = home.start();
    daemon.wait_log("removed a stale socket");
    assert!(daemon.ctl(&["ping"]).status.success());

    // A second daemon with its own state but the same socket must not steal it.
    let other = Home::new();
    other.write_config("");
    let out = other
        .daemon_command()
        .arg("--socket")
        .arg(home.socket())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("already answering"),
        "{}",
        describe(&out)
    );
    assert!(daemon.ctl(&["ping"]).status.success());
}

#[test]
fn kill_9_leaves_a_socket_the_next_start_cleans_up() {
    let home = Home::new();
    let daemon = home.start();
    daemon.kill();
    assert!(home.socket().exists(), "SIGKILL leaves the socket file");
    let daemon = home.start();
    assert!(daemon.ctl(&["ping"]).status.success());
    assert!(daemon.stop().success());
}

#[test]
fn check_config_validates_and_exits() {
    let home = Home::new();
    home.write_config("[jobs.session_cleanup]\ninterval = \"2h\"\n");
    let out = home
        .daemon_command()
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("configuration ok"), "{text}");
    assert!(
        text.contains("session_cleanup") && text.contains("2h"),
        "{text}"
    );
    assert!(!home.state_dir().exists(), "--check-config creates nothing");
}

#[test]
fn unknown_config_keys_stop_start_up_naming_key_and_file() {
    let home = Home::new();
    home.write_config("log_levle = \"debug\"\n");
    let out = home.daemon_command().output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("log_levle"), "{err}");
    assert!(err.contains(&home.config().display().to_string()), "{err}");
    assert!(!home.socket().exists());
}

#[test]
fn environment_overrides_the_file() {
    let home = Home::new();
    home.write_config("");
    let socket = home.path().join("from-env.sock");
    let out = home
        .daemon_command()
        .arg("--check-config")
        .env("BANGUI_SOCKET", &socket)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout(&out).contains(&socket.display().to_string()),
        "{}",
        describe(&out)
    );
}

#[test]
fn runs_as_an_ordinary_user_with_no_config_and_the_ctl_finds_it() {
    use std::os::unix::process::CommandExt;
    // A non-root user's defaults: everything under XDG directories, and the
    // ctl, given no --socket, finds the daemon's socket by itself.
    let home = Home::new();
    let user_home = home.path().join("home");
    let runtime = home.path().join("run");
    for dir in [&user_home, &runtime] {
        std::fs::create_dir(dir).unwrap();
        nix::unistd::chown(
            dir.as_path(),
            Some(nix::unistd::Uid::from_raw(65534)),
            Some(nix::unistd::Gid::from_raw(65534)),
        )
        .unwrap();
    }
    let as_user = |program: std::path::PathBuf| {
        let mut cmd = std::process::Command::new(program);
        cmd.env_clear()
            .env("HOME", &user_home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .uid(65534)
            .gid(65534);
        cmd
    };
    let log = std::fs::File::create(home.path().join("user-daemon.log")).unwrap();
    let mut daemon = as_user(home.shared_bin("bangui"))
        .stderr(log)
        .spawn()
        .unwrap();
    let ctl = home.shared_bin("bangui-ctl");
    let status = bangui_tests::wait_for("the user daemon to answer", || {
        let out = as_user(ctl.clone())
            .args(["--json", "status"])
            .output()
            .unwrap();
        out.status.success().then_some(out)
    });
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["socket"],
        runtime.join("bangui/bangui.sock").display().to_string()
    );
    assert_eq!(
        status["state_dir"],
        user_home.join(".local/state/bangui").display().to_string()
    );
    assert_eq!(status["peer"]["uid"], 65534);
    assert_eq!(
        status["peer"]["admin"], true,
        "the daemon's own user is an admin"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let exit = bangui_tests::wait_for("the user daemon to exit", || daemon.try_wait().unwrap());
    assert!(exit.success(), "{exit}");
    assert!(!runtime.join("bangui/bangui.sock").exists());
}
