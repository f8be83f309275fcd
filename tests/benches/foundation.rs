//! Foundation figures: `bangui-ctl ping` as a whole process beside
//! `fail2ban-client ping`, request throughput and latency over 8 connections,
//! and the idle daemon's memory and CPU. Prints figures; asserts nothing.
//!
//! Run with `scripts/bench.sh` (it builds the release binaries first).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bangui_proto::{Client, Request, Response};
use bangui_tests::{DEADLINE, Home, bin, wait_for};

const PROCESS_RUNS: usize = 200;
const CONNECTIONS: usize = 8;
const REQUESTS_PER_CONNECTION: usize = 25_000;

fn main() {
    let home = Home::new();
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_LOG_LEVEL", "info");
    });
    let pid = daemon.pid();
    println!("bangui foundation benchmark ({} cores)", cores());

    idle(pid);

    let ctl = bin("bangui-ctl");
    let ours = time_process(PROCESS_RUNS, || {
        let mut cmd = Command::new(&ctl);
        cmd.arg("--socket").arg(home.socket()).arg("ping");
        cmd
    });
    report_process("bangui-ctl ping (whole process)", &ours);
    match fail2ban_ping(home.path()) {
        Some(theirs) => report_process("fail2ban-client ping (whole process)", &theirs),
        None => println!("fail2ban-client ping: fail2ban is not installed, not measured"),
    }

    throughput(&home.socket());
    println!(
        "RSS after the load: {:.1} MiB",
        rss_kib(pid) as f64 / 1024.0
    );
    assert!(daemon.stop().success());
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn idle(pid: u32) {
    std::thread::sleep(Duration::from_secs(1));
    let rss = rss_kib(pid);
    let before = cpu_ticks(pid);
    let window = Duration::from_secs(10);
    std::thread::sleep(window);
    let used = cpu_ticks(pid) - before;
    println!(
        "idle daemon: RSS {:.1} MiB; CPU over {} s idle: {} clock ticks ({} ms)",
        rss as f64 / 1024.0,
        window.as_secs(),
        used,
        used * 1000 / ticks_per_second()
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the ")" that closes the command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |v| v as u64)
}

fn time_process(runs: usize, mut make: impl FnMut() -> Command) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let status = make()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        times.push(start.elapsed());
        assert!(status.success());
    }
    times
}

fn report_process(what: &str, times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: {} runs, median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        sorted.len(),
        ms(sorted[sorted.len() / 2]),
        ms(sorted[sorted.len() * 9 / 10]),
        ms(sorted[sorted.len() - 1]),
    );
}

/// Starts a bare fail2ban-server in `dir` and times `fail2ban-client ping` against it.
fn fail2ban_ping(dir: &Path) -> Option<Vec<Duration>> {
    let server = Path::new("/usr/bin/fail2ban-server");
    let client = Path::new("/usr/bin/fail2ban-client");
    if !server.exists() || !client.exists() {
        return None;
    }
    let socket = dir.join("f2b.sock");
    let mut child = Command::new(server)
        .args(["-f", "-x", "--async", "--logtarget"])
        .arg(dir.join("f2b.log"))
        .arg("-s")
        .arg(&socket)
        .arg("-p")
        .arg(dir.join("f2b.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ping = || {
        let mut cmd = Command::new(client);
        cmd.arg("-s").arg(&socket).arg("ping");
        cmd
    };
    wait_for("fail2ban-server to answer", || {
        ping()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
            .then_some(())
    });
    let times = time_process(PROCESS_RUNS / 4, ping);
    let _ = child.kill();
    let _ = child.wait();
    Some(times)
}

fn throughput(socket: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (elapsed, mut latencies) = runtime.block_on(async {
        let mut clients = Vec::new();
        for i in 0..CONNECTIONS {
            clients.push(
                Client::connect(socket, &format!("bench-{i}"), Some(DEADLINE))
                    .await
                    .unwrap(),
            );
        }
        let start = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut client| {
                tokio::spawn(async move {
                    let mut times = Vec::with_capacity(REQUESTS_PER_CONNECTION);
                    for _ in 0..REQUESTS_PER_CONNECTION {
                        let t = Instant::now();
                        let answer = client.call(Request::Ping).await.unwrap();
                        times.push(t.elapsed());
                        assert!(matches!(answer, Response::Pong(_)));
                    }
                    times
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        (start.elapsed(), all)
    });
    latencies.sort();
    let total = latencies.len();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "throughput: {total} pings over {CONNECTIONS} connections in {:.2} s = {:.0} requests/s; latency p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        us(latencies[total / 2]),
        us(latencies[total * 99 / 100]),
        us(latencies[total - 1]),
    );
}
