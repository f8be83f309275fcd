//! `explain ADDRESS`: why it is blocked, or why not.

use bangui_proto::messages::{ExplainQuery, Explanation};
use bangui_proto::{Request, Response};

use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

pub async fn run(daemon: &mut Daemon, target: String, json: bool) -> Result<(), Failure> {
    let answer = daemon
        .call(Request::Explain(ExplainQuery { target }))
        .await?;
    let Response::Explanation(e) = answer else {
        return Err(unexpected("explanation", &answer));
    };
    if json {
        return output::json(&e);
    }
    print(&e);
    Ok(())
}

/// " since 2026-12-01 10:00:00", when the time is known.
fn since(at: Option<i64>) -> String {
    at.map(|t| format!(" since {}", output::when(t)))
        .unwrap_or_default()
}

fn print(e: &Explanation) {
    let now = output::now_unix();
    if e.bans.is_empty() {
        println!("{} is not banned in any jail", e.target);
    }
    for b in &e.bans {
        let how = if b.banned == e.target {
            String::new()
        } else {
            format!(" by {}", b.banned)
        };
        let since = since(b.since);
        let until = match (b.permanent, b.until) {
            (true, _) => ", for good".to_string(),
            (false, Some(t)) if t > now => format!(", until {}", output::when(t)),
            (false, Some(_)) => ", its time is up (fail2ban lifts it at its next check)".into(),
            (false, None) => String::new(),
        };
        println!("{} is banned in {}{how}{since}{until}", e.target, b.jail);
    }
    for l in &e.listings {
        let entry = if l.entry == e.target {
            String::new()
        } else {
            format!(" as {}", l.entry)
        };
        let since = since(l.since);
        println!(
            "listed by {}{entry}{since} (into jail {})",
            l.source, l.jail
        );
    }
    if e.listings.is_empty() {
        println!("no blocklist source lists it");
    }
    match &e.refused {
        Some(r) => println!("bangui would not ban it: {} ({})", r.detail, r.reason),
        None => println!("the allowlist lets it be banned"),
    }
    if let Some(g) = &e.geo {
        println!(
            "where: {}",
            super::history::place(g, e.geo_of_first_address)
        );
    }
}
