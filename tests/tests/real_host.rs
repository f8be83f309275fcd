//! bangui as an administrator meets it on a real host: the ctl finds the
//! daemon by itself, exit codes say what happened, unban reaches every jail,
//! a log-level typo cannot silence the daemon, big argument lists work,
//! durations read alike everywhere, the fail2ban status is current and says
//! why fail2ban cannot be reached, and errors read once, in plain words.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::Duration;

use bangui_tests::fail2ban::{Fail2banConf, Fail2banServer, addresses};
use bangui_tests::lists::{ListServer, Serve};
use bangui_tests::{Daemon, Home, bin, describe, stderr, stdout, wait_for};
use serde_json::Value;

/// A daemon beside a real fail2ban with an extra jail `sshd-test`; health
/// checked every `health` (long ones prove that changes refresh the snapshot).
fn rig(health: &str, extra: &str) -> (Home, Fail2banConf, Fail2banServer, Daemon) {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail("sshd-test", "");
    home.write_config(&format!(
        "{}{extra}\n[jobs.health_check]\ninterval = {health:?}\n[jobs.blocklist_import]\nenabled = false\n",
        conf.daemon_section()
    ));
    // bangui writes its jail files first; fail2ban starts with them.
    let daemon = home.start();
    let server = conf.start();
    let out = daemon.ctl(&["fail2ban", "status", "--live"]);
    assert!(out.status.success(), "{}", describe(&out));
    (home, conf, server, daemon)
}

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn the_ctl_finds_the_daemon_without_flags_and_says_where_it_looked() {
    let home = Home::new();
    home.write_config("socket_group = \"nogroup\"\n");
    let daemon = home.start();
    let ctl = home.shared_bin("bangui-ctl");
    // Everything in a private mount namespace with its own /run, so that a
    // bangui running on this machine can never answer for the test's.
    let run = |env: &[(&str, String)], args: &str| {
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs tmpfs /run && exec {} {args}",
                ctl.display()
            ))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // The config file the daemon uses names the socket: found through it.
    let out = run(
        &[("BANGUI_CONFIG", home.config().display().to_string())],
        "status",
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout(&out).contains(&home.socket().display().to_string()),
        "{}",
        describe(&out)
    );
    // Nothing anywhere: exit 3, and the message lists every place tried.
    let empty = home.path().join("empty.toml");
    std::fs::write(
        &empty,
        format!(
            "[daemon]\nsocket = {:?}\n",
            home.path().join("gone.sock").display().to_string()
        ),
    )
    .unwrap();
    let out = run(&[("BANGUI_CONFIG", empty.display().to_string())], "status");
    assert_eq!(code(&out), Some(3), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("tried, in order"), "{err}");
    assert!(err.contains("gone.sock (daemon.socket in"), "{err}");
    assert!(
        err.contains("/run/bangui/bangui.sock (the system socket): no socket"),
        "{err}"
    );
    // A user with a runtime directory: the per-user socket comes before the
    // system one. The daemon is moved there, and nobody finds it unaided.
    // (The runtime directory must be nobody's to pass through.)
    daemon.stop();
    let runtime = home.path().join("run-nobody");
    std::fs::create_dir_all(runtime.join("bangui")).unwrap();
    home.write_config("socket_group = \"nogroup\"\n");
    let text = std::fs::read_to_string(home.config()).unwrap().replace(
        &format!("{:?}", home.socket().display().to_string()),
        &format!(
            "{:?}",
            runtime.join("bangui/bangui.sock").display().to_string()
        ),
    );
    std::fs::write(home.config(), text).unwrap();
    let mut daemon = home.spawn_with(|_| {});
    let socket = runtime.join("bangui/bangui.sock");
    wait_for("the daemon on the per-user socket", || {
        socket.exists().then_some(())
    });
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&ctl)
        .arg("status")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    // nobody's group owns the socket (nogroup): found and answered.
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout(&out).contains(&socket.display().to_string()),
        "{}",
        describe(&out)
    );
    assert!(daemon.exited().is_none());
}

#[test]
fn exit_codes_tell_the_truth_and_monitoring_has_one_check() {
    let (_home, conf, server, daemon) = rig("1h", "");
    // Documentation ranges are refused: a distinct status, not success.
    let out = daemon.ctl(&["ban", "192.0.2.7", "198.51.100.0/24"]);
    assert_eq!(code(&out), Some(8), "{}", describe(&out));
    assert!(
        stdout(&out).contains("refused, not banned: 2"),
        "{}",
        describe(&out)
    );
    assert!(
        stderr(&out).contains("2 of 2 target(s) refused"),
        "{}",
        describe(&out)
    );
    // One invalid among valid ones: the valid one is banned, the status says not all were.
    let out = daemon.ctl(&["ban", "notanip", "45.33.32.156"]);
    assert_eq!(code(&out), Some(8), "{}", describe(&out));
    assert!(
        stdout(&out).contains("banned 45.33.32.156 in bangui-manual"),
        "{}",
        describe(&out)
    );
    assert_eq!(server.banned("bangui-manual"), ["45.33.32.156"]);
    // `banned` answers by status, like grep -q.
    let out = daemon.ctl(&["banned", "9.9.9.9"]);
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains("9.9.9.9 is not banned"));
    assert!(stderr(&out).is_empty(), "{}", describe(&out));
    let out = daemon.ctl(&["banned", "45.33.32.156"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let out = daemon.ctl(&["banned", "bogus"]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    // Invalid arguments the daemon finds are usage errors too.
    for args in [
        &["history", "list", "--limit", "0"][..],
        &["geo", "lookup", "bogus"][..],
        &["--timeout", "soon", "ping"][..],
    ] {
        let out = daemon.ctl(args);
        assert_eq!(code(&out), Some(2), "{args:?}: {}", describe(&out));
    }
    // One duration syntax: bare seconds work wherever a duration is asked.
    let out = daemon.ctl(&["--timeout", "300", "ping"]);
    assert!(out.status.success(), "{}", describe(&out));
    let list = home_list(&daemon);
    let out = daemon.ctl(&[
        "blocklist",
        "add",
        "secs",
        &list,
        "--interval",
        "3600",
        "--local",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        daemon.ctl_json(&["blocklist", "show", "secs"])["interval_secs"],
        3600
    );

    let out = daemon.ctl(&["status", "--check"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert!(stdout(&out).starts_with("OK: "), "{}", describe(&out));
    drop(server);
    let out = daemon.ctl(&["status", "--check"]);
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).starts_with("CRITICAL: fail2ban is down"),
        "{}",
        describe(&out)
    );
    let json = daemon.ctl(&["--json", "status", "--check"]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    // fail2ban down: `banned` cannot tell, and says so with its own status.
    let out = daemon.ctl(&["banned", "45.33.32.156"]);
    assert_eq!(code(&out), Some(9), "{}", describe(&out));
    drop(conf);
}

/// A file:// list in the daemon's home, for sources that need a URL that works.
fn home_list(daemon: &Daemon) -> String {
    let dir = daemon.socket.parent().unwrap().join("lists");
    let path = dir.join("list.txt");
    std::fs::write(&path, "45.33.32.0/24\n").unwrap();
    format!("file://{}", path.display())
}

#[test]
fn unban_lifts_an_address_from_every_jail_that_holds_it() {
    let (_home, _conf, server, daemon) = rig("1h", "");
    let out = daemon.ctl(&["ban", "45.33.32.156", "--jail", "sshd-test"]);
    assert!(out.status.success(), "{}", describe(&out));
    server
        .client(&["set", "bangui-manual", "banip", "45.33.32.157"])
        .unwrap();
    let out = daemon.ctl(&["unban", "45.33.32.156"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout(&out).trim(),
        "unbanned 45.33.32.156 in sshd-test",
        "{}",
        describe(&out)
    );
    assert!(server.banned("sshd-test").is_empty());
    // Not banned anywhere is what was asked: success, said plainly.
    let out = daemon.ctl(&["unban", "45.33.32.156"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout(&out).contains("45.33.32.156 was not banned in any of fail2ban's"),
        "{}",
        describe(&out)
    );
    // --jail restricts.
    let out = daemon.ctl(&["unban", "45.33.32.157", "--jail", "sshd-test"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("45.33.32.157 was not banned in sshd-test"));
    assert_eq!(server.banned("bangui-manual"), ["45.33.32.157"]);
    let out = daemon.ctl(&["--json", "unban", "45.33.32.157", "11.0.0.9"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["all_jails"], true);
    let manual = report["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["jail"] == "bangui-manual")
        .unwrap();
    assert_eq!(
        (manual["sent"].as_u64(), manual["changed"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(server.banned("bangui-manual").is_empty());
}

#[test]
fn a_log_level_typo_is_refused_everywhere_it_can_be_given() {
    let home = Home::new();
    home.write_config("");
    // No variable over the setting: `config set` applies live.
    let daemon = home.start_with(|cmd| {
        cmd.env_remove("BANGUI_LOG_LEVEL");
    });
    let out = daemon.ctl(&["config", "set", "daemon.log_level", "verbose"]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("`verbose` is not a log level"), "{err}");
    assert!(err.contains("error, warn, info, debug, trace"), "{err}");
    // fail2ban's names are taken as their nearest level, and the daemon keeps logging.
    let out = daemon.ctl(&["config", "set", "daemon.log_level", "notice"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("applies now"), "{}", describe(&out));
    let list = home_list(&daemon);
    let out = daemon.ctl(&["blocklist", "add", "after", &list, "--local"]);
    assert!(out.status.success(), "{}", describe(&out));
    daemon.wait_log("blocklist source added");
    daemon.stop();

    // The variable, the flag and the file are checked alike, at start and by --check-config.
    let refused = |out: &std::process::Output| {
        assert_eq!(code(out), Some(2), "{}", describe(out));
        assert!(
            stderr(out).contains("is not a log level"),
            "{}",
            describe(out)
        );
    };
    let out = home
        .daemon_command()
        .env("BANGUI_LOG_LEVEL", "bogus")
        .arg("--check-config")
        .output()
        .unwrap();
    refused(&out);
    let out = home
        .daemon_command()
        .args(["--log-level", "verbose"])
        .output()
        .unwrap();
    refused(&out);
    home.write_config("log_level = \"loud\"\n");
    let out = home
        .daemon_command()
        .arg("--check-config")
        .output()
        .unwrap();
    refused(&out);
    home.write_config("log_level = \"notice\"\n");
    let out = home
        .daemon_command()
        .env_remove("BANGUI_LOG_LEVEL")
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn fifty_thousand_arguments_are_banned_in_requests_that_fit() {
    let (_home, _conf, server, daemon) = rig("1h", "");
    let list = addresses(50_000);
    let mut args = vec!["--json", "ban"];
    args.extend(list.iter().map(String::as_str));
    let out = daemon.ctl(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["jails"][0]["changed"], 50_000);
    assert_eq!(server.banned("bangui-manual").len(), 50_000);
    let mut args = vec!["banned", "--quiet"];
    args.extend(list.iter().map(String::as_str));
    let out = daemon.ctl(&args);
    assert!(out.status.success(), "{}", describe(&out));

    // A frame within the frame limit that cannot decode within the daemon's
    // limits is answered with a typed error, and the connection goes on.
    let rt = bangui_tests::runtime();
    rt.block_on(async {
        let mut client =
            bangui_proto::Client::connect(&daemon.socket, "test", Some(Duration::from_secs(20)))
                .await
                .unwrap();
        let huge = bangui_proto::Request::Ban(bangui_proto::messages::BanRequest {
            targets: vec![String::new(); bangui_proto::MAX_FRAME_LEN - 64],
            jail: None,
        });
        match client.call(huge).await {
            Err(bangui_proto::ClientError::Daemon(e)) => {
                assert_eq!(e.code, bangui_proto::ErrorCode::TooLarge, "{e}");
                assert!(e.message.contains("MiB"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            client.call(bangui_proto::Request::Ping).await,
            Ok(bangui_proto::Response::Pong(_))
        ));
    });
}

#[test]
fn the_fail2ban_status_is_current_after_bangui_s_own_changes() {
    let lists = ListServer::start();
    let entries: Vec<String> = (0..2_000)
        .map(|i| format!("45.{}.{}.1", 100 + i / 250, i % 250))
        .collect();
    lists.set_lines("big.txt", &entries);
    // The scheduled check runs once an hour: only the refresh can explain fresh counts.
    let (_home, _conf, _server, daemon) = rig(
        "1h",
        "[[blocklist.source]]\nname = \"ghost-list\"\nurl = \"http://127.0.0.1:9/x\"\nlocal = true\njail = \"ghost\"\nenabled = true\n",
    );
    let out = daemon.ctl(&["blocklist", "add", "big", &lists.url("big.txt"), "--local"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = daemon.ctl(&["blocklist", "run", "big", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    let health = daemon.ctl_json(&["fail2ban", "status"]);
    let jail = health["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "bangui-blocklist")
        .unwrap();
    assert_eq!(jail["currently_banned"], 2_000, "{health}");
    let human = stdout(&daemon.ctl(&["fail2ban", "status"]));
    assert!(human.contains("(checked "), "{human}");
    // A source's jail that fail2ban lacks is flagged, and fails the check.
    assert_eq!(
        health["missing_jails"],
        serde_json::json!(["ghost"]),
        "{health}"
    );
    assert!(
        human.contains("ghost") && human.contains("MISSING"),
        "{human}"
    );
    let check = daemon.ctl(&["status", "--check"]);
    assert_eq!(code(&check), Some(1), "{}", describe(&check));
    assert!(stdout(&check).contains("fail2ban has not loaded ghost"));
    // Refused at `add`, with the fix: a jail fail2ban does not have, a missing file.
    let out = daemon.ctl(&[
        "blocklist",
        "add",
        "x",
        &lists.url("big.txt"),
        "--jail",
        "nosuchjail",
        "--local",
    ]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("fail2ban has no jail `nosuchjail`")
            && stderr(&out).contains("fail2ban-client reload"),
        "{}",
        describe(&out)
    );
    let missing = daemon
        .socket
        .parent()
        .unwrap()
        .join("lists/no-such-list.txt");
    let url = format!("file://{}", missing.display());
    let out = daemon.ctl(&["blocklist", "add", "y", &url, "--local"]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains(&format!("cannot read {}", missing.display())),
        "{}",
        describe(&out)
    );
    // Outside blocklist.file_dir: refused whether or not the file is there.
    let out = daemon.ctl(&["blocklist", "add", "z", "file:///etc/passwd"]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("blocklist.file_dir"),
        "{}",
        describe(&out)
    );
    // The live query asks fail2ban now.
    let live = daemon.ctl_json(&["fail2ban", "status", "--live"]);
    assert!(live["checked_at"].as_i64().unwrap() >= health["checked_at"].as_i64().unwrap());
}

#[test]
fn a_fail2ban_socket_bangui_may_not_open_is_not_fail2ban_down() {
    let home = Home::new();
    // A socket that exists and listens, but grants its owner nothing.
    let socket = home.path().join("f2b.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o000)).unwrap();
    home.write_config(&format!(
        "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\nfirewall = \"stock\"\n[jobs.health_check]\ninterval = \"1s\"\n",
        socket.display().to_string(),
        home.path().join("no-fail2ban").display().to_string()
    ));
    // Root without capabilities, as the packaged unit runs it: the file's
    // mode applies to it.
    let daemon = home.start_under(&["setpriv", "--bounding-set=-all", "--"], |_, _| {});
    let health = wait_for("the check to run", || {
        let h = daemon.ctl_json(&["fail2ban", "status"]);
        (h["state"] != "unknown").then_some(h)
    });
    assert_eq!(health["state"], "denied", "{health}");
    let hint = health["hint"].as_str().unwrap();
    assert!(hint.contains("may not open its socket"), "{hint}");
    assert!(!hint.contains("systemctl start fail2ban"), "{hint}");
    let human = stdout(&daemon.ctl(&["status"]));
    assert!(human.contains("fail2ban   NO ACCESS to"), "{human}");
    // Said once, without the cause twice.
    let error = health["error"].as_str().unwrap();
    assert_eq!(error.matches("Permission denied").count(), 1, "{error}");
}

#[test]
fn download_errors_name_the_url_and_read_once() {
    let lists = ListServer::start();
    lists.set("gone.txt", Serve::Status(404));
    lists.set_lines("plain.txt", &["45.33.32.1".to_string()]);
    lists.set_lines(
        "broad.txt",
        &["45.33.32.1".to_string(), "224.0.0.0/3".to_string()],
    );
    let (_home, _conf, _server, daemon) = rig("1h", "[blocklist]\nretries = 0\n");
    let gone = lists.url("gone.txt");
    daemon.ctl(&["blocklist", "add", "gone", &gone, "--local"]);
    let out = daemon.ctl(&["blocklist", "run", "gone", "--wait"]);
    assert_eq!(code(&out), Some(7), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "download of {gone} failed: the server answered HTTP 404 (not found"
        )),
        "{text}"
    );
    // https:// to a server that speaks plain HTTP: what to check, once.
    let tls = lists.url("plain.txt").replace("http://", "https://");
    daemon.ctl(&["blocklist", "add", "tls", &tls, "--local"]);
    let out = daemon.ctl(&["blocklist", "run", "tls", "--wait"]);
    assert_eq!(code(&out), Some(7), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("did not answer with TLS"), "{text}");
    assert!(!text.contains("corrupt message"), "{text}");
    assert_eq!(text.matches("did not answer with TLS").count(), 1, "{text}");
    // A too-broad line is listed as such, not under "invalid".
    daemon.ctl(&[
        "blocklist",
        "add",
        "broad",
        &lists.url("broad.txt"),
        "--local",
    ]);
    let out = daemon.ctl(&["blocklist", "plan", "broad"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("0 invalid") && text.contains("1 too broad"),
        "{text}"
    );
    assert!(
        text.contains("refused  line 2 (too broad): `224.0.0.0/3`"),
        "{text}"
    );
    // A hand-typed ban of everything is refused as too broad, not as "loopback".
    let out = daemon.ctl(&["--json", "ban", "0.0.0.0/0"]);
    assert_eq!(code(&out), Some(8), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["refused"][0]["reason"], "too-broad");
}

#[test]
fn ctrl_c_while_waiting_says_the_import_goes_on() {
    let lists = ListServer::start();
    lists.set("slow.txt", Serve::Endless);
    let (_home, _conf, _server, daemon) =
        rig("1h", "[blocklist]\ntimeout = \"30s\"\nretries = 0\n");
    daemon.ctl(&[
        "blocklist",
        "add",
        "slow",
        &lists.url("slow.txt"),
        "--local",
    ]);
    let child = Command::new(bin("bangui-ctl"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["blocklist", "run", "slow", "--wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the import to start", || {
        let runs = daemon.ctl_json(&["blocklist", "runs", "slow"]);
        (runs[0]["status"] == "running").then_some(())
    });
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), Some(130), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("the import goes on in the daemon"), "{err}");
    assert!(err.contains("`bangui-ctl blocklist runs slow`"), "{err}");
    let runs = daemon.ctl_json(&["blocklist", "runs", "slow"]);
    assert_eq!(runs[0]["status"], "running", "{runs}");
}

#[test]
fn bans_made_and_lifted_through_bangui_reach_the_history_at_once() {
    // No scheduled sync: only what bangui records itself can explain the rows.
    let (_home, _conf, server, daemon) = rig("1h", "[jobs.history_sync]\nenabled = false\n");
    let bans_of = |ip: &str| -> Vec<Value> {
        daemon.ctl_json(&["history", "ip", ip])["bans"]
            .as_array()
            .unwrap()
            .clone()
    };
    // Banned and lifted through bangui before any sync: fail2ban keeps no row.
    let out = daemon.ctl(&["ban", "45.33.32.156"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = daemon.ctl(&["unban", "45.33.32.156"]);
    assert!(out.status.success(), "{}", describe(&out));
    let rows = bans_of("45.33.32.156");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["jail"], "bangui-manual");
    assert!(rows[0]["unbanned_at"].is_i64(), "{rows:?}");
    // A fail2ban jail's own ban, lifted with bangui-ctl before any sync.
    server
        .client(&["set", "sshd-test", "banip", "45.33.32.157"])
        .unwrap();
    wait_for("fail2ban to store its ban", || {
        server.has_stored("sshd-test", "45.33.32.157").then_some(())
    });
    let out = daemon.ctl(&["unban", "45.33.32.157"]);
    assert!(out.status.success(), "{}", describe(&out));
    let rows = bans_of("45.33.32.157");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["jail"], "sshd-test");
    assert!(rows[0]["unbanned_at"].is_i64(), "{rows:?}");
    // A ban in force: recorded now, and the sync later adopts fail2ban's row
    // for it instead of adding a second.
    let out = daemon.ctl(&["ban", "45.33.32.158"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(bans_of("45.33.32.158").len(), 1);
    wait_for("fail2ban to store the ban", || {
        server
            .has_stored("bangui-manual", "45.33.32.158")
            .then_some(())
    });
    let out = daemon.ctl(&["jobs", "run", "history_sync", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    for ip in ["45.33.32.156", "45.33.32.157", "45.33.32.158"] {
        assert_eq!(bans_of(ip).len(), 1, "{ip}: one row per ban after the sync");
    }
    let kept = bans_of("45.33.32.158");
    assert!(kept[0]["unbanned_at"].is_null(), "{kept:?}");
    let list = stdout(&daemon.ctl(&["history", "list", "--ip", "45.33.32.156"]));
    assert!(list.contains("LIFTED") && list.contains("after "), "{list}");
}

#[test]
fn removing_a_big_source_shows_its_unbans_progress_on_a_terminal() {
    let script = std::path::Path::new("/usr/bin/script");
    assert!(
        script.exists(),
        "/usr/bin/script is missing: apt-get install bsdutils (it gives the ctl a terminal)"
    );
    let lists = ListServer::start();
    let entries: Vec<String> = addresses(30_000);
    lists.set_lines("big.txt", &entries);
    let (_home, _conf, server, daemon) = rig("1h", "");
    daemon.ctl(&["blocklist", "add", "big", &lists.url("big.txt"), "--local"]);
    let out = daemon.ctl(&["blocklist", "run", "big", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    let last = entries.last().unwrap();
    wait_for("fail2ban to store the bans", || {
        server.has_stored("bangui-blocklist", last).then_some(())
    });
    // `script` runs the ctl on a pseudo-terminal and copies what it drew.
    let command = format!(
        "{} --socket {} blocklist remove big --unban",
        bin("bangui-ctl").display(),
        daemon.socket.display()
    );
    let out = Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let drawn = stdout(&out);
    assert!(
        drawn.contains("big unbanning"),
        "no progress drawn: {drawn}"
    );
    assert!(drawn.contains("removed big; 30000 unbanned"), "{drawn}");
    assert!(server.banned("bangui-blocklist").is_empty());
}
