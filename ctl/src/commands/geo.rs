use bangui_proto::messages::{
    GeoForget, GeoInfo, GeoLookup, GeoStatsInfo, GeoUnresolvedQuery, MAX_PAGE,
};
use bangui_proto::{Request, Response};

use crate::cli::GeoCommand;
use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

pub async fn run(daemon: &mut Daemon, command: GeoCommand, json: bool) -> Result<(), Failure> {
    match command {
        GeoCommand::Lookup { addresses, remote } => {
            let mut records = Vec::with_capacity(addresses.len());
            // The daemon takes a page of addresses per request.
            for chunk in bangui_proto::split::chunks(addresses, MAX_PAGE as usize) {
                let answer = daemon
                    .call(Request::GeoLookup(GeoLookup {
                        addresses: chunk,
                        remote,
                    }))
                    .await?;
                let Response::GeoRecords(mut r) = answer else {
                    return Err(unexpected("geo_records", &answer));
                };
                records.append(&mut r);
            }
            print_records(&records, json)
        }
        GeoCommand::Unresolved { limit } => {
            let answer = daemon
                .call(Request::GeoUnresolved(GeoUnresolvedQuery { limit }))
                .await?;
            let Response::GeoRecords(records) = answer else {
                return Err(unexpected("geo_records", &answer));
            };
            if records.is_empty() && !json {
                println!("no unresolved addresses");
                return Ok(());
            }
            print_records(&records, json)
        }
        GeoCommand::Stats => {
            let answer = daemon.call(Request::GeoStats).await?;
            let Response::GeoStats(stats) = answer else {
                return Err(unexpected("geo_stats", &answer));
            };
            if json {
                return output::json(&stats);
            }
            print_stats(&stats);
            Ok(())
        }
        GeoCommand::Flush => {
            let answer = daemon.call(Request::GeoFlush).await?;
            let Response::GeoFlushed(f) = answer else {
                return Err(unexpected("geo_flushed", &answer));
            };
            if json {
                return output::json(&f);
            }
            println!("wrote {} entries; {} still dirty", f.written, f.dirty);
            Ok(())
        }
        GeoCommand::Forget { addresses } => {
            let mut forgotten = 0;
            for chunk in addresses.chunks(MAX_PAGE as usize) {
                let answer = daemon
                    .call(Request::GeoForget(GeoForget {
                        addresses: chunk.to_vec(),
                    }))
                    .await?;
                let Response::GeoForgotten(f) = answer else {
                    return Err(unexpected("geo_forgotten", &answer));
                };
                forgotten += f.forgotten;
            }
            if json {
                return output::json(&serde_json::json!({ "forgotten": forgotten }));
            }
            println!("forgot {forgotten} of {} addresses", addresses.len());
            Ok(())
        }
    }
}

fn print_records(records: &[GeoInfo], json: bool) -> Result<(), Failure> {
    if json {
        return output::json(&records);
    }
    let mut table = output::table(&[
        "ADDRESS",
        "COUNTRY",
        "",
        "ASN",
        "ORGANISATION",
        "SOURCE",
        "NOTE",
    ]);
    for r in records {
        let note = match (&r.status[..], &r.reason) {
            ("resolved", _) => String::new(),
            (status, Some(reason)) => format!("{status}: {reason}"),
            (status, None) => status.to_string(),
        };
        table.add_row(vec![
            r.address.clone(),
            r.country_code.clone().unwrap_or_else(|| "-".into()),
            r.country.clone().unwrap_or_default(),
            r.asn
                .map(|a| format!("AS{a}"))
                .unwrap_or_else(|| "-".into()),
            r.org.clone().unwrap_or_default(),
            r.source.clone(),
            note,
        ]);
    }
    println!("{table}");
    Ok(())
}

fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn print_stats(s: &GeoStatsInfo) {
    println!(
        "entries      {} ({} resolved, {} unresolved, {} private/reserved)",
        s.entries, s.resolved, s.unresolved, s.not_routable
    );
    let flushed = s
        .last_flush_at
        .map(|t| format!(", last flush {}", output::when(t)))
        .unwrap_or_default();
    println!("dirty        {}{flushed}", s.dirty);
    println!(
        "queue        {} waiting, {} overflowed to re-resolve",
        s.queued, s.overflowed
    );
    println!(
        "lookups      {} (cache hits {}, MaxMind {}, ip-api {} resolved / {} failed)",
        s.lookups,
        ratio(s.cache_hits, s.lookups),
        ratio(s.maxmind_hits, s.lookups),
        s.ip_api_resolved,
        s.ip_api_failed
    );
    for m in &s.maxmind {
        let built = m
            .build_epoch
            .and_then(|e| i64::try_from(e).ok())
            .map(|e| format!(", built {}", output::timestamp(e)))
            .unwrap_or_default();
        let kind = m
            .database_type
            .as_deref()
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        println!(
            "maxmind      {:<8} {}{kind}{built} {}",
            m.role,
            m.state,
            m.path.as_deref().unwrap_or("(off)")
        );
        if let Some(e) = &m.error {
            println!("             {e}");
        }
    }
    let i = &s.ip_api;
    if i.offline {
        println!("ip-api       off (geo.offline)");
    } else {
        let mode = if i.enabled { "on" } else { "on request only" };
        let next = if i.next_window_secs > 0 {
            format!(", more in {}s", i.next_window_secs)
        } else {
            String::new()
        };
        println!(
            "ip-api       {mode} {} — {} requests, budget {} left{next}",
            i.url, i.requests, i.budget_left
        );
        if let Some(e) = &i.last_error {
            println!("             last error: {e}");
        }
    }
}
