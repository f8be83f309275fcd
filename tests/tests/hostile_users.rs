//! A hostile local user (a member of the socket group, so a reader) against
//! the daemon: whatever it asks, state it was not asked to keep does not grow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bangui_tests::{Home, describe, rss_kib};

/// The ctl as nobody:nogroup, the socket's group here: a reader, started
/// with `stdin` written to it.
fn spawn_reader(home: &Home, args: &[&str], stdin: &str) -> std::process::Child {
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(home.shared_bin("bangui-ctl"))
        .arg("--socket")
        .arg(home.socket())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
    }
    child
}

/// [`spawn_reader`], waited for.
fn as_reader(home: &Home, args: &[&str], stdin: &str) -> std::process::Output {
    spawn_reader(home, args, stdin).wait_with_output().unwrap()
}

/// A daemon (`daemon_keys` in its `[daemon]` section) beside a real
/// fail2ban, imports by hand only.
fn with_fail2ban(
    daemon_keys: &str,
) -> (
    Home,
    bangui_tests::Daemon,
    bangui_tests::fail2ban::Fail2banServer,
) {
    let home = Home::new();
    let conf = bangui_tests::fail2ban::Fail2banConf::new(&home);
    home.write_config(&format!(
        "{daemon_keys}{}\n[jobs.blocklist_import]\nenabled = false\n",
        conf.daemon_section()
    ));
    let daemon = home.start();
    let server = conf.start();
    (home, daemon, server)
}

fn geo_rows(home: &Home) -> i64 {
    let conn = rusqlite::Connection::open(home.database()).unwrap();
    conn.query_row("SELECT count(*) FROM geo_cache", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_reader_s_lookup_flood_grows_neither_memory_nor_the_database() {
    let home = Home::new();
    home.write_config("socket_group = \"nogroup\"\n");
    let daemon = home.start();
    let rows_before = geo_rows(&home);
    let started = Instant::now();
    let mut asked = 0u64;
    let mut round = 0u32;
    while started.elapsed() < Duration::from_secs(4) {
        // 1,000 distinct private IPv6 addresses and 1,000 public ones a request.
        let list: String = (0..1000u32)
            .flat_map(|i| {
                [
                    format!("fd00::{:x}:{:x}", round, i),
                    format!("11.{}.{}.{}", round % 250, i / 250, i % 250 + 1),
                ]
            })
            .collect::<Vec<_>>()
            .join("\n");
        let out = as_reader(&home, &["geo", "lookup", "-"], &list);
        assert!(out.status.success(), "{}", describe(&out));
        asked += 2000;
        round += 1;
    }
    let stats = daemon.ctl_json(&["geo", "stats"]);
    assert_eq!(stats["entries"], 0, "after {asked} lookups: {stats}");
    assert_eq!(stats["dirty"], 0, "{stats}");
    daemon.ctl_json(&["geo", "flush"]);
    assert_eq!(geo_rows(&home), rows_before, "the database did not change");
    let rss_mib = rss_kib(daemon.pid()) / 1024;
    assert!(rss_mib < 100, "RSS {rss_mib} MiB after {asked} lookups");
    // The answers were still given: computed, not stored.
    let out = daemon.ctl_json(&["geo", "lookup", "fd00::1", "10.1.2.3"]);
    assert_eq!(out[0]["status"], "not-routable");
    assert_eq!(out[1]["reason"], "private range");
    println!(
        "{asked} lookups in {round} requests; RSS {rss_mib} MiB; geo_cache rows {rows_before}"
    );
}

#[test]
fn parallel_wrong_passwords_from_one_user_cost_one_check() {
    let home = Home::new();
    home.write_config("socket_group = \"nogroup\"\n");
    let daemon = home.start();
    let out = daemon.ctl_with(
        &["setup", "--password-stdin"],
        Some("the right master password"),
    );
    assert!(out.status.success(), "{}", describe(&out));
    let children: Vec<_> = (0..20)
        .map(|_| {
            spawn_reader(
                &home,
                &["login", "--password-stdin"],
                "a wrong guess here\n",
            )
        })
        .collect();
    let errors: Vec<String> = children
        .into_iter()
        .map(|c| bangui_tests::stderr(&c.wait_with_output().unwrap()))
        .collect();
    let checked = errors
        .iter()
        .filter(|e| e.contains(": wrong password"))
        .count();
    // Refused before Argon2: the check in flight, or the wait it set.
    let refused = errors
        .iter()
        .filter(|e| e.contains("another password check") || e.contains("too many wrong passwords"))
        .count();
    assert_eq!(checked, 1, "one guess checked: {errors:?}");
    assert_eq!(refused, 19, "{errors:?}");
    let log = daemon.log_text();
    assert_eq!(
        log.matches("login: wrong password").count(),
        1,
        "one Argon2 check"
    );
}

#[test]
fn no_spelling_of_a_protected_network_gets_past_the_allowlist() {
    use bangui_tests::lists::ListServer;
    // Ranges off, so that each refusal below has one reason: this host's
    // address may sit in a private or reserved range itself.
    let (_home, daemon, server) = with_fail2ban(
        "[allowlist]\nnetworks = [\"203.0.113.0/24\"]\nprivate_ranges = false\nreserved_ranges = false\n",
    );
    let own = bangui_daemon::allowlist::own_addresses()
        .unwrap()
        .into_iter()
        .find(|a| a.is_ipv4() && !a.is_loopback())
        .expect("this test needs a non-loopback IPv4 address on some interface");
    let own_net = match own {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("::ffff:{}.{}.{}.0/120", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(_) => unreachable!(),
    };
    let reason_of = |target: &str| -> String {
        let out = daemon.ctl(&["--json", "ban", target]);
        assert_eq!(out.status.code(), Some(8), "{target}: {}", describe(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["refused"][0]["reason"].as_str().unwrap().to_string()
    };
    assert_eq!(reason_of("::ffff:127.0.0.0/104"), "loopback");
    assert_eq!(reason_of("::ffff:0.0.0.0/96"), "too-broad");
    assert_eq!(reason_of("::ffff:203.0.113.0/120"), "allowlist");
    assert_eq!(reason_of(&own_net), "own-address");
    assert_eq!(reason_of("2400::/6"), "too-broad");
    assert_eq!(reason_of("::/64"), "invalid");
    assert!(server.banned("bangui-manual").is_empty());

    // The same from a list.
    let lists = ListServer::start();
    lists.set_lines(
        "l.txt",
        &[
            "::ffff:127.0.0.0/104".to_string(),
            "::ffff:0.0.0.0/96".to_string(),
            "45.33.32.156".to_string(),
        ],
    );
    daemon.ctl(&["blocklist", "add", "l", &lists.url("l.txt"), "--local"]);
    let runs = daemon.ctl(&["--json", "blocklist", "run", "l", "--wait"]);
    assert!(runs.status.success(), "{}", describe(&runs));
    assert_eq!(server.banned("bangui-blocklist"), ["45.33.32.156"]);

    // A jail name that is one of fail2ban's own settings never reaches it.
    let before = server.client(&["get", "logtarget"]).unwrap();
    let out = daemon.ctl(&["ban", "45.33.32.157", "--jail", "logtarget"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        bangui_tests::stderr(&out).contains("server settings"),
        "{}",
        describe(&out)
    );
    assert_eq!(server.client(&["get", "logtarget"]).unwrap(), before);
}

#[test]
fn files_are_created_safely_whatever_the_umask_and_planted_links_are_not_followed() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode =
        |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    let home = Home::new();
    let jail_d = home.path().join("f2b/jail.d");
    std::fs::create_dir_all(&jail_d).unwrap();
    std::fs::set_permissions(
        home.path().join("f2b"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&jail_d, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A link planted at the jail file's temporary name, pointing at a file
    // that must survive.
    let victim = home.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, jail_d.join("bangui-manual.conf.bangui-tmp")).unwrap();
    home.write_config(&format!(
        "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\nfirewall = \"stock\"\n",
        home.path().join("no-f2b.sock").display().to_string(),
        home.path().join("f2b").display().to_string()
    ));
    // Started with umask 000, as a careless init script might.
    let daemon = home.start_under(&["sh", "-c", "umask 000; exec \"$@\"", "sh"], |_, _| {});
    assert_eq!(mode(&jail_d.join("bangui-manual.conf")), 0o644);
    assert_eq!(mode(&home.state_dir().join("bangui.lock")), 0o600);
    assert_eq!(mode(&home.database()), 0o600);
    assert_eq!(mode(&home.socket()), 0o660);
    assert_eq!(
        mode(&home.state_dir()) & 0o027,
        0,
        "state dir {:o}",
        mode(&home.state_dir())
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    daemon.stop();

    // A link planted at the lock's name: refused, its target untouched.
    std::fs::remove_file(home.state_dir().join("bangui.lock")).unwrap();
    std::os::unix::fs::symlink(&victim, home.state_dir().join("bangui.lock")).unwrap();
    let out = home.run_to_exit();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    std::fs::remove_file(home.state_dir().join("bangui.lock")).unwrap();

    // A state directory another user owns: refused with the fix.
    nix::unistd::chown(
        &home.state_dir(),
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
    )
    .unwrap();
    let out = home.run_to_exit();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = bangui_tests::stderr(&out);
    assert!(
        err.contains("belongs to uid 65534") && err.contains("chown"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(home.state_dir()).unwrap().uid(), 65534);
}

/// Peak resident memory of a process, KiB (`VmHWM`).
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_list_repeating_one_address_does_not_grow_the_daemon() {
    use bangui_tests::lists::{ListServer, Serve};
    let (_home, daemon, server) = with_fail2ban("");
    // 100 MiB of one address, gzip on the wire (a few hundred KiB).
    let body = "45.33.32.156\n".repeat(100 * 1024 * 1024 / 13).into_bytes();
    let lists = ListServer::start();
    lists.set(
        "same.txt",
        Serve::Text {
            body,
            etag: false,
            gzip: true,
        },
    );
    let before = peak_kib(daemon.pid());
    daemon.ctl(&[
        "blocklist",
        "add",
        "same",
        &lists.url("same.txt"),
        "--local",
    ]);
    let out = daemon.ctl_long(&["--json", "blocklist", "run", "same", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs[0]["entries"], 1, "{runs}");
    assert_eq!(server.banned("bangui-blocklist"), ["45.33.32.156"]);
    let grown = (peak_kib(daemon.pid()) - before) / 1024;
    assert!(grown < 100, "peak memory grew by {grown} MiB");
    println!("peak memory grew by {grown} MiB for 8 million repeated lines");

    // Numbers from the wire are bounded: an interval of u64::MAX seconds is refused.
    let rt = bangui_tests::runtime();
    rt.block_on(async {
        let mut client =
            bangui_proto::Client::connect(&daemon.socket, "test", Some(Duration::from_secs(10)))
                .await
                .unwrap();
        let add = bangui_proto::Request::AddSource(bangui_proto::messages::AddSource {
            name: "forever".into(),
            url: lists.url("same.txt"),
            interval_secs: Some(u64::MAX),
            jail: None,
            max_entries: None,
            local: true,
            secret_path: false,
            format: Default::default(),
        });
        match client.call(add).await {
            Err(bangui_proto::ClientError::Daemon(e)) => {
                assert!(e.message.contains("at most 366 days"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn list_files_are_read_only_from_their_directory_as_plain_files() {
    let (home, daemon, _server) = with_fail2ban("socket_group = \"nogroup\"\n");
    let lists = home.path().join("lists");
    let url = |name: &str| format!("file://{}", lists.join(name).display());
    let run = |name: &str| {
        let out = daemon.ctl(&["--json", "blocklist", "run", name, "--wait"]);
        let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), runs[0].clone())
    };
    // Outside the directory: refused at add, whatever it is.
    let out = daemon.ctl(&["blocklist", "add", "shadow", "file:///etc/shadow"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // A list that turns into a FIFO: the import fails at once, it does not hang.
    std::fs::write(lists.join("l.txt"), "45.33.32.156\n").unwrap();
    let out = daemon.ctl(&["blocklist", "add", "l", &url("l.txt")]);
    assert!(out.status.success(), "{}", describe(&out));
    std::fs::remove_file(lists.join("l.txt")).unwrap();
    nix::unistd::mkfifo(
        &lists.join("l.txt"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let started = Instant::now();
    let (code, r) = run("l");
    assert_eq!(code, Some(7), "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("not a regular file"),
        "{r}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // A list that turns into a link to a root-only file: refused, nothing shown.
    std::fs::remove_file(lists.join("l.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", lists.join("l.txt")).unwrap();
    let (code, r) = run("l");
    assert_eq!(code, Some(7), "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("symbolic link"),
        "{r}"
    );
    // A body that is not a list keeps no samples; a list's refused lines
    // are for administrators only.
    std::fs::write(
        lists.join("p.txt"),
        "root:$6$secret:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n",
    )
    .unwrap();
    daemon.ctl(&["blocklist", "add", "p", &url("p.txt")]);
    let (code, r) = run("p");
    assert_eq!(code, Some(7), "{r}");
    assert_eq!(r["samples"], serde_json::json!([]), "{r}");
    std::fs::write(
        lists.join("m.txt"),
        "45.33.32.157\n45.33.32.158\nnot-an-address\n",
    )
    .unwrap();
    daemon.ctl(&["blocklist", "add", "m", &url("m.txt")]);
    let (code, r) = run("m");
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["samples"].as_array().unwrap().len(), 1, "{r}");
    let out = as_reader(&home, &["--json", "blocklist", "runs", "m"], "");
    assert!(out.status.success(), "{}", describe(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen[0]["samples"], serde_json::json!([]), "{seen}");
    // Shutdown is prompt after all this.
    let stopping = Instant::now();
    assert!(daemon.stop().success());
    assert!(stopping.elapsed() < Duration::from_secs(10));
}

/// A reader's raw connections, by a Python client running as nobody:
/// `idle N SECS` handshakes N connections and holds them; `big N SECS` sends
/// a 1 MiB frame (header and body) before any hello on N connections.
/// `bangui-flood MODE N HOLD_SECS` as nobody (see tests/src/bin/bangui-flood.rs).
fn raw_client(home: &Home, mode: &str, n: u32, hold_secs: u32) -> std::process::Child {
    raw_client_as(home, 65534, mode, n, hold_secs)
}

fn raw_client_as(home: &Home, uid: u32, mode: &str, n: u32, hold_secs: u32) -> std::process::Child {
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            "--regid=65534",
            "--clear-groups",
            "--",
        ])
        .arg(home.shared_bin("bangui-flood"))
        .arg(home.socket())
        .args([mode, &n.to_string(), &hold_secs.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn first_line(child: &mut std::process::Child) -> (u32, u32) {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut parts = line.split_whitespace().map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

#[test]
fn one_reader_cannot_lock_others_out_or_fill_memory_before_its_hello() {
    let home = Home::new();
    home.write_config("socket_group = \"nogroup\"\n");
    let daemon = home.start();
    // 130 idle handshaken connections from one reader: 16 are served.
    let mut idle = raw_client(&home, "idle", 130, 8);
    let (ok, busy) = first_line(&mut idle);
    assert_eq!((ok, busy), (16, 114), "per-uid cap");
    // Root is not locked out meanwhile.
    let started = Instant::now();
    let out = daemon.ctl(&["status"]);
    assert!(out.status.success(), "{}", describe(&out));
    let took = started.elapsed();
    let _ = idle.kill();
    let _ = idle.wait();
    // 400 connections each sending a 1 MiB frame before their hello.
    let before = rss_kib(daemon.pid());
    let mut big = raw_client(&home, "big", 400, 3);
    let _ = first_line(&mut big);
    let grown = rss_kib(daemon.pid()).saturating_sub(before) / 1024;
    let out = daemon.ctl(&["ping"]);
    assert!(out.status.success(), "{}", describe(&out));
    let _ = big.kill();
    let _ = big.wait();
    assert!(grown < 50, "RSS grew by {grown} MiB");
    println!(
        "root status beside 16 held connections: {took:?}; RSS +{grown} MiB after 400 oversize hellos"
    );
}

#[test]
fn the_daemon_checks_the_socket_group_itself_whatever_the_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    // `daemon`: a group nobody is not in.
    home.write_config("socket_group = \"daemon\"\n");
    let daemon = home.start();
    // A socket file opened too wide, as a service manager or a hand might.
    std::fs::set_permissions(home.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_reader(&home, &["status"], "");
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let err = bangui_tests::stderr(&out);
    assert!(err.contains("only members of group `daemon`"), "{err}");
    assert!(daemon.log_text().contains("not in the socket's group"));
    // Root still gets in.
    assert!(daemon.ctl(&["ping"]).status.success());
}

#[test]
fn readers_share_one_copy_of_a_jail_s_banned_list() {
    let (home, daemon, _server) = with_fail2ban("socket_group = \"nogroup\"\n");
    let listed = |out: &std::process::Output| -> Vec<String> {
        assert!(out.status.success(), "{}", describe(out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["banned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let status = ["--json", "fail2ban", "status", "bangui-manual"];
    let out = daemon.ctl(&["ban", "45.33.32.156"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(listed(&as_reader(&home, &status, "")), ["45.33.32.156"]);
    let out = daemon.ctl(&["ban", "45.33.32.157"]);
    assert!(out.status.success(), "{}", describe(&out));
    // Administrators ask fail2ban; readers get the copy fetched a moment
    // ago, so a crowd of them costs fail2ban one full list per 10 s.
    assert_eq!(listed(&daemon.ctl(&status)).len(), 2);
    assert_eq!(listed(&as_reader(&home, &status, "")), ["45.33.32.156"]);
    let many: Vec<String> = (1..=9).map(|i| format!("45.33.32.{}", 150 + i)).collect();
    let mut args = vec!["--json", "banned"];
    args.extend(many.iter().map(String::as_str));
    let out = as_reader(&home, &args, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let banned: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["jails"].as_array().unwrap().is_empty())
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(banned, ["45.33.32.156"], "{v}");

    // A reader may ask why: an address inside a network banned by hand is
    // banned by that network, and `explain` says so, with no secret in it.
    let out = daemon.ctl(&["ban", "45.33.40.0/24"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = as_reader(&home, &["banned", "45.33.40.9"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(text.contains("by 45.33.40.0/24"), "{text}");
    let out = as_reader(&home, &["--json", "explain", "45.33.40.9"], "");
    assert!(out.status.success(), "{}", describe(&out));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["bans"][0]["banned"], "45.33.40.0/24", "{e}");
    assert_eq!(e["bans"][0]["jail"], "bangui-manual", "{e}");
}

#[test]
fn an_administrator_by_a_supplementary_group_gets_a_kept_slot() {
    // nobody administers through a supplementary group; a reader of its own
    // takes every general slot.
    let admins = bangui_tests::users::Group::create(&["nobody"]);
    let reader = bangui_tests::users::User::create("nogroup");
    let home = Home::new();
    home.write_config(&format!(
        "socket_group = \"nogroup\"\nadmin_group = \"{}\"\nmax_connections = 24\n",
        admins.name
    ));
    let _daemon = home.start();
    let mut idle = raw_client_as(&home, reader.uid, "idle", 20, 8);
    let (served, refused) = first_line(&mut idle);
    assert_eq!((served, refused), (16, 4), "the 16 general slots");
    let out = as_reader(&home, &["ping"], "");
    let _ = idle.kill();
    let _ = idle.wait();
    assert!(out.status.success(), "{}", describe(&out));
}
