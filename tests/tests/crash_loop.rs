//! Crash recovery: imports, manual bans, history sync and geo flushes run
//! while the daemon is killed with SIGKILL, at random moments or at named
//! fault points (the moments between a fail2ban request and its database
//! record), over and over. After every kill the state must be sound, and in
//! the end every intended address is banned exactly once.
//!
//! Seeded: `BANGUI_CRASH_SEED=<n>` replays a run; `BANGUI_CRASH_ROUNDS`
//! changes the number of kills (default 60).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bangui_tests::fail2ban::{Fail2banConf, Fail2banServer};
use bangui_tests::lists::ListServer;
use bangui_tests::{Daemon, Home, bin, describe, wait_for};
use rusqlite::{Connection, OpenFlags};

const JAIL: &str = "bangui-blocklist";
const POINTS: [&str; 5] = [
    "import.batch_recorded",
    "import.batch_acknowledged",
    "import.unban_sent",
    "history.page_archived",
    "geo.flush_written",
];

/// xorshift64*: small, seeded, good enough to pick moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Loop {
    home: Home,
    server: Fail2banServer,
    lists: ListServer,
    pool: Vec<String>,
}

fn open(home: &Home) -> Connection {
    let conn =
        Connection::open_with_flags(home.database(), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

impl Loop {
    /// Starts the daemon; with a fault point armed it may die before it answers.
    fn start_daemon(&self, fault: Option<(&str, u64)>) -> Daemon {
        self.home.spawn_with(|cmd| {
            cmd.env("BANGUI_LOG_LEVEL", "info");
            if let Some((point, hit)) = fault {
                cmd.env("BANGUI_FAULT_POINT", point)
                    .env("BANGUI_FAULT_HIT", hit.to_string());
            }
        })
    }

    /// The state after a kill: nothing torn, nothing claimed that is not so.
    /// The newest import run's id (0 before the first).
    fn last_run_id(&self) -> i64 {
        open(&self.home)
            .query_row("SELECT coalesce(max(id), 0) FROM import_runs", [], |r| {
                r.get(0)
            })
            .unwrap_or(0)
    }

    fn check_state(&self, round: u64, list: &BTreeSet<String>, runs_before: i64) {
        let conn = open(&self.home);
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        let duplicates: i64 = conn
            .query_row(
                "SELECT count(*) FROM (SELECT ip, jail, time_of_ban FROM ban_history \
                 GROUP BY 1, 2, 3 HAVING count(*) > 1)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(duplicates, 0, "round {round}: duplicate archive rows");
        // A run of this round marked completed has banned its whole list.
        let completed: Option<i64> = conn
            .query_row(
                "SELECT id FROM import_runs WHERE status = 'completed' AND id > ?1 \
                 ORDER BY id DESC LIMIT 1",
                [runs_before],
                |r| r.get(0),
            )
            .ok();
        if completed.is_some() {
            let banned: BTreeSet<String> = self.server.banned(JAIL).into_iter().collect();
            let missing: Vec<&String> = list.difference(&banned).collect();
            assert!(
                missing.is_empty(),
                "round {round}: a completed run left {} address(es) unbanned, e.g. {:?}",
                missing.len(),
                missing.first()
            );
        }
    }
}

fn current_bans_once(conf: &Fail2banConf) -> (i64, i64) {
    let conn = Connection::open_with_flags(
        conf.run.join("fail2ban.sqlite3"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT count(DISTINCT ip), count(*) FROM bips WHERE jail = ?1",
        [JAIL],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn sigkill_at_random_moments_and_fault_points_loses_and_duplicates_nothing() {
    let seed = env_u64("BANGUI_CRASH_SEED", 0x0BAD_5EED);
    let rounds = env_u64("BANGUI_CRASH_ROUNDS", 60);
    println!("crash loop: seed {seed}, {rounds} rounds (BANGUI_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed.max(1));

    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    home.write_config(&conf.daemon_section_with_database(
        "ban_chunk = 50\nban_request_time = 0\n\
         [jobs.health_check]\ninterval = \"1s\"\n[jobs.blocklist_import]\nenabled = false\n\
         [jobs.history_sync]\ninterval = \"1s\"\n[jobs.geo_cache_flush]\ninterval = \"1s\"\n\
         first_delay = \"0s\"\n",
    ));
    // The first start writes the jail files fail2ban then loads.
    let first = home.start();
    let server = conf.start();
    let lists = ListServer::start();
    let out = first.ctl(&["blocklist", "add", "src", &lists.url("list.txt"), "--local"]);
    assert!(out.status.success(), "{}", describe(&out));
    first.stop();
    let pool = bangui_tests::fail2ban::addresses(2_000);
    let l = Loop {
        home,
        server,
        lists,
        pool,
    };

    let mut list = BTreeSet::new();
    let (mut by_point, mut by_timer) = (0, 0);
    for round in 0..rounds {
        // A list that overlaps the last one: some bans stay, some go, some come.
        let start = rng.below(1_000) as usize;
        let len = 300 + rng.below(900) as usize;
        list = l.pool[start..(start + len).min(l.pool.len())]
            .iter()
            .cloned()
            .collect();
        l.lists
            .set_lines("list.txt", &list.iter().cloned().collect::<Vec<_>>());
        let fault = (rng.below(2) == 0).then(|| {
            let point = POINTS[rng.below(POINTS.len() as u64) as usize];
            (point, 1 + rng.below(3))
        });
        let runs_before = l.last_run_id();
        let mut daemon = l.start_daemon(fault);
        let died_starting = wait_for("the daemon to answer or die", || {
            if daemon.exited().is_some() {
                return Some(true);
            }
            daemon.answers().then_some(false)
        });
        let mut import = Command::new(bin("bangui-ctl"))
            .arg("--socket")
            .arg(l.home.socket())
            .args(["blocklist", "run", "src", "--wait"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Manual bans go to fail2ban and, through its database, to the history archive.
        let manual = format!("11.250.{}.{}", round / 250, round % 250 + 1);
        let _ = daemon.ctl(&["ban", &manual]);
        let killed_itself = match fault {
            Some((point, _)) if died_starting => {
                assert!(
                    daemon.log_text().contains(&format!("fault point {point}")),
                    "round {round}"
                );
                true
            }
            Some((point, _)) => {
                // The point may not come up this round; then the timer decides.
                let until = Instant::now() + Duration::from_millis(1_500);
                let mut exited = false;
                while Instant::now() < until {
                    if daemon.exited().is_some() {
                        exited = true;
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                if exited {
                    assert!(
                        daemon.log_text().contains(&format!("fault point {point}")),
                        "round {round}: the daemon died, but not at {point}: {}",
                        daemon.log_text()
                    );
                }
                exited
            }
            None => {
                std::thread::sleep(Duration::from_millis(rng.below(600)));
                false
            }
        };
        if killed_itself {
            by_point += 1;
            drop(daemon);
        } else {
            by_timer += 1;
            daemon.kill();
        }
        let _ = import.wait();
        l.check_state(round, &list, runs_before);
    }
    println!("killed {by_point} time(s) at fault points, {by_timer} time(s) by timer");
    assert!(
        by_point >= rounds / 12 && by_timer >= rounds / 12,
        "{by_point} / {by_timer}: too few kills of one kind"
    );

    // Recovery: one clean start and run; everything listed banned, once.
    let daemon = l.home.start();
    let out = daemon.ctl(&["--json", "blocklist", "run", "src", "--wait"]);
    let runs: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)));
    assert!(
        matches!(runs[0]["status"].as_str(), Some("completed" | "unchanged")),
        "{runs}"
    );
    let banned: BTreeSet<String> = l.server.banned(JAIL).into_iter().collect();
    assert_eq!(
        banned, list,
        "fail2ban bans exactly the list after recovery"
    );
    wait_for("fail2ban to store the current bans", || {
        let (distinct, rows) = current_bans_once(&conf);
        (distinct == list.len() as i64).then_some(rows)
    });
    let (distinct, rows) = current_bans_once(&conf);
    assert_eq!(distinct, rows, "an address is banned twice in fail2ban");
    let again = daemon.ctl(&["--json", "blocklist", "run", "src", "--wait"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again[0]["to_ban"], 0, "a second run sends nothing: {again}");

    let sync = daemon.ctl(&["jobs", "run", "history_sync", "--wait"]);
    assert!(sync.status.success(), "{}", describe(&sync));
    // Every ban fail2ban still records is in the archive exactly once (the
    // archive also keeps bans fail2ban has since deleted: that is its purpose).
    let conn = open(&l.home);
    let f2b = Connection::open_with_flags(
        conf.run.join("fail2ban.sqlite3"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = f2b.prepare("SELECT ip, jail, timeofban FROM bans").unwrap();
    let rows: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!rows.is_empty());
    for (ip, jail, time) in &rows {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM ban_history WHERE ip = ?1 AND jail = ?2 AND time_of_ban = ?3",
                rusqlite::params![ip, jail, time],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{ip} in {jail} at {time} is archived {n} time(s)");
    }
    daemon.stop();
}
