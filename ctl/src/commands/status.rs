use std::time::Duration;

use bangui_proto::{Request, Response};

use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

pub async fn run(daemon: &mut Daemon, json: bool) -> Result<(), Failure> {
    let answer = daemon.call(Request::Status).await?;
    let Response::Status(s) = answer else {
        return Err(unexpected("status", &answer));
    };
    let health = super::fail2ban::health(daemon).await?;
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
