use std::time::{Duration, UNIX_EPOCH};

use bangui_proto::messages::{
    HistoryGroupQuery, HistoryIpQuery, HistoryQuery, HistoryRow, HistoryStatsInfo,
};
use bangui_proto::{Request, Response};

use crate::cli::HistoryCommand;
use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

/// "7d" (an age), "2026-11-01", "2026-11-01 12:00:00" or unix seconds.
fn when(flag: &str, text: Option<String>) -> Result<Option<i64>, Failure> {
    let Some(text) = text else { return Ok(None) };
    let t = text.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(Some(secs));
    }
    if let Ok(age) = humantime::parse_duration(t) {
        return Ok(Some(
            output::now_unix() - i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        ));
    }
    let full = if t.len() == 10 {
        format!("{t} 00:00:00")
    } else {
        t.to_string()
    };
    match humantime::parse_rfc3339_weak(&full) {
        Ok(at) => Ok(at
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
        Err(_) => Err(Failure::usage(format!(
            "--{flag}: `{t}` is not a time (2026-11-01, \"2026-11-01 12:00:00\") or an age (7d)"
        ))),
    }
}

pub async fn run(daemon: &mut Daemon, command: HistoryCommand, json: bool) -> Result<(), Failure> {
    match command {
        HistoryCommand::List {
            ip,
            jail,
            country,
            since,
            until,
            limit,
            before,
        } => {
            let q = HistoryQuery {
                ip,
                jail,
                country,
                since: when("since", since)?,
                until: when("until", until)?,
                before_id: before,
                limit,
            };
            let answer = daemon.call(Request::HistoryList(q)).await?;
            let Response::HistoryPage(page) = answer else {
                return Err(unexpected("history_page", &answer));
            };
            if json {
                return output::json(&page);
            }
            print_rows(&page.rows);
            if let Some(next) = page.next_before_id {
                println!("more: --before {next}");
            }
            Ok(())
        }
        HistoryCommand::Ip { ip } => {
            let answer = daemon
                .call(Request::HistoryIp(HistoryIpQuery { ip }))
                .await?;
            let Response::HistoryIp(info) = answer else {
                return Err(unexpected("history_ip", &answer));
            };
            if json {
                return output::json(&info);
            }
            println!("address     {}", info.ip);
            if let Some(g) = &info.geo {
                println!("where       {}", place(g, info.geo_of_first_address));
            }
            println!("bans        {}", info.total_bans);
            if !info.blocklists.is_empty() {
                println!("listed by   {}", info.blocklists.join(", "));
            }
            if !info.blocklist_jails.is_empty() {
                println!("banned by imports in {}", info.blocklist_jails.join(", "));
            }
            for c in &info.covering {
                let mut what = Vec::new();
                if !c.sources.is_empty() {
                    what.push(format!("listed by {}", c.sources.join(", ")));
                }
                if !c.jails.is_empty() {
                    what.push(format!("banned in {}", c.jails.join(", ")));
                }
                println!("inside      {} ({})", c.network, what.join("; "));
            }
            print_rows(&info.bans);
            Ok(())
        }
        HistoryCommand::Stats { since, by, limit } => {
            let q = group_query(by, since, limit)?;
            groups(daemon, Request::HistoryStats(q), json).await
        }
        HistoryCommand::Top { since, by, limit } => {
            let q = group_query(by, since, limit)?;
            groups(daemon, Request::HistoryTop(q), json).await
        }
    }
}

/// "DE Germany AS3320 Deutsche Telekom", marked when it is a network's
/// first address that was looked up.
pub fn place(g: &bangui_proto::messages::GeoInfo, of_first_address: bool) -> String {
    let mut text = [
        g.country_code.clone().unwrap_or_else(|| "-".into()),
        g.country.clone().unwrap_or_default(),
        g.asn.map(|a| format!("AS{a}")).unwrap_or_default(),
        g.org.clone().unwrap_or_default(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .cloned()
    .collect::<Vec<_>>()
    .join(" ");
    if of_first_address {
        text.push_str(" (of the network's first address)");
    }
    text
}

fn group_query(
    by: String,
    since: Option<String>,
    limit: u32,
) -> Result<HistoryGroupQuery, Failure> {
    Ok(HistoryGroupQuery {
        by,
        since: when("since", since)?,
        limit,
    })
}

async fn groups(daemon: &mut Daemon, request: Request, json: bool) -> Result<(), Failure> {
    let answer = daemon.call(request).await?;
    let Response::HistoryStats(stats) = answer else {
        return Err(unexpected("history_stats", &answer));
    };
    if json {
        return output::json(&stats);
    }
    print_stats(&stats);
    Ok(())
}

fn print_rows(rows: &[HistoryRow]) {
    if rows.is_empty() {
        println!("no bans");
        return;
    }
    let mut table = output::table(&[
        "ID",
        "BANNED AT",
        "JAIL",
        "ADDRESS",
        "FOR",
        "LIFTED",
        "COUNT",
        "FAILURES",
        "COUNTRY",
        "ASN",
    ]);
    for r in rows {
        table.add_row(vec![
            r.id.to_string(),
            output::timestamp(r.time_of_ban),
            r.jail.clone(),
            r.ip.clone(),
            if r.bantime < 0 {
                "ever".into()
            } else {
                output::short(Duration::from_secs(r.bantime as u64))
            },
            r.unbanned_at
                .map(|t| {
                    format!(
                        "after {}",
                        output::short(Duration::from_secs(
                            t.saturating_sub(r.time_of_ban).max(0) as u64
                        ))
                    )
                })
                .unwrap_or_else(|| "-".into()),
            r.bancount.to_string(),
            r.failures.map(|f| f.to_string()).unwrap_or_default(),
            r.country_code.clone().unwrap_or_else(|| "-".into()),
            r.asn.map(|a| format!("AS{a}")).unwrap_or_default(),
        ]);
    }
    println!("{table}");
}

fn print_stats(s: &HistoryStatsInfo) {
    let sync = &s.sync;
    println!(
        "archive  {} bans{}; last sync {} ({}){}",
        sync.archived,
        match (sync.oldest, sync.newest) {
            (Some(o), Some(n)) =>
                format!(" from {} to {}", output::timestamp(o), output::timestamp(n)),
            _ => String::new(),
        },
        sync.synced_at
            .map(output::when)
            .unwrap_or_else(|| "never".into()),
        sync.status,
        sync.detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default(),
    );
    println!(
        "total    {} bans of {} addresses",
        s.total_bans, s.total_addresses
    );
    let mut table = output::table(&[&s.by.to_uppercase(), "BANS", "ADDRESSES"]);
    for g in &s.groups {
        table.add_row(vec![
            g.key.clone(),
            g.bans.to_string(),
            g.addresses.to_string(),
        ]);
    }
    println!("{table}");
}
