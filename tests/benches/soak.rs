//! Soak: the release daemon for 15 minutes (or more) with every job on a
//! short interval against a real fail2ban-server and a changing blocklist,
//! and 20 clients asking all the time. Every 30 s it prints RSS, open
//! descriptors, WAL size and request latency (p50/p99); at the end, RSS
//! growth and descriptor drift against their
//! targets (< 10 %, none) after a five-minute warm-up. Exits non-zero when
//! a target is missed.
//!
//!   scripts/soak.sh            # 15 minutes, the first 5 warm-up
//!   BANGUI_SOAK_MINUTES=30 BANGUI_SOAK_WARMUP_MINUTES=10 scripts/soak.sh

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bangui_proto::messages::{BanRequest, HistoryGroupQuery};
use bangui_proto::{Client, Request};
use bangui_tests::fail2ban::{Fail2banConf, addresses};
use bangui_tests::lists::ListServer;
use bangui_tests::{Home, rss_kib};

const CLIENTS: usize = 20;
const SAMPLE: Duration = Duration::from_secs(30);

struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: usize,
    wal: u64,
    p50_ms: f64,
    p99_ms: f64,
    requests: usize,
}

fn main() {
    let minutes: u64 = std::env::var("BANGUI_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(15);
    let total = Duration::from_secs(minutes * 60);
    // Until SQLite's page cache (2 MiB) and the allocator's arenas have filled.
    let warm_up = Duration::from_secs(
        60 * std::env::var("BANGUI_SOAK_WARMUP_MINUTES")
            .ok()
            .and_then(|m| m.parse().ok())
            .unwrap_or(5),
    );
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    home.write_config(&conf.daemon_section_with_database(
        "[jobs.health_check]\ninterval = \"1s\"\n[jobs.session_cleanup]\ninterval = \"2s\"\n\
         [jobs.blocklist_import]\ninterval = \"5s\"\nfirst_delay = \"5s\"\n\
         [jobs.history_sync]\ninterval = \"2s\"\n[jobs.geo_cache_flush]\ninterval = \"2s\"\n\
         [jobs.geo_re_resolve]\ninterval = \"5s\"\n",
    ));
    let first = home.start();
    let server = conf.start();
    let lists = ListServer::start();
    let pool = addresses(7_500);
    lists.set_lines("list.txt", &pool[..5_000]);
    let out = first.ctl(&[
        "blocklist",
        "add",
        "soak",
        &lists.url("list.txt"),
        "--interval",
        "1m",
        "--local",
    ]);
    assert!(out.status.success(), "{}", bangui_tests::describe(&out));
    first.stop();
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_LOG_LEVEL", "warn");
    });
    let pid = daemon.pid();
    daemon.wait_fail2ban_up();
    println!(
        "soak: {minutes} min, {CLIENTS} clients, every job on a 1-5 s interval, a 5,000-entry list changing by half every minute"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(0usize));
    // The clients run on their own threads while this one samples.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for client in 0..CLIENTS {
        let (socket, stop, lat, errors) = (
            home.socket(),
            Arc::clone(&stop),
            Arc::clone(&latencies),
            Arc::clone(&errors),
        );
        rt.spawn(async move {
            let mut conn = Client::connect(&socket, "soak", Some(Duration::from_secs(10)))
                .await
                .unwrap();
            let mut i: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let request = match (client, i % 8) {
                    // Manual bans over a fixed set of 500 addresses: a steady working set.
                    (0, 0) => Request::Ban(BanRequest {
                        targets: vec![format!("11.240.{}.{}", (i / 250) % 2, i % 250 + 1)],
                        jail: None,
                    }),
                    (_, 0) => Request::Status,
                    (_, 1) => Request::ListJobs,
                    (_, 2) => Request::GeoStats,
                    (_, 3) => Request::HistoryStats(HistoryGroupQuery {
                        by: "jail".into(),
                        since: None,
                        limit: 10,
                    }),
                    (_, 4) => Request::ConfigShow,
                    (_, 5) => Request::ListSources,
                    (_, 6) => {
                        Request::Fail2banHealth(bangui_proto::messages::HealthQuery { live: false })
                    }
                    _ => Request::Ping,
                };
                let started = Instant::now();
                match conn.call(request).await {
                    Ok(_) => lat.lock().unwrap().push(started.elapsed()),
                    Err(_) => {
                        *errors.lock().unwrap() += 1;
                        conn = Client::connect(&socket, "soak", Some(Duration::from_secs(10)))
                            .await
                            .unwrap();
                    }
                }
                // Every client also reconnects now and then: connection churn.
                if i % 500 == 0 {
                    conn = Client::connect(&socket, "soak", Some(Duration::from_secs(10)))
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }

    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut turn = 0;
    println!(
        "{:>6}  {:>9}  {:>4}  {:>9}  {:>7}  {:>7}  {:>9}",
        "time", "RSS", "fds", "WAL", "p50", "p99", "requests"
    );
    while started.elapsed() < total {
        std::thread::sleep(SAMPLE);
        // The list flips between two overlapping halves every minute: each
        // import bans 2,500 and unbans 2,500, over a steady set of 7,500.
        turn += 1;
        if turn % 2 == 0 {
            let from = if turn % 4 == 0 { 0 } else { 2_500 };
            lists.set_lines("list.txt", &pool[from..from + 5_000]);
        }
        let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
        lat.sort();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let s = Sample {
            at: started.elapsed(),
            rss_kib: rss_kib(pid),
            fds: fds(pid),
            wal: std::fs::metadata(home.state_dir().join("bangui.db-wal")).map_or(0, |m| m.len()),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            requests: lat.len(),
        };
        println!(
            "{:>5}s  {:>6.1} MiB  {:>4}  {:>5.1} MiB  {:>5.2}ms  {:>5.2}ms  {:>9}",
            s.at.as_secs(),
            s.rss_kib as f64 / 1024.0,
            s.fds,
            s.wal as f64 / 1048576.0,
            s.p50_ms,
            s.p99_ms,
            s.requests
        );
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(200));

    let after_warm_up: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm_up).collect();
    let (Some(base), Some(last)) = (after_warm_up.first(), samples.last()) else {
        println!(
            "too short for a verdict: run at least {} minutes",
            warm_up.as_secs() / 60 + 1
        );
        return;
    };
    let growth = (last.rss_kib as f64 - base.rss_kib as f64) / base.rss_kib as f64 * 100.0;
    // Descriptors: the fewest open in the first and the last third after warm-up.
    let third = (after_warm_up.len() / 3).max(1);
    let early = after_warm_up[..third]
        .iter()
        .map(|s| s.fds)
        .min()
        .unwrap_or(0);
    let late = after_warm_up[after_warm_up.len() - third..]
        .iter()
        .map(|s| s.fds)
        .min()
        .unwrap_or(0);
    let worst_p99 = samples.iter().map(|s| s.p99_ms).fold(0.0, f64::max);
    let runs = daemon.ctl_json(&["blocklist", "runs", "soak", "--limit", "100"]);
    let imports = runs.as_array().map_or(0, Vec::len);
    println!(
        "RSS after {} min warm-up {:.1} MiB, at the end {:.1} MiB: growth {growth:.1}% (target < 10%)",
        warm_up.as_secs() / 60,
        base.rss_kib as f64 / 1024.0,
        last.rss_kib as f64 / 1024.0
    );
    println!(
        "open descriptors: {early} early, {late} late: drift {} (target 0)",
        late as i64 - early as i64
    );
    println!(
        "worst 30-second p99 {worst_p99:.2} ms; {} request error(s); {imports} import run(s); fail2ban bans {}",
        errors.lock().unwrap(),
        server.banned("bangui-blocklist").len()
    );
    assert!(daemon.stop().success());
    if growth >= 10.0 || late > early {
        println!("SOAK FAILED");
        std::process::exit(1);
    }
    println!("SOAK OK");
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}
