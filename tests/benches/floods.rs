//! An administrator's latency while a reader floods the daemon: 200 `ban`
//! requests from root, one after another, each of a fresh address, against a
//! real fail2ban holding 30,000 bans (archived by the history sync), first
//! alone and then during each of three floods from `nobody` (a member of the
//! socket's group):
//!
//! - 130 idle handshaken connections;
//! - 400 connections each sending a 1 MiB frame before its hello;
//! - 16 connections looping `history stats --by country` and
//!   `fail2ban status JAIL` (the whole banned list is 30,000 addresses).
//!
//! Prints p50 / p99 / max per case (the target: p99 under 50 ms) and how many
//! requests the readers got answered. Asserts nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bangui_proto::messages::{BanRequest, HistoryGroupQuery, RunJob};
use bangui_proto::{Client, Request, Response};
use bangui_tests::fail2ban::{Fail2banConf, addresses};
use bangui_tests::{Home, describe};

const BANNED: usize = 30_000;
const PROBES: usize = 200;
const JAIL: &str = "bangui-blocklist";

fn flood(home: &Home, args: &[&str]) -> (Child, String) {
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(home.shared_bin("bangui-flood"))
        .arg(home.socket())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

/// Latencies of `PROBES` bans from root, sorted.
fn probe(home: &Home, fresh: &mut impl Iterator<Item = String>) -> Vec<Duration> {
    let rt = bangui_tests::runtime();
    let targets: Vec<String> = fresh.take(PROBES).collect();
    rt.block_on(async {
        let mut client = Client::connect(&home.socket(), "bench", Some(Duration::from_secs(30)))
            .await
            .unwrap();
        let mut took = Vec::new();
        for t in targets {
            let started = Instant::now();
            let answer = client
                .call(Request::Ban(BanRequest {
                    targets: vec![t],
                    jail: Some(JAIL.into()),
                }))
                .await
                .unwrap();
            took.push(started.elapsed());
            assert!(matches!(answer, Response::BanReport(_)), "{answer:?}");
        }
        took.sort();
        took
    })
}

fn print(case: &str, took: &[Duration], extra: &str) {
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!(
        "{case:<44} p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  {extra}",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        took[took.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_jail(JAIL, "bantime = 1d");
    home.write_config(&format!(
        "socket_group = \"nogroup\"\n{}\n[jobs.blocklist_import]\nenabled = false\n[jobs.history_sync]\nenabled = false\n",
        conf.daemon_section_with_database(&format!("blocklist_jail = \"{JAIL}\"\n"))
    ));
    let daemon = home.start();
    let _server = conf.start();
    let pool = addresses(BANNED + 8 * PROBES);
    let out = daemon.ctl_with(
        &["ban", "-", "--jail", JAIL],
        Some(&pool[..BANNED].join("\n")),
    );
    assert!(out.status.success(), "{}", describe(&out));
    let rt = bangui_tests::runtime();
    rt.block_on(async {
        let mut client = Client::connect(&home.socket(), "bench", Some(Duration::from_secs(30)))
            .await
            .unwrap();
        // fail2ban stores bans a little after acknowledging them.
        for _ in 0..20 {
            let answer = client
                .call(Request::RunJob(RunJob {
                    job_id: "history_sync".into(),
                    wait: true,
                }))
                .await
                .unwrap();
            assert!(matches!(answer, Response::JobTriggered(_)), "{answer:?}");
            let stats = client
                .call(Request::HistoryStats(HistoryGroupQuery {
                    by: "jail".into(),
                    since: None,
                    limit: 10,
                }))
                .await
                .unwrap();
            let Response::HistoryStats(stats) = stats else {
                panic!("{stats:?}")
            };
            if stats.total_bans >= BANNED as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    println!(
        "administrator's `ban` (root, one fresh address each, {PROBES} in a row) beside fail2ban holding {BANNED} bans"
    );
    let mut fresh = pool[BANNED..].iter().cloned();
    print("alone", &probe(&home, &mut fresh), "");

    let (mut idle, seen) = flood(&home, &["idle", "130", "600"]);
    print(
        "130 idle connections from one reader",
        &probe(&home, &mut fresh),
        &format!("(served refused: {seen})"),
    );
    let _ = idle.kill();
    let _ = idle.wait();

    let (mut big, seen) = flood(&home, &["big", "400", "600"]);
    print(
        "400 x 1 MiB frames before the hello",
        &probe(&home, &mut fresh),
        &format!("(sent refused: {seen})"),
    );
    let _ = big.kill();
    let _ = big.wait();

    for (mode, what) in [
        ("stats", "16 readers looping history stats"),
        ("status", "16 readers looping fail2ban status JAIL"),
        ("reads", "16 readers looping both"),
    ] {
        let (mut reads, seen) = flood(&home, &[mode, "16", "20", JAIL]);
        let started = Instant::now();
        let took = probe(&home, &mut fresh);
        let probing = started.elapsed();
        let mut answered = String::new();
        std::io::BufReader::new(reads.stdout.as_mut().unwrap())
            .read_line(&mut answered)
            .unwrap();
        let _ = reads.wait();
        print(
            what,
            &took,
            &format!(
                "(connections {seen}; {} reads answered in 20 s; probing took {:.1} s)",
                answered.trim(),
                probing.as_secs_f64()
            ),
        );
    }
}
