use std::io::BufRead;

use bangui_proto::messages::{
    BanReport, BanRequest, BannedQuery, Fail2banHealth, Fail2banState, JailStatusQuery,
    UnbanRequest,
};
use bangui_proto::{Request, Response};

use crate::cli::{BanArgs, Fail2banCommand};
use crate::connect::{Daemon, unexpected};
use crate::exit::{Failure, RUN_FAILED};
use crate::output;

pub async fn run(daemon: &mut Daemon, command: Fail2banCommand, json: bool) -> Result<(), Failure> {
    match command {
        Fail2banCommand::Status { jail: None, .. } => {
            let health = health(daemon).await?;
            if json {
                return output::json(&health);
            }
            print_health(&health);
            Ok(())
        }
        Fail2banCommand::Status {
            jail: Some(jail),
            limit,
        } => {
            let answer = daemon
                .call(Request::JailStatus(JailStatusQuery { jail, limit }))
                .await?;
            let Response::JailStatus(s) = answer else {
                return Err(unexpected("jail_status", &answer));
            };
            if json {
                return output::json(&s);
            }
            let c = &s.counts;
            println!("jail             {}", c.name);
            println!("currently failed {}", c.currently_failed);
            println!("total failed     {}", c.total_failed);
            println!("currently banned {}", c.currently_banned);
            println!("total banned     {}", c.total_banned);
            for address in &s.banned {
                println!("  {address}");
            }
            let more = s.banned_total.saturating_sub(s.banned.len() as u64);
            if more > 0 {
                println!("  … and {more} more (raise --limit to see them)");
            }
            Ok(())
        }
    }
}

pub async fn health(daemon: &mut Daemon) -> Result<Fail2banHealth, Failure> {
    let answer = daemon.call(Request::Fail2banHealth).await?;
    match answer {
        Response::Fail2banHealth(h) => Ok(h),
        other => Err(unexpected("fail2ban_health", &other)),
    }
}

/// The fail2ban lines of `status` and `fail2ban status`.
pub fn print_health(h: &Fail2banHealth) {
    let since = h
        .since
        .map(|t| format!(" since {}", output::when(t)))
        .unwrap_or_default();
    let version = h
        .version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    match h.state {
        Fail2banState::Up => println!("fail2ban   up{version}{since} on {}", h.socket),
        Fail2banState::Down => println!("fail2ban   DOWN{since} on {}", h.socket),
        Fail2banState::Unknown => println!("fail2ban   not checked yet on {}", h.socket),
    }
    if let Some(error) = &h.error {
        println!("           {error}");
    }
    for jail in &h.jails {
        println!(
            "  jail {:<24} banned {:>7} (total {}), failed {} (total {})",
            jail.name,
            jail.currently_banned,
            jail.total_banned,
            jail.currently_failed,
            jail.total_failed
        );
    }
    if let Some(hint) = &h.hint {
        println!("hint       {hint}");
    }
}

pub async fn ban(
    daemon: &mut Daemon,
    args: BanArgs,
    unban: bool,
    json: bool,
) -> Result<(), Failure> {
    let targets = expand(args.targets)?;
    let request = if unban {
        Request::Unban(UnbanRequest {
            targets,
            jail: args.jail,
        })
    } else {
        Request::Ban(BanRequest {
            targets,
            jail: args.jail,
        })
    };
    let answer = daemon.call(request).await?;
    let Response::BanReport(report) = answer else {
        return Err(unexpected("ban_report", &answer));
    };
    if json {
        output::json(&report)?;
    } else {
        print_report(&report, unban);
    }
    match &report.error {
        Some(error) => Err(Failure::new(
            RUN_FAILED,
            format!(
                "fail2ban failed after {} of the targets: {error}",
                report.sent
            ),
        )),
        None => Ok(()),
    }
}

fn print_report(r: &BanReport, unban: bool) {
    let (verb, changed) = if unban {
        ("unbanned", "lifted")
    } else {
        ("banned", "new")
    };
    println!(
        "{verb} {} of {} in {} ({} {changed}), {} refused",
        r.sent, r.requested, r.jail, r.changed, r.refused_total
    );
    for refused in &r.refused {
        println!(
            "  refused {:<40} {}: {}",
            refused.target, refused.reason, refused.detail
        );
    }
    let hidden = r.refused_total.saturating_sub(r.refused.len() as u64);
    if hidden > 0 {
        println!("  … and {hidden} more refused");
    }
}

pub async fn banned(daemon: &mut Daemon, address: String, json: bool) -> Result<(), Failure> {
    let answer = daemon
        .call(Request::Banned(BannedQuery { address }))
        .await?;
    let Response::BannedIn(b) = answer else {
        return Err(unexpected("banned_in", &answer));
    };
    if json {
        return output::json(&b);
    }
    if b.jails.is_empty() {
        println!("{} is not banned", b.address);
    } else {
        println!("{} is banned in {}", b.address, b.jails.join(", "));
    }
    Ok(())
}

/// `-` stands for the targets on standard input, one or more per line; `#` starts a comment.
pub fn expand(args: Vec<String>) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for arg in args {
        if arg != "-" {
            out.push(arg);
            continue;
        }
        for line in std::io::stdin().lock().lines() {
            let line =
                line.map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
            let data = line.split('#').next().unwrap_or("");
            out.extend(data.split_whitespace().map(str::to_string));
        }
    }
    Ok(out)
}
