use std::time::Duration;

use bangui_proto::{Request, Response};

use bangui_proto::messages::{Fail2banHealth, Fail2banState, StatusInfo};

use crate::connect::{Daemon, unexpected};
use crate::exit::{Failure, NO};
use crate::output;

pub async fn run(daemon: &mut Daemon, check: bool, json: bool) -> Result<(), Failure> {
    if check {
        return run_check(daemon, json).await;
    }
    let s = status(daemon).await?;
    let health = super::fail2ban::health(daemon, false).await?;
    if json {
        #[derive(serde::Serialize)]
        struct StatusJson<'a> {
            #[serde(flatten)]
            daemon: &'a bangui_proto::messages::StatusInfo,
            fail2ban: &'a bangui_proto::messages::Fail2banHealth,
        }
        return output::json(&StatusJson {
            daemon: &s,
            fail2ban: &health,
        });
    }
    let rows = [
        (
            "daemon",
            format!(
                "bangui {} (protocol {})",
                s.daemon_version, s.protocol_version
            ),
        ),
        ("ctl", format!("bangui-ctl {}", env!("CARGO_PKG_VERSION"))),
        ("pid", s.pid.to_string()),
        (
            "up",
            format!(
                "{} (since {})",
                output::short(Duration::from_secs(s.uptime_secs)),
                output::timestamp(s.started_at)
            ),
        ),
        ("state dir", s.state_dir),
        ("socket", s.socket),
        (
            "database",
            format!(
                "{} ({}, schema version {})",
                s.database,
                bytes(s.database_bytes),
                s.schema_version
            ),
        ),
        (
            "jobs",
            format!(
                "{} registered, {} running, {} failing",
                s.jobs_total, s.jobs_running, s.jobs_failing
            ),
        ),
        (
            "you",
            format!(
                "uid {} gid {} ({})",
                s.peer.uid,
                s.peer.gid,
                if s.peer.admin {
                    "administrator"
                } else {
                    "read-only"
                }
            ),
        ),
    ];
    for (key, value) in rows {
        println!("{key:<10} {value}");
    }
    super::fail2ban::print_health(&health);
    Ok(())
}

async fn status(daemon: &mut Daemon) -> Result<StatusInfo, Failure> {
    let answer = daemon.call(Request::Status).await?;
    match answer {
        Response::Status(s) => Ok(s),
        other => Err(unexpected("status", &other)),
    }
}

/// `status --check`: one line, and an exit status monitoring can act on.
async fn run_check(daemon: &mut Daemon, json: bool) -> Result<(), Failure> {
    let s = status(daemon).await.map_err(Failure::for_question)?;
    // Asked of fail2ban now: a monitoring check must not trust a snapshot.
    let health = super::fail2ban::health(daemon, true)
        .await
        .map_err(Failure::for_question)?;
    let problems = problems(&s, &health);
    if json {
        output::json(&serde_json::json!({
            "healthy": problems.is_empty(),
            "problems": problems,
        }))?;
    } else if problems.is_empty() {
        println!(
            "OK: bangui {} and fail2ban {} are up, {} jobs, none failing",
            s.daemon_version,
            health.version.as_deref().unwrap_or("?"),
            s.jobs_total
        );
    } else {
        println!("CRITICAL: {}", problems.join("; "));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(NO, String::new()))
    }
}

/// What `status --check` reports as wrong.
fn problems(s: &StatusInfo, h: &Fail2banHealth) -> Vec<String> {
    let mut out = Vec::new();
    match h.state {
        // Busy is a finding (shown by `status`), not a failure: fail2ban works.
        Fail2banState::Up | Fail2banState::Busy => {}
        Fail2banState::Down | Fail2banState::Denied | Fail2banState::Unknown => out.push(format!(
            "fail2ban is {} on {}{}",
            match h.state {
                Fail2banState::Denied => "not accessible",
                Fail2banState::Unknown => "not checked yet",
                _ => "down",
            },
            h.socket,
            h.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )),
    }
    if !h.missing_jails.is_empty() {
        out.push(format!(
            "fail2ban has not loaded {}",
            h.missing_jails.join(", ")
        ));
    }
    for job in &s.failing_jobs {
        out.push(format!(
            "job {} failed {} times in a row{}",
            job.id,
            job.failures_in_a_row,
            job.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    if s.disk_full {
        out.push(format!(
            "the database cannot be written: no space left in {}",
            s.state_dir
        ));
    }
    out
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
