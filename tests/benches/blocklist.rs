//! Blocklist import figures: parsing speed; a 100,000-entry list served over
//! loopback and imported into a real fail2ban (no-op action) beside fail2ban
//! banning the same addresses in its best batch size; re-importing unchanged
//! and 1%-changed content; the daemon's peak memory during a 1,000,000-entry
//! import. Prints figures; asserts nothing.
//!
//! Run with `scripts/bench.sh` or `cargo bench -p bangui-tests --bench blocklist`
//! (after `cargo build --release --workspace`). `BANGUI_BENCH_BIG=0` skips the
//! 1,000,000-entry import.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bangui_daemon::blocklist::parse;
use bangui_daemon::fail2ban::{Fail2ban, Settings};
use bangui_tests::fail2ban::{Fail2banConf, addresses};
use bangui_tests::lists::ListServer;
use bangui_tests::{Daemon, Home, describe};
use serde_json::Value;

const JAIL: &str = "bangui-blocklist";
const COUNT: usize = 100_000;

fn main() {
    println!("blocklist import benchmark (2 cores, fail2ban 1.0.2, no-op action)");
    parsing();
    let list = addresses(COUNT);
    let best = baseline(&list);
    imports(&list, best);
    if std::env::var("BANGUI_BENCH_BIG").as_deref() != Ok("0") {
        big_import();
    }
}

fn parsing() {
    let lines = 5_000_000;
    let mut text = String::with_capacity(lines * 16);
    for i in 0..lines {
        if i % 100 == 0 {
            text.push_str("# a comment line\n");
        } else {
            let n = i as u32;
            text.push_str(&format!(
                "{}.{}.{}.{}\n",
                11 + (n >> 24) % 200,
                (n >> 16) & 255,
                (n >> 8) & 255,
                n & 255
            ));
        }
    }
    timed("parsing", lines, &text);

    // Spamhaus's NDJSON (drop_v4.json) and P2P ranges, a tenth as many.
    let lines = lines / 10;
    let mut ndjson = String::with_capacity(lines * 64);
    let mut ranges = String::with_capacity(lines * 48);
    for i in 0..lines as u32 {
        let (a, b, c) = (11 + (i >> 16) % 200, (i >> 8) & 255, i & 255);
        ndjson.push_str(&format!(
            "{{\"cidr\":\"{a}.{b}.{c}.0/24\",\"sblid\":\"SBL{i}\",\"rir\":\"ripencc\"}}\n"
        ));
        ranges.push_str(&format!("Some Org {i}:{a}.{b}.{c}.0-{a}.{b}.{c}.127\n"));
    }
    timed("parsing NDJSON", lines, &ndjson);
    timed("parsing P2P ranges", lines, &ranges);
}

/// Best of three parses of `text`, printed as lines a second.
fn timed(what: &str, lines: usize, text: &str) {
    let mut best = Duration::MAX;
    let mut entries = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let parsed = parse::parse(text.as_bytes()).unwrap();
        best = best.min(started.elapsed());
        entries = parsed.entries.len();
    }
    assert!(entries > 0, "{what}: nothing parsed");
    println!(
        "{what}: {lines} lines ({entries} entries) in {:.3} s = {:.1} M lines/s",
        best.as_secs_f64(),
        lines as f64 / best.as_secs_f64() / 1e6
    );
}

/// fail2ban alone: the same addresses through a minimal client, best batch size.
fn baseline(list: &[String]) -> Duration {
    let targets = bangui_tests::fail2ban::allowed(list);
    let mut best = Duration::MAX;
    for batch in [2_000, 5_000, 20_000] {
        let home = Home::new();
        let conf = Fail2banConf::new(&home);
        conf.add_jail(JAIL, "");
        let _server = conf.start();
        let took = bangui_tests::runtime().block_on(async {
            let client = Fail2ban::new(Settings {
                socket: conf.socket(),
                timeout: Duration::from_secs(600),
                max_reply: 1 << 26,
            });
            let start = Instant::now();
            let mut banned = 0;
            for chunk in targets.chunks(batch) {
                banned += client.ban(JAIL, chunk).await.unwrap();
            }
            assert_eq!(banned as usize, targets.len());
            start.elapsed()
        });
        println!(
            "fail2ban alone, {batch:>6} per request: {:.2} s = {:.0} bans/s",
            took.as_secs_f64(),
            targets.len() as f64 / took.as_secs_f64()
        );
        best = best.min(took);
    }
    best
}

struct Rig {
    home: Home,
    conf: Fail2banConf,
    _server: bangui_tests::fail2ban::Fail2banServer,
    lists: ListServer,
    daemon: Daemon,
}

fn rig(extra: &str) -> Rig {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    home.write_config(&format!(
        "{}{extra}\n[jobs.blocklist_import]\nenabled = false\n[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section()
    ));
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_LOG_LEVEL", "info");
    });
    let server = conf.start();
    daemon.wait_fail2ban_up();
    Rig {
        home,
        conf,
        _server: server,
        lists: ListServer::start(),
        daemon,
    }
}

impl Rig {
    /// `blocklist run NAME --wait`, timed, with no deadline (big imports take minutes).
    fn import(&self, name: &str) -> (Duration, Value) {
        let started = Instant::now();
        let out = std::process::Command::new(bangui_tests::bin("bangui-ctl"))
            .arg("--socket")
            .arg(self.home.socket())
            .args(["--json", "blocklist", "run", name, "--wait"])
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(out.status.success(), "{}", describe(&out));
        let runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        (took, runs[0].clone())
    }
}

/// `banned` for the most addresses one request takes, IPv4 and IPv6: each
/// is also looked up with every network that could hold it (24 for IPv4,
/// 112 for IPv6) in the list and the archive.
fn banned_questions(r: &Rig, listed: &[String]) {
    let n = bangui_proto::messages::MAX_BANNED_QUERY as usize;
    let v6: Vec<String> = (0..n)
        .map(|i| format!("2a01:4f8::{:x}:{:x}", i / 256, i % 256 + 1))
        .collect();
    for (what, asked) in [
        ("IPv4, listed", &listed[..n]),
        ("IPv6, not listed", &v6[..]),
    ] {
        let started = Instant::now();
        let mut ctl = std::process::Command::new(bangui_tests::bin("bangui-ctl"))
            .arg("--socket")
            .arg(r.home.socket())
            .args(["--json", "banned", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            ctl.stdin
                .take()
                .unwrap()
                .write_all(asked.join("\n").as_bytes())
                .unwrap();
        }
        let out = ctl.wait_with_output().unwrap();
        let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answers.len(), n);
        println!(
            "banned for {n} addresses ({what}), networks holding them included: {:.3} s",
            started.elapsed().as_secs_f64()
        );
    }
}

fn imports(list: &[String], best: Duration) {
    let r = rig("");
    r.lists.set_lines("list.txt", list);
    let out = r.daemon.ctl(&[
        "blocklist",
        "add",
        "bench",
        &r.lists.url("list.txt"),
        "--local",
    ]);
    assert!(out.status.success(), "{}", describe(&out));

    let (full, run) = r.import("bench");
    assert_eq!(run["banned"], COUNT as u64, "{run}");
    println!(
        "import of {COUNT} entries end to end (download, parse, allowlist, records, bans): {:.2} s = {:.3}x fail2ban alone at its best ({:.2} s)",
        full.as_secs_f64(),
        full.as_secs_f64() / best.as_secs_f64(),
        best.as_secs_f64()
    );

    let (same, run) = r.import("bench");
    println!(
        "re-import, unchanged content: {:.3} s, status {}, {} ban requests' worth of addresses sent",
        same.as_secs_f64(),
        run["status"],
        run["banned"]
    );

    // 1% of the entries replaced by new ones, after fail2ban has stored the
    // bans (so the unbans are not put off).
    wait_for_stored(&r.conf, COUNT);
    let mut changed = list.to_vec();
    for (i, entry) in changed.iter_mut().enumerate().take(COUNT / 100) {
        *entry = format!("12.0.{}.{}", i / 250, i % 250 + 1);
    }
    r.lists.set_lines("list.txt", &changed);
    let (delta, run) = r.import("bench");
    println!(
        "re-import, 1% changed: {:.3} s = {:.1}% of the full import (banned {}, unbanned {}, deferred {})",
        delta.as_secs_f64(),
        delta.as_secs_f64() * 100.0 / full.as_secs_f64(),
        run["banned"],
        run["unbanned"],
        run["deferred"]
    );
    banned_questions(&r, &changed);
    for line in r
        .daemon
        .log_text()
        .lines()
        .filter(|l| l.contains("import phases"))
    {
        println!(
            "  {}",
            line.split_once(" INFO ")
                .map_or(line, |(_, rest)| rest)
                .trim()
        );
    }
}

fn wait_for_stored(conf: &Fail2banConf, n: usize) {
    let db = conf.run.join("fail2ban.sqlite3");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let stored =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| c.query_row("SELECT count(*) FROM bips", [], |r| r.get::<_, i64>(0)))
                .unwrap_or(0);
        if stored as usize >= n || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn big_import() {
    let n = 1_000_000;
    let r = rig("[blocklist]\ntimeout = \"10m\"\n");
    let list = addresses(n);
    r.lists.set_lines("big.txt", &list);
    drop(list);
    let out = r.daemon.ctl(&[
        "blocklist",
        "add",
        "big",
        &r.lists.url("big.txt"),
        "--local",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let before = vm_hwm_kib(r.daemon.pid());
    let (took, run) = r.import("big");
    let peak = vm_hwm_kib(r.daemon.pid());
    println!(
        "import of {n} entries: {:.1} s, banned {}; daemon peak RSS {:.1} MiB (before the import {:.1} MiB)",
        took.as_secs_f64(),
        run["banned"],
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
