//! History figures: syncing a fail2ban database of 1,000,000 ban rows into an
//! empty archive (time and the daemon's peak memory), a sync with nothing
//! new, and query times over the 1,000,000 archived rows. Prints figures;
//! asserts nothing.
//!
//! Run with `scripts/bench.sh` or `cargo bench -p bangui-tests --bench history`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use bangui_proto::messages::{HistoryGroupQuery, HistoryIpQuery, RunJob};
use bangui_proto::{Client, Request, Response};
use bangui_tests::Home;
use rusqlite::{Connection, params};

const ROWS: u32 = 1_000_000;

fn craft(path: &Path) {
    let mut conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF;
         CREATE TABLE fail2banDb(version INTEGER); INSERT INTO fail2banDb VALUES (4);
         CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL,
             bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON);
         CREATE INDEX bans_jail_timeofban_ip ON bans(jail, timeofban);",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let jails = ["sshd", "nginx-http-auth", "postfix", "dovecot", "recidive"];
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare("INSERT INTO bans VALUES (?1, ?2, ?3, 600, 1, ?4)")
            .unwrap();
        for i in 0..ROWS {
            // ~300,000 distinct addresses over the last 300 days.
            let n = (i * 7919) % 300_000;
            let ip = format!("11.{}.{}.{}", n / 62_500, (n / 250) % 250, n % 250 + 1);
            let t = now - 300 * 86_400 + i64::from(i) * 25;
            stmt.execute(params![
                jails[(i % 5) as usize],
                ip,
                t,
                r#"{"matches": ["Failed password for root from x port 22 ssh2"], "failures": 5}"#
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn vm_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn sync(client: &mut Client) -> bangui_proto::messages::RunRecord {
    let request = Request::RunJob(RunJob {
        job_id: "history_sync".into(),
        wait: true,
    });
    match client.call(request).await.unwrap() {
        Response::JobTriggered(t) => t.run,
        other => panic!("{other:?}"),
    }
}

/// Seconds until fail2ban has stored 20,000 bans made through bangui, with
/// history_sync every second or not at all.
fn persist_time(sync_every_second: bool) -> f64 {
    let home = Home::new();
    let conf = bangui_tests::fail2ban::Fail2banConf::new(&home);
    let jobs = if sync_every_second {
        "[jobs.history_sync]\ninterval = \"1s\"\n"
    } else {
        "[jobs.history_sync]\nenabled = false\n"
    };
    home.write_config(&format!(
        "{}\n{jobs}[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section()
    ));
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_LOG_LEVEL", "info");
    });
    let server = conf.start();
    daemon.wait_fail2ban_up();
    let list = bangui_tests::fail2ban::addresses(20_000).join("\n");
    let started = Instant::now();
    let out = daemon.ctl_with(&["ban", "-"], Some(&list));
    assert!(out.status.success());
    while server.stored_bans("bangui-manual").0 < 20_000 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed().as_secs_f64();
    assert_eq!(server.log_lines("database is locked"), 0);
    took
}

fn main() {
    let quiet = persist_time(false);
    let busy = persist_time(true);
    println!(
        "fail2ban storing 20,000 bans: {:.0}/s alone, {:.0}/s with history_sync every second = {:.0}% of its rate",
        20_000.0 / quiet,
        20_000.0 / busy,
        quiet / busy * 100.0
    );
    let home = Home::new();
    let db = home.path().join("fail2ban.sqlite3");
    let started = Instant::now();
    craft(&db);
    println!(
        "history benchmark: crafted a fail2ban database of {ROWS} ban rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    home.write_config(&format!(
        "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\nfirewall = \"stock\"\ndatabase = {:?}\n[jobs.history_sync]\nenabled = false\n",
        home.path().join("none.sock").display().to_string(),
        home.path().join("none").display().to_string(),
        db.display().to_string()
    ));
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_LOG_LEVEL", "info");
    });
    let pid = daemon.pid();
    let runtime = bangui_tests::runtime();
    runtime.block_on(async {
        let mut client = Client::connect(&home.socket(), "bench", Some(Duration::from_secs(600)))
            .await
            .unwrap();
        let idle = vm_kib(pid, "VmRSS:");
        let run = sync(&mut client).await;
        let peak = vm_kib(pid, "VmHWM:");
        println!(
            "sync of {ROWS} rows into an empty archive: {:.2} s ({}); daemon RSS idle {:.1} MiB, peak {:.1} MiB (+{:.1} MiB)",
            run.duration_ms.unwrap_or(0) as f64 / 1000.0,
            run.summary,
            idle as f64 / 1024.0,
            peak as f64 / 1024.0,
            (peak.saturating_sub(idle)) as f64 / 1024.0
        );
        let mut quiet = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let run = sync(&mut client).await;
            quiet.push(t.elapsed());
            assert!(run.summary.starts_with("copied 0 new"), "{}", run.summary);
        }
        quiet.sort();
        println!(
            "sync with nothing new: median {:.1} ms, max {:.1} ms (request round trip included)",
            quiet[quiet.len() / 2].as_secs_f64() * 1000.0,
            quiet[quiet.len() - 1].as_secs_f64() * 1000.0
        );
    });
    runtime.block_on(async {
        let mut client = Client::connect(&home.socket(), "bench", Some(Duration::from_secs(600)))
            .await
            .unwrap();
        for (label, request) in [
            (
                "history stats --by jail",
                Request::HistoryStats(HistoryGroupQuery {
                    by: "jail".into(),
                    since: None,
                    limit: 50,
                }),
            ),
            (
                "history stats --by day",
                Request::HistoryStats(HistoryGroupQuery {
                    by: "day".into(),
                    since: None,
                    limit: 1000,
                }),
            ),
            (
                "history stats --by country",
                Request::HistoryStats(HistoryGroupQuery {
                    by: "country".into(),
                    since: None,
                    limit: 50,
                }),
            ),
            (
                "history top --by ip",
                Request::HistoryTop(HistoryGroupQuery {
                    by: "ip".into(),
                    since: None,
                    limit: 20,
                }),
            ),
            (
                "history ip",
                Request::HistoryIp(HistoryIpQuery {
                    ip: "11.0.0.1".into(),
                }),
            ),
        ] {
            let mut times = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                client.call(request.clone()).await.unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            println!(
                "{label}: median {:.1} ms, best {:.1} ms over {ROWS} archived rows",
                times[2].as_secs_f64() * 1000.0,
                times[0].as_secs_f64() * 1000.0
            );
        }
    });
}
