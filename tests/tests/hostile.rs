//! Hostile peers: hundreds of bad socket clients beside a legitimate one,
//! hostile blocklist hosts, and a hostile fail2ban.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bangui_proto::{Client, Request};
use bangui_tests::lists::{ListServer, Serve};
use bangui_tests::stand_in::FakeFail2ban;
use bangui_tests::{Home, describe, wait_for};
use serde_json::Value;

/// 150 peers that never say Hello, 100 that trickle a byte every 100 ms,
/// 50 that announce 4 GiB frames and 50 that send garbage, again and again,
/// while a legitimate client's p99 stays under 200 ms.
#[test]
fn hundreds_of_hostile_connections_leave_a_legitimate_client_fast() {
    let home = Home::new();
    home.write_config("max_connections = 1024\nhandshake_timeout = \"2s\"\n");
    let daemon = home.start();
    let socket = home.socket();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut held = Vec::new();
    for _ in 0..150 {
        held.push(UnixStream::connect(&socket).unwrap());
    }
    let mut threads = Vec::new();
    for kind in 0..3 {
        let count = if kind == 0 { 100 } else { 50 };
        for _ in 0..count {
            let (socket, stop) = (socket.clone(), std::sync::Arc::clone(&stop));
            threads.push(std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Ok(mut s) = UnixStream::connect(&socket) else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                    match kind {
                        // Trickle a plausible header, a byte at a time.
                        0 => {
                            for b in [0u8, 0, 0, 9, 1, 3, b'c', b't', b'l'] {
                                if s.write_all(&[b]).is_err()
                                    || stop.load(std::sync::atomic::Ordering::Relaxed)
                                {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                        // A frame header announcing 4 GiB.
                        1 => {
                            let _ = s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        // A well-framed payload of garbage.
                        _ => {
                            let _ = s.write_all(&[0, 0, 0, 6, 0xde, 0xad, 0xbe, 0xef, 0xff, 0x07]);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            }));
        }
    }
    std::thread::sleep(Duration::from_millis(300));

    let rt = bangui_tests::runtime();
    let mut latencies: Vec<Duration> = rt.block_on(async {
        let mut client = Client::connect(&socket, "legit", Some(Duration::from_secs(10)))
            .await
            .unwrap();
        let mut out = Vec::new();
        for i in 0..400 {
            let request = if i % 4 == 0 {
                Request::Status
            } else {
                Request::Ping
            };
            let started = Instant::now();
            client.call(request).await.unwrap();
            out.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        out
    });
    for _ in 0..10 {
        let out = daemon.ctl(&["ping"]);
        assert!(out.status.success(), "{}", describe(&out));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    drop(held);
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "legitimate client under attack: p50 {:?}, p99 {p99:?}",
        latencies[latencies.len() / 2]
    );
    // Starvation, not speed: a client kept waiting behind the attackers takes
    // seconds (the handshake timeout). The figure itself is for the
    // benchmarks (docs/PERFORMANCE.md); a shared CI machine varies tenfold.
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
    let log = daemon.log_text();
    assert!(
        log.contains("handshake"),
        "silent peers are not mentioned: {}",
        &log[..log.len().min(2000)]
    );
    assert!(daemon.ctl(&["ping"]).status.success());
}

fn import(daemon: &bangui_tests::Daemon, name: &str) -> Value {
    let out = daemon.ctl(&["--json", "blocklist", "run", name, "--wait"]);
    let runs: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)));
    runs.into_iter().next().unwrap()
}

#[test]
fn hostile_list_hosts_fail_imports_cleanly() {
    let home = Home::new();
    home.write_config("[blocklist]\nmax_body = 1048576\nretries = 1\ntimeout = \"5s\"\n");
    let daemon = home.start();
    let lists = ListServer::start();
    lists.set(
        "bomb.txt",
        Serve::GzipBomb {
            decompressed: 64 << 20,
        },
    );
    lists.set("loop.txt", Serve::Redirect(lists.url("loop.txt")));
    lists.set("busy.txt", Serve::TooMany { retry_after: 2 });
    for name in ["bomb", "loop", "busy"] {
        let out = daemon.ctl(&[
            "blocklist",
            "add",
            name,
            &lists.url(&format!("{name}.txt")),
            "--local",
        ]);
        assert!(out.status.success(), "{}", describe(&out));
    }

    let bomb = import(&daemon, "bomb");
    assert_eq!(bomb["status"], "failed", "{bomb}");
    assert!(
        bomb["error"].as_str().unwrap().contains("1048576")
            || bomb["error"].as_str().unwrap().contains("1 MiB"),
        "{bomb}"
    );

    let looped = import(&daemon, "loop");
    assert_eq!(looped["status"], "failed", "{looped}");
    assert!(
        looped["error"].as_str().unwrap().contains("redirect"),
        "{looped}"
    );
    // At most max_redirects + 1 requests per attempt, two attempts.
    assert!(
        lists.requests("loop.txt") <= 2 * 6,
        "{}",
        lists.requests("loop.txt")
    );

    let started = Instant::now();
    let busy = import(&daemon, "busy");
    assert_eq!(busy["status"], "failed", "{busy}");
    assert!(busy["error"].as_str().unwrap().contains("429"), "{busy}");
    assert_eq!(lists.requests("busy.txt"), 2, "one retry");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was not waited for"
    );

    let rss = bangui_tests::rss_kib(daemon.pid());
    assert!(rss < 100 * 1024, "RSS {rss} KiB after a gzip bomb");
    assert!(daemon.ctl(&["ping"]).status.success());
}

#[test]
fn a_hostile_fail2ban_gets_clear_errors_and_the_daemon_stays_up() {
    // None: fail2ban is up with this version; Some: down, with this in the reason.
    for (mode, expect) in [
        ("trickle", None),
        ("eof", Some("closed")),
        ("huge", Some("larger than")),
        ("nested", Some("deep")),
        ("terminator", None),
    ] {
        let home = Home::new();
        let fake = FakeFail2ban::hostile(&home.path().join("f2b.sock"), "1.0.2", mode);
        home.write_config(&format!(
            "[fail2ban]\nsocket = {:?}\nmanage_jails = false\n",
            fake.socket.display().to_string()
        ));
        let daemon = home.start();
        // A reply fail2ban should never give fails the run (exit 7): that is expected.
        let run = bangui_tests::stdout(&daemon.ctl(&["jobs", "run", "health_check", "--wait"]));
        let health = wait_for("a health check", || {
            let h = daemon.ctl_json(&["fail2ban", "status"]);
            (h["checked_at"].is_number()).then_some(h)
        });
        match expect {
            None => {
                assert_eq!(health["state"], "up", "{mode}: {health} {run}");
                // The terminator inside a string is part of the string.
                let version = health["version"].as_str().unwrap();
                assert!(
                    version == "1.0.2" || version == "1.0<F2B_END_COMMAND>2",
                    "{mode}: {version}"
                );
            }
            Some(reason) => {
                assert_ne!(health["state"], "up", "{mode}: {health}");
                let error = health["error"].as_str().unwrap_or_default().to_string();
                assert!(error.contains(reason), "{mode}: {health}");
                assert!(
                    error.len() < 2000,
                    "{mode}: the reason is {} bytes",
                    error.len()
                );
                println!("{mode}: {error}");
            }
        }
        // The daemon answers, and did not keep a 100 MB reply.
        assert!(daemon.ctl(&["ping"]).status.success(), "{mode}");
        let rss = bangui_tests::rss_kib(daemon.pid());
        assert!(rss < 200 * 1024, "{mode}: RSS {rss} KiB");
        daemon.stop();
    }
}
