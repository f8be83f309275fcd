//! Ban throughput: 50,000 addresses through the daemon (`bangui-ctl ban -`,
//! chunks of `fail2ban.ban_chunk`) against a real fail2ban-server with a no-op
//! action, beside a minimal client sending the same addresses straight to
//! fail2ban in the batch size that suits fail2ban best; and how fast
//! `bangui-ctl status` answers while the daemon bans. Prints figures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bangui_daemon::fail2ban::{Fail2ban, Settings};
use bangui_tests::fail2ban::{Fail2banConf, addresses};
use bangui_tests::{Home, bin};

const COUNT: usize = 50_000;
/// Each timing is the best of this many runs: the machine's noise (two
/// cores shared with fail2ban's Python) is larger than the differences measured.
const RUNS: usize = 3;
/// Back-to-back pairs (minimal client, then bangui) for the ratio.
const PAIRS: usize = 7;

fn best_of<T>(mut run: impl FnMut() -> (Duration, T)) -> (Duration, T) {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..RUNS {
        let (took, extra) = run();
        if best.as_ref().is_none_or(|(t, _)| took < *t) {
            best = Some((took, extra));
        }
    }
    best.unwrap()
}

fn main() {
    let list = addresses(COUNT);
    println!(
        "fail2ban ban benchmark: {COUNT} addresses, fail2ban 1.0.2, no-op action, 2 cores, best of {RUNS} runs"
    );

    // BANGUI_BENCH_QUICK=1: only the best batch and bangui without pollers.
    let quick = std::env::var("BANGUI_BENCH_QUICK").is_ok_and(|v| v == "1");
    if !quick {
        baselines(&list);
    }

    let mut best: Option<(usize, Duration)> = None;
    for batch in [1_000, 5_000, 20_000] {
        let (took, ()) = best_of(|| (minimal_client(&list, batch), ()));
        println!(
            "minimal client, {batch:>6} per request: {:.2} s = {:.0} addresses/s",
            took.as_secs_f64(),
            COUNT as f64 / took.as_secs_f64()
        );
        if best.is_none_or(|(_, t)| took < t) {
            best = Some((batch, took));
        }
    }
    let (best_batch, best_time) = best.unwrap();

    // The ratio that matters, measured in pairs: the minimal client at its
    // best batch and bangui right after it, so that the machine's drift
    // (larger than the difference) falls on both alike. Median of the pairs.
    let mut ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..PAIRS {
        let minimal = minimal_client(&list, best_batch);
        for (i, as_arguments) in [false, true].into_iter().enumerate() {
            let (bangui, _, _) = through_daemon(&list, 0, false, as_arguments);
            ratios[i].push(bangui.as_secs_f64() / minimal.as_secs_f64());
        }
    }
    for (i, mut r) in ratios.into_iter().enumerate() {
        r.sort_by(f64::total_cmp);
        println!(
            "bangui ({}) / minimal client at {best_batch} per request, {PAIRS} rounds: median {:.3}x (range {:.3}–{:.3}x)",
            if i == 1 {
                "50,000 arguments"
            } else {
                "standard input"
            },
            r[PAIRS / 2],
            r[0],
            r[PAIRS - 1]
        );
    }

    // Throughput on a quiet machine, as the minimal client had it; then the
    // same bans again while `bangui-ctl status` and another fail2ban client
    // poll, for the latency they see.
    let chunks: Vec<usize> = match std::env::var("BANGUI_BENCH_CHUNKS") {
        Ok(list) => list
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect(),
        Err(_) => vec![0],
    };
    for chunk in chunks {
        // Standard input; standard input with pollers; the addresses as
        // 50,000 arguments (split by the ctl into requests that fit).
        for (watched, as_arguments) in [(false, false), (true, false), (false, true)] {
            if quick && watched {
                continue;
            }
            let (took, (status, pings)) = best_of(|| {
                let (took, status, pings) = through_daemon(&list, chunk, watched, as_arguments);
                (took, (status, pings))
            });
            let label = if chunk == 0 {
                "default batching".to_string()
            } else {
                format!("ban_chunk {chunk} fixed")
            };
            let load = match (watched, as_arguments) {
                (true, _) => ", with the pollers",
                (_, true) => ", as arguments",
                _ => "",
            };
            println!(
                "bangui ({label}{load}): {:.2} s = {:.0} addresses/s; {:.3}x the minimal client's best ({best_batch} per request)",
                took.as_secs_f64(),
                COUNT as f64 / took.as_secs_f64(),
                took.as_secs_f64() / best_time.as_secs_f64()
            );
            report("  `bangui-ctl status` (whole process) meanwhile", status);
            report("  fail2ban ping from another client meanwhile", pings);
        }
    }
}

/// A fail2ban-client process per address, and one request per address over
/// one connection.
fn baselines(list: &[String]) {
    let per_process = fail2ban_client_per_address(&list[..100]);
    println!(
        "fail2ban-client, one process per address (100): {:.2} s = {:.0} addresses/s",
        per_process.as_secs_f64(),
        100.0 / per_process.as_secs_f64()
    );
    let single = minimal_client(&list[..5_000], 1);
    println!(
        "minimal client, one request per address (5,000): {:.2} s = {:.0} addresses/s",
        single.as_secs_f64(),
        5_000.0 / single.as_secs_f64()
    );
}

fn report(what: &str, mut times: Vec<Duration>) {
    if times.is_empty() {
        return;
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = times.len();
    println!(
        "{what}: {n} calls, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(times[n / 2]),
        ms(times[(n * 99 / 100).min(n - 1)]),
        ms(times[n - 1])
    );
}

/// A fresh fail2ban with one no-op jail.
fn fresh_fail2ban(home: &Home) -> (Fail2banConf, bangui_tests::fail2ban::Fail2banServer) {
    let conf = Fail2banConf::new(home);
    conf.add_jail("bench", "");
    let server = conf.start();
    (conf, server)
}

fn minimal_client(list: &[String], batch: usize) -> Duration {
    let home = Home::new();
    let (conf, server) = fresh_fail2ban(&home);
    let targets = bangui_tests::fail2ban::allowed(list);
    let runtime = bangui_tests::runtime();
    let took = runtime.block_on(async {
        let client = Fail2ban::new(Settings {
            socket: conf.socket(),
            timeout: Duration::from_secs(300),
            max_reply: 1 << 26,
        });
        let start = Instant::now();
        let mut banned = 0;
        for chunk in targets.chunks(batch) {
            banned += client.ban("bench", chunk).await.unwrap();
        }
        assert_eq!(banned as usize, list.len());
        start.elapsed()
    });
    drop(server);
    took
}

/// `fail2ban-client set bench banip ADDRESS` once per address, as a script would.
fn fail2ban_client_per_address(list: &[String]) -> Duration {
    let home = Home::new();
    let (conf, server) = fresh_fail2ban(&home);
    let start = Instant::now();
    for address in list {
        let out = std::process::Command::new("fail2ban-client")
            .arg("-s")
            .arg(conf.socket())
            .args(["set", "bench", "banip", address])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let took = start.elapsed();
    drop(server);
    took
}

/// Bans through the daemon with fixed requests of `chunk` (0: the default
/// time-sized batches); when `watched`, one thread times `bangui-ctl status`
/// and another pings fail2ban on its own connection meanwhile.
fn through_daemon(
    list: &[String],
    chunk: usize,
    watched: bool,
    as_arguments: bool,
) -> (Duration, Vec<Duration>, Vec<Duration>) {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail("bench", "");
    let chunk_line = if chunk == 0 {
        String::new()
    } else {
        format!("ban_chunk = {chunk}\n")
    };
    home.write_config(&format!(
        "{}manage_jails = false\n{chunk_line}",
        conf.daemon_section()
    ));
    let server = conf.start();
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_LOG_LEVEL", "info");
    });
    let stop = Arc::new(AtomicBool::new(!watched));
    let watcher = {
        let stop = Arc::clone(&stop);
        let socket = home.socket();
        std::thread::spawn(move || {
            let ctl = bin("bangui-ctl");
            let mut times = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let start = Instant::now();
                let ok = Command::new(&ctl)
                    .arg("--socket")
                    .arg(&socket)
                    .arg("status")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap()
                    .success();
                times.push(start.elapsed());
                assert!(ok);
                std::thread::sleep(Duration::from_millis(20));
            }
            times
        })
    };
    let pinger = {
        let stop = Arc::clone(&stop);
        let socket = conf.socket();
        std::thread::spawn(move || {
            let runtime = bangui_tests::runtime();
            runtime.block_on(async {
                let client = Fail2ban::new(Settings {
                    socket,
                    timeout: Duration::from_secs(60),
                    max_reply: 1 << 20,
                });
                let mut times = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let start = Instant::now();
                    client.ping().await.unwrap();
                    times.push(start.elapsed());
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                times
            })
        })
    };
    let input = list.join("\n");
    let mut args = vec!["--json", "ban", "--jail", "bench"];
    if as_arguments {
        args.extend(list.iter().map(String::as_str));
    } else {
        args.push("-");
    }
    let start = Instant::now();
    let out = daemon.ctl_with(&args, (!as_arguments).then_some(input.as_str()));
    let took = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    assert!(out.status.success(), "{}", bangui_tests::describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["jails"][0]["changed"].as_u64(),
        Some(list.len() as u64)
    );
    let log = daemon.log_text();
    let requests: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ban request done"))
        .collect();
    if let Some(line) = requests.first() {
        println!(
            "  daemon ({} request(s)), first: {}",
            requests.len(),
            line.split("ban request done").nth(1).unwrap_or("").trim()
        );
    }
    let status = watcher.join().unwrap();
    let pings = pinger.join().unwrap();
    drop(server);
    (took, status, pings)
}
