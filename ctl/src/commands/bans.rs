//! `ban`, `unban` and `banned`: any number of addresses, split into requests
//! that fit, one report, and exit statuses that say whether every target
//! ended as asked.

use std::io::BufRead;

use bangui_proto::messages::{
    BanReport, BanRequest, BannedIn, BannedQuery, JailChange, MAX_BANNED_QUERY, MAX_PAGE,
    UnbanRequest,
};
use bangui_proto::{Request, Response};

use crate::cli::BanArgs;
use crate::connect::{Daemon, unexpected};
use crate::exit::{Failure, NO, REFUSED, RUN_FAILED};
use crate::output;

pub async fn ban(
    daemon: &mut Daemon,
    args: BanArgs,
    unban: bool,
    json: bool,
) -> Result<(), Failure> {
    let targets = distinct(args.targets);
    if targets.is_empty() {
        return Err(Failure::usage(
            "no addresses given: standard input held none",
        ));
    }
    let given = targets.clone();
    let mut merged: Option<BanReport> = None;
    let mut failure = None;
    for chunk in bangui_proto::split::chunks(targets, usize::MAX) {
        let (targets, jail) = (chunk, args.jail.clone());
        let request = if unban {
            Request::Unban(UnbanRequest { targets, jail })
        } else {
            Request::Ban(BanRequest { targets, jail })
        };
        let answer = match daemon.call(request).await {
            Ok(answer) => answer,
            // Nothing done yet: the error is the whole answer.
            Err(f) if merged.is_none() => return Err(f),
            Err(f) => {
                failure = Some(f);
                break;
            }
        };
        let Response::BanReport(report) = answer else {
            return Err(unexpected("ban_report", &answer));
        };
        let stop = report.error.is_some();
        merge(&mut merged, report);
        if stop {
            break;
        }
    }
    let Some(report) = merged else {
        return Err(Failure::usage("no addresses given"));
    };
    // One target left after the refusals: name it in the sentence.
    let single = if report.accepted == 1 && report.refused_total == report.refused.len() as u64 {
        let refused: std::collections::HashSet<&str> =
            report.refused.iter().map(|r| r.target.as_str()).collect();
        let mut left = given.iter().filter(|t| !refused.contains(t.as_str()));
        match (left.next(), left.next()) {
            (Some(t), None) => Some(t.clone()),
            _ => None,
        }
    } else {
        None
    };
    if json {
        output::json(&report)?;
    } else {
        print_report(&report, unban, single.as_deref());
    }
    if let Some(f) = failure {
        return Err(Failure::new(
            RUN_FAILED,
            format!(
                "stopped part-way, after what is reported above: {}",
                f.message
            ),
        ));
    }
    if let Some(error) = &report.error {
        return Err(Failure::new(
            RUN_FAILED,
            format!("fail2ban failed part-way, after what is reported above: {error}"),
        ));
    }
    if report.refused_total > 0 {
        let verb = if unban { "unbanned" } else { "banned" };
        return Err(Failure::new(
            REFUSED,
            format!(
                "{} of {} target(s) refused, not {verb} (see above)",
                report.refused_total, report.requested
            ),
        ));
    }
    Ok(())
}

/// Drops repeated arguments, keeping the first of each.
fn distinct(targets: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(targets.len());
    targets
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

/// Adds one request's report to the sum over all requests.
fn merge(sum: &mut Option<BanReport>, next: BanReport) {
    let Some(total) = sum else {
        *sum = Some(next);
        return;
    };
    total.requested += next.requested;
    total.accepted += next.accepted;
    for change in next.jails {
        match total.jails.iter_mut().find(|j| j.jail == change.jail) {
            Some(j) => {
                j.sent += change.sent;
                j.changed += change.changed;
            }
            None => total.jails.push(change),
        }
    }
    let room = (MAX_PAGE as usize).saturating_sub(total.refused.len());
    total.refused.extend(next.refused.into_iter().take(room));
    total.refused_total += next.refused_total;
    if total.error.is_none() {
        total.error = next.error;
    }
}

fn print_report(r: &BanReport, unban: bool, single: Option<&str>) {
    let done = r.accepted > 0;
    if done {
        for line in report_lines(r, unban, single) {
            println!("{line}");
        }
    }
    if r.refused_total > 0 {
        let what = if unban { "unbanned" } else { "banned" };
        println!("refused, not {what}: {}", r.refused_total);
        for refused in &r.refused {
            println!(
                "  {:<40} {}: {}",
                refused.target, refused.reason, refused.detail
            );
        }
        let hidden = r.refused_total.saturating_sub(r.refused.len() as u64);
        if hidden > 0 {
            println!("  … and {hidden} more");
        }
    }
}

/// Plain sentences: what changed where, and what was so already.
fn report_lines(r: &BanReport, unban: bool, single: Option<&str>) -> Vec<String> {
    let (verb, already) = if unban {
        ("unbanned", "was not banned")
    } else {
        ("banned", "was banned already")
    };
    let single = single.filter(|_| r.accepted == 1);
    if unban && r.all_jails {
        let lifted: Vec<&JailChange> = r.jails.iter().filter(|j| j.changed > 0).collect();
        let checked = r.jails.len();
        if lifted.is_empty() {
            return vec![match single {
                Some(t) => format!("{t} was not banned in any of fail2ban's {checked} jail(s)"),
                None => format!(
                    "none of the {} address(es) was banned in any of fail2ban's {checked} jail(s)",
                    r.accepted
                ),
            }];
        }
        return vec![match single {
            Some(t) => format!(
                "unbanned {t} in {}",
                lifted
                    .iter()
                    .map(|j| j.jail.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "lifted {} ban(s) of {} address(es): {}",
                r.changed(),
                r.accepted,
                lifted
                    .iter()
                    .map(|j| format!("{} in {}", j.changed, j.jail))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }];
    }
    r.jails
        .iter()
        .map(|j| {
            let unchanged = j.sent.saturating_sub(j.changed);
            match single {
                Some(t) if j.changed > 0 => format!("{verb} {t} in {}", j.jail),
                Some(t) => format!("{t} {already} in {}", j.jail),
                None => {
                    let mut line = format!("{}: {} {verb}", j.jail, j.changed);
                    if unchanged > 0 {
                        line.push_str(&format!(
                            ", {unchanged} {}",
                            if unban {
                                "were not banned"
                            } else {
                                "were banned already"
                            }
                        ));
                    }
                    line
                }
            }
        })
        .collect()
}

/// Banned neither itself nor by a network that holds it.
fn is_free(b: &BannedIn) -> bool {
    b.jails.is_empty() && b.networks.is_empty()
}

pub async fn banned(
    daemon: &mut Daemon,
    addresses: Vec<String>,
    quiet: bool,
    json: bool,
) -> Result<(), Failure> {
    if addresses.is_empty() {
        return Err(Failure::usage(
            "no addresses given: standard input held none",
        ));
    }
    let mut answers: Vec<BannedIn> = Vec::with_capacity(addresses.len());
    for chunk in bangui_proto::split::chunks(addresses, MAX_BANNED_QUERY as usize) {
        let answer = daemon
            .call(Request::Banned(BannedQuery { addresses: chunk }))
            .await
            .map_err(Failure::for_question)?;
        let Response::BannedIn(list) = answer else {
            return Err(unexpected("banned_in", &answer).for_question());
        };
        answers.extend(list);
    }
    if json {
        output::json(&answers)?;
    } else if !quiet {
        for b in &answers {
            if !b.jails.is_empty() {
                println!("{} is banned in {}", b.address, b.jails.join(", "));
            }
            for n in &b.networks {
                let listed = if n.sources.is_empty() {
                    String::new()
                } else {
                    format!(" (listed by {})", n.sources.join(", "))
                };
                println!(
                    "{} is banned in {} by {}{listed}",
                    b.address,
                    n.jails.join(", "),
                    n.network
                );
            }
            if is_free(b) {
                println!("{} is not banned", b.address);
            }
        }
    }
    let not_banned = answers.iter().filter(|b| is_free(b)).count();
    if not_banned == 0 {
        Ok(())
    } else if answers.len() == 1 || quiet || json {
        Err(Failure::new(NO, String::new()))
    } else {
        Err(Failure::new(
            NO,
            format!("{not_banned} of {} address(es) not banned", answers.len()),
        ))
    }
}

/// Replaces `-` in the address lists of `ban`, `unban`, `banned` and `geo
/// lookup`/`forget` with what standard input holds. Called before the
/// runtime starts, so that Ctrl-C while a pipe is read ends the ctl at once
/// and no connection waits idle on a slow pipe.
pub fn read_stdin(command: &mut crate::cli::Command) -> Result<(), Failure> {
    use crate::cli::{Command, GeoCommand};
    let list = match command {
        Command::Ban(args) | Command::Unban(args) => &mut args.targets,
        Command::Banned { addresses, .. }
        | Command::Geo(GeoCommand::Lookup { addresses, .. })
        | Command::Geo(GeoCommand::Forget { addresses }) => addresses,
        _ => return Ok(()),
    };
    if list.iter().any(|a| a == "-") {
        *list = expand(std::mem::take(list))?;
    }
    Ok(())
}

/// `-` stands for the targets on standard input, one or more per line; `#` starts a comment.
fn expand(args: Vec<String>) -> Result<Vec<String>, Failure> {
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
