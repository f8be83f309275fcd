//! systemd integration through the real daemon: notifications on a stand-in
//! notify socket, the watchdog, SIGHUP reload, socket activation with
//! systemd-socket-activate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bangui_tests::notify::NotifySocket;
use bangui_tests::stand_in::FakeFail2ban;
use bangui_tests::{Home, describe, wait_for};
use nix::sys::signal::Signal;

fn notify(home: &Home) -> NotifySocket {
    NotifySocket::start(&home.path().join("notify.sock"), Some(home.socket()))
}

#[test]
fn ready_comes_after_the_socket_answers_and_stopping_comes_first_on_sigterm() {
    let home = Home::new();
    let n = notify(&home);
    let daemon = home.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &n.path);
    });
    let ready = n.wait_for("READY=1");
    assert_eq!(
        ready.ping_on_ready,
        Some(true),
        "the socket did not answer at READY"
    );
    let status = ready.value("STATUS").unwrap();
    assert!(status.contains("fail2ban"), "{status}");
    assert_eq!(n.messages().iter().filter(|m| m.has("READY=1")).count(), 1);

    daemon.stop();
    let stopping = n.wait_for("STOPPING=1");
    assert!(stopping.at > ready.at);
    assert!(stopping.value("STATUS").unwrap().starts_with("stopping"));
}

#[test]
fn a_broken_config_gives_no_ready_a_status_and_a_failure_exit() {
    let home = Home::new();
    let n = notify(&home);
    home.write_config("no_such_key = 1\n");
    let mut cmd = home.daemon_command();
    let out = cmd.env("NOTIFY_SOCKET", &n.path).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let status = wait_for("a STATUS line", || {
        n.messages().into_iter().find_map(|m| m.value("STATUS"))
    });
    assert!(status.contains("no_such_key"), "{status}");
    assert!(!n.messages().iter().any(|m| m.has("READY=1")));

    // A failure after the config is read: the state directory is taken.
    let home = Home::new();
    let first = home.start();
    let n = notify(&home);
    let out = home
        .daemon_command()
        .env("NOTIFY_SOCKET", &n.path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let status = wait_for("a STATUS line", || {
        n.messages().into_iter().find_map(|m| m.value("STATUS"))
    });
    assert!(status.starts_with("failed:"), "{status}");
    assert!(!n.messages().iter().any(|m| m.has("READY=1")));
    first.stop();
}

#[test]
fn watchdog_pings_at_half_the_interval_and_stop_when_the_loop_hangs() {
    let home = Home::new();
    let n = notify(&home);
    let _daemon = home.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &n.path)
            .env("WATCHDOG_USEC", "400000");
    });
    n.wait_for("READY=1");
    let since = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let pings = n.count_since("WATCHDOG=1", since);
    // Every 200 ms: about ten in two seconds (loose bounds: the suite runs in parallel).
    assert!((5..=13).contains(&pings.len()), "{} pings", pings.len());
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(150) && gap <= Duration::from_millis(700),
            "{gap:?}"
        );
    }

    std::fs::write(home.state_dir().join("test-freeze-loop"), "").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let since = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        n.count_since("WATCHDOG=1", since).is_empty(),
        "pings from a hung loop"
    );
}

#[test]
fn watchdog_pings_stop_while_the_database_thread_hangs() {
    let home = Home::new();
    let n = notify(&home);
    let _daemon = home.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &n.path)
            .env("WATCHDOG_USEC", "400000");
    });
    n.wait_for("WATCHDOG=1");
    let freeze = home.state_dir().join("test-freeze-db");
    std::fs::write(&freeze, "").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let since = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        n.count_since("WATCHDOG=1", since).is_empty(),
        "pings while the database hangs"
    );
    std::fs::remove_file(&freeze).unwrap();
    let since = Instant::now();
    wait_for("pings to resume", || {
        (!n.count_since("WATCHDOG=1", since).is_empty()).then_some(())
    });
}

#[test]
fn a_slow_shutdown_extends_the_stop_timeout() {
    let home = Home::new();
    home.write_config("shutdown_grace = \"10s\"\n");
    let n = notify(&home);
    let daemon = home.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &n.path)
            .env("BANGUI_TEST_SLEEP_MS", "3000");
    });
    let out = daemon.ctl(&["jobs", "run", "test_sleep"]);
    assert!(out.status.success(), "{}", describe(&out));
    daemon.stop();
    let extend = n.wait_for_key("EXTEND_TIMEOUT_USEC");
    let usec: u64 = extend
        .value("EXTEND_TIMEOUT_USEC")
        .unwrap()
        .parse()
        .unwrap();
    assert!(usec >= 10_000_000, "{usec}");
    assert_eq!(extend.value("STATUS").unwrap(), "stopping: running jobs");
}

#[test]
fn sighup_reloads_the_file_and_a_bad_file_keeps_the_running_config() {
    let home = Home::new();
    let n = notify(&home);
    home.write_config("[jobs.session_cleanup]\ninterval = \"6h\"\n");
    let daemon = home.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &n.path);
    });
    n.wait_for("READY=1");
    let interval = |daemon: &bangui_tests::Daemon| {
        let jobs = daemon.ctl_json(&["jobs", "list"]);
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == "session_cleanup")
            .unwrap()["interval_ms"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(interval(&daemon), 6 * 3600 * 1000);

    home.write_config(
        "[jobs.session_cleanup]\ninterval = \"2h\"\n[allowlist]\nnetworks = [\"192.0.2.0/24\"]\n\
         [[blocklist.source]]\nname = \"reloaded\"\nurl = \"http://127.0.0.1:9/list.txt\"\nlocal = true\n\
         [history]\nretention_days = 30\n",
    );
    let since = Instant::now();
    daemon.signal(Signal::SIGHUP);
    wait_for("RELOADING=1", || {
        (!n.count_since("RELOADING=1", since).is_empty()).then_some(())
    });
    let reloading = n
        .messages()
        .into_iter()
        .find(|m| m.has("RELOADING=1"))
        .unwrap();
    assert!(reloading.value("MONOTONIC_USEC").is_some());
    wait_for("READY=1 after the reload", || {
        n.messages()
            .into_iter()
            .find(|m| m.at > reloading.at && m.has("READY=1"))
    });
    assert_eq!(interval(&daemon), 2 * 3600 * 1000);
    let sources = daemon.ctl_json(&["blocklist", "list"]);
    assert_eq!(sources[0]["name"], "reloaded", "{sources}");
    let networks = daemon.ctl_json(&["config", "show", "allowlist.networks"]);
    assert_eq!(
        networks["entries"][0]["value"], "[\"192.0.2.0/24\"]",
        "{networks}"
    );
    assert!(
        networks["entries"][0]["next_start"].is_null(),
        "applied live"
    );
    let view = daemon.ctl_json(&["config", "show", "history.retention_days"]);
    assert_eq!(view["entries"][0]["next_start"]["value"], "30", "{view}");

    // A broken file: the running configuration stays, and the log and STATUS say why.
    home.write_config("[jobs.session_cleanup]\ninterval = \"soon\"\n");
    let since = Instant::now();
    daemon.signal(Signal::SIGHUP);
    let status = wait_for("a STATUS naming the failed reload", || {
        n.messages()
            .into_iter()
            .filter(|m| m.at >= since)
            .find_map(|m| m.value("STATUS").filter(|s| s.contains("reload failed")))
    });
    assert!(status.contains("not a duration"), "{status}");
    assert_eq!(interval(&daemon), 2 * 3600 * 1000);
    assert!(daemon.log_text().contains("reload failed"));
}

/// fail2ban's version string comes from outside: a newline in it must not
/// become a second assignment on the notify socket.
#[test]
fn a_hostile_fail2ban_version_yields_one_status_line() {
    let home = Home::new();
    let fake = FakeFail2ban::start(
        &home.path().join("fake-f2b.sock"),
        "1.0.2\nREADY=1\r\x1b[2J",
    );
    home.write_config(&format!(
        "[fail2ban]\nsocket = {:?}\nmanage_jails = false\n",
        fake.socket.display().to_string()
    ));
    let n = notify(&home);
    let daemon = home.start_with(|cmd| {
        cmd.env("NOTIFY_SOCKET", &n.path);
    });
    let status = wait_for("a STATUS with fail2ban's version", || {
        n.messages()
            .into_iter()
            .find_map(|m| m.value("STATUS").filter(|s| s.contains("1.0.2")))
    });
    assert!(status.contains("fail2ban 1.0.2 READY=1"), "{status}");
    for m in n.messages() {
        for line in m.text.lines() {
            let key = line.split('=').next().unwrap_or_default();
            assert!(
                !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "a stray line `{line}` in {:?}",
                m.text
            );
            assert!(!line.contains('\r') && !line.contains('\x1b'), "{line:?}");
        }
    }
    assert_eq!(n.messages().iter().filter(|m| m.has("READY=1")).count(), 1);
    daemon.stop();
}

#[test]
fn systemd_socket_activate_passes_the_socket_and_ping_works_through_it() {
    let activate = std::path::Path::new("/usr/bin/systemd-socket-activate");
    assert!(
        activate.exists(),
        "systemd-socket-activate is missing: apt-get install systemd"
    );
    let home = Home::new();
    home.write_config("");
    let socket = home.path().join("activated.sock");
    let log = std::fs::File::create(home.path().join("activated.log")).unwrap();
    let mut child = std::process::Command::new(activate)
        .arg("-l")
        .arg(&socket)
        .arg(bangui_tests::bin("bangui"))
        .arg("--config")
        .arg(home.config())
        .env_remove("NOTIFY_SOCKET")
        .stderr(log)
        .spawn()
        .unwrap();
    wait_for("the activation socket", || socket.exists().then_some(()));
    let out = bangui_tests::run_ctl(
        &bangui_tests::bin("bangui-ctl"),
        &socket,
        &["ping"],
        None,
        |_| {},
    );
    assert!(out.status.success(), "{}", describe(&out));
    let status = bangui_tests::run_ctl(
        &bangui_tests::bin("bangui-ctl"),
        &socket,
        &["--json", "status"],
        None,
        |_| {},
    );
    assert!(status.status.success(), "{}", describe(&status));
    // The configured socket was never bound.
    assert!(!home.socket().exists());

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(socket.exists(), "the passed socket was unlinked");
    let log = std::fs::read_to_string(home.path().join("activated.log")).unwrap();
    assert!(log.contains("socket_activated=true"), "{log}");
}
