use std::io::IsTerminal;
use std::time::Duration;

use bangui_proto::messages::{
    AddSource, EnableSource, Enforcement, ImportPlan, ImportRunInfo, ListFormat, ListImportRuns,
    RemoveSource, RunImport, SourceInfo, SourceName,
};
use bangui_proto::{Request, Response};

use crate::cli::BlocklistCommand;
use crate::connect::{Daemon, unexpected};
use crate::exit::{Failure, RUN_FAILED};
use crate::output;

pub async fn run(
    daemon: &mut Daemon,
    command: BlocklistCommand,
    json: bool,
) -> Result<(), Failure> {
    match command {
        BlocklistCommand::Add {
            name,
            url,
            interval,
            jail,
            max_entries,
            local,
            secret_path,
            json_field,
            min_score,
            min_prefix_v4,
            min_prefix_v6,
        } => {
            let interval_secs = interval.map(|d| d.as_secs());
            let info = source(
                daemon,
                Request::AddSource(AddSource {
                    name,
                    url,
                    interval_secs,
                    jail,
                    max_entries,
                    local,
                    secret_path,
                    format: ListFormat {
                        json_field,
                        min_score,
                        min_prefix_v4,
                        min_prefix_v6,
                    },
                }),
            )
            .await?;
            if json {
                return output::json(&info);
            }
            println!(
                "added {}; its first import runs within 5 minutes (or now: bangui-ctl blocklist run {} --wait)",
                info.name, info.name
            );
            Ok(())
        }
        BlocklistCommand::List => {
            let answer = daemon.call(Request::ListSources).await?;
            let Response::Sources(sources) = answer else {
                return Err(unexpected("sources", &answer));
            };
            if json {
                return output::json(&sources);
            }
            if sources.is_empty() {
                println!("no blocklist sources; add one with `bangui-ctl blocklist add NAME URL`");
                return Ok(());
            }
            let mut table = output::table(&[
                "NAME",
                "STATE",
                "JAIL",
                "EVERY",
                "LISTED",
                "BANNED",
                "LAST IMPORT",
                "NEXT",
            ]);
            let now = output::now_unix();
            for s in &sources {
                table.add_row(vec![
                    s.name.clone(),
                    state(s),
                    s.jail.clone(),
                    output::short(Duration::from_secs(s.interval_secs)),
                    s.listed.to_string(),
                    s.banned.to_string(),
                    s.last_run
                        .as_ref()
                        .map(|r| format!("{} {}", r.status, output::relative(r.started_at, now)))
                        .unwrap_or_else(|| "never".into()),
                    s.next_run_at
                        .map(|t| output::relative(t, now))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        BlocklistCommand::Show { name } => {
            let info = source(daemon, Request::ShowSource(SourceName { name })).await?;
            if json {
                return output::json(&info);
            }
            print_source(&info);
            Ok(())
        }
        BlocklistCommand::Enable { name } => switch(daemon, name, true, json).await,
        BlocklistCommand::Disable { name } => switch(daemon, name, false, json).await,
        BlocklistCommand::Remove { name, unban } => {
            let request = Request::RemoveSource(RemoveSource { name, unban });
            let answer = if unban {
                call_with_progress(daemon, request, json).await?
            } else {
                daemon.call(request).await?
            };
            let Response::SourceRemoved(r) = answer else {
                return Err(unexpected("source_removed", &answer));
            };
            if json {
                output::json(&r)?;
            } else if let Some(e) = &r.error {
                println!(
                    "{} kept: unbanning failed after {} unbans: {e}",
                    r.name, r.unbanned
                );
            } else {
                let deferred = if r.deferred > 0 {
                    format!(
                        ", {} left to expire (fail2ban had not stored them yet)",
                        r.deferred
                    )
                } else {
                    String::new()
                };
                println!("removed {}; {} unbanned{deferred}", r.name, r.unbanned);
            }
            match r.error {
                Some(e) => Err(Failure::new(RUN_FAILED, e)),
                None => Ok(()),
            }
        }
        BlocklistCommand::Run { name, wait } => run_import(daemon, name, wait, json).await,
        BlocklistCommand::Runs { name, limit } => {
            let runs = import_runs(daemon, name, false, limit).await?;
            if json {
                return output::json(&runs);
            }
            print_runs(&runs);
            Ok(())
        }
        BlocklistCommand::Plan { name } => {
            let answer = daemon
                .call(Request::PlanImport(SourceName { name }))
                .await?;
            let Response::ImportPlan(plan) = answer else {
                return Err(unexpected("import_plan", &answer));
            };
            if json {
                output::json(&plan)?;
            } else {
                print_plan(&plan);
            }
            match plan.error {
                Some(e) => Err(Failure::new(
                    RUN_FAILED,
                    format!("the import would fail: {e}"),
                )),
                None => Ok(()),
            }
        }
    }
}

async fn source(daemon: &mut Daemon, request: Request) -> Result<SourceInfo, Failure> {
    let answer = daemon.call(request).await?;
    match answer {
        Response::Source(info) => Ok(info),
        other => Err(unexpected("source", &other)),
    }
}

async fn switch(
    daemon: &mut Daemon,
    name: String,
    enabled: bool,
    json: bool,
) -> Result<(), Failure> {
    let info = source(
        daemon,
        Request::EnableSource(EnableSource { name, enabled }),
    )
    .await?;
    if json {
        return output::json(&info);
    }
    println!(
        "{} {}",
        info.name,
        if enabled {
            "enabled"
        } else {
            "disabled; its bans stay until they expire"
        }
    );
    Ok(())
}

async fn import_runs(
    daemon: &mut Daemon,
    source: Option<String>,
    running: bool,
    limit: u32,
) -> Result<Vec<ImportRunInfo>, Failure> {
    let answer = daemon
        .call(Request::ListImportRuns(ListImportRuns {
            source,
            running,
            limit,
        }))
        .await?;
    match answer {
        Response::ImportRuns(runs) => Ok(runs),
        other => Err(unexpected("import_runs", &other)),
    }
}

fn state(s: &SourceInfo) -> String {
    let mut state = if s.enabled { "enabled" } else { "disabled" }.to_string();
    if s.failure_streak > 0 {
        state.push_str(&format!(", {} failure(s)", s.failure_streak));
    }
    state
}

async fn run_import(
    daemon: &mut Daemon,
    name: Option<String>,
    wait: bool,
    json: bool,
) -> Result<(), Failure> {
    let request = Request::RunImport(RunImport {
        name: name.clone(),
        wait,
    });
    if !wait {
        daemon.call(request).await?;
        if !json {
            println!("import started; follow it with `bangui-ctl blocklist runs`");
        } else {
            output::json(&serde_json::json!({ "started": true }))?;
        }
        return Ok(());
    }
    let answer = call_with_progress(daemon, request, json).await?;
    let Response::ImportRuns(runs) = answer else {
        return Err(unexpected("import_runs", &answer));
    };
    if json {
        output::json(&runs)?;
    } else {
        if runs.is_empty() {
            println!("no enabled source to import");
        }
        for r in &runs {
            print_run(r);
        }
    }
    let failed: Vec<&str> = runs
        .iter()
        .filter(|r| r.status == "failed" || r.status == "interrupted")
        .map(|r| r.source.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            RUN_FAILED,
            format!("import failed: {}", failed.join(", ")),
        ))
    }
}

/// A set-once flag the two halves of `run --wait` share on one thread.
mod tokio_util_like {
    use std::cell::Cell;

    #[derive(Default)]
    pub struct Flag(Cell<bool>);

    impl Flag {
        pub fn set(&self) {
            self.0.set(true);
        }
        pub fn is_set(&self) -> bool {
            self.0.get()
        }
    }
}

/// Sends a request that runs an import (or a removal's unbans) and, on a
/// terminal, draws its progress from a second connection meanwhile.
async fn call_with_progress(
    daemon: &mut Daemon,
    request: Request,
    json: bool,
) -> Result<Response, Failure> {
    let watcher = if !json && std::io::stderr().is_terminal() {
        daemon.another(Some(Duration::from_secs(10))).await
    } else {
        None
    };
    let Some(mut watcher) = watcher else {
        return daemon.call(request).await;
    };
    let done = tokio_util_like::Flag::default();
    let progress = draw_progress(&mut watcher, &done);
    let call = async {
        let r = daemon.call(request).await;
        done.set();
        r
    };
    let (answer, ()) = tokio::join!(call, progress);
    answer
}

async fn draw_progress(watcher: &mut Daemon, done: &tokio_util_like::Flag) {
    // Hidden until there is something to count: a bar at 0/0 draws full.
    let bar = indicatif::ProgressBar::hidden();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    while !done.is_set() {
        if let Ok(runs) = import_runs(watcher, None, true, 1).await
            && let Some(r) = runs.first()
        {
            let total = r.to_ban + r.to_unban;
            if total > 0 {
                if bar.is_hidden() {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                }
                let what = if r.trigger == "remove" {
                    "unbanning".to_string()
                } else {
                    r.status.clone()
                };
                bar.set_message(format!("{} {what}", r.source));
                bar.set_length(total);
                bar.set_position(r.banned + r.unbanned);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bar.finish_and_clear();
}

fn print_source(s: &SourceInfo) {
    println!("name        {}", s.name);
    println!("url         {}", s.url);
    println!(
        "state       {} (from {})",
        state(s),
        if s.origin == "config" {
            "the config file"
        } else {
            "bangui-ctl"
        }
    );
    println!("jail        {}", s.jail);
    println!(
        "interval    {}",
        output::short(Duration::from_secs(s.interval_secs))
    );
    println!("max entries {}", s.max_entries);
    if s.local {
        println!("reach       local: downloads may reach loopback and private addresses");
    }
    if s.secret_path {
        println!("url path    secret: never shown or logged");
    }
    let f = &s.format;
    let mut read = Vec::new();
    if let Some(field) = &f.json_field {
        read.push(format!("JSON field {field}"));
    }
    if let Some(score) = f.min_score {
        read.push(format!("score at least {score}"));
    }
    if let Some(n) = f.min_prefix_v4 {
        read.push(format!("IPv4 networks /{n} or narrower"));
    }
    if let Some(n) = f.min_prefix_v6 {
        read.push(format!("IPv6 networks /{n} or narrower"));
    }
    if !read.is_empty() {
        println!("read as     {}", read.join(", "));
    }
    println!("listed      {} ({} banned by bangui)", s.listed, s.banned);
    if let Some(t) = s.last_success_at {
        println!("last ok     {}", output::when(t));
    }
    if let Some(t) = s.next_run_at {
        println!("next        {}", output::when(t));
    }
    if let Some(e) = &s.enforcement {
        print_enforcement(e, "enforce    ");
    }
    if let Some(r) = &s.last_run {
        println!("last import:");
        print_run(r);
    }
}

/// `label` heads the first line; the rest are indented as far.
fn print_enforcement(e: &Enforcement, label: &str) {
    for (i, line) in super::fail2ban::enforcement_lines(e).iter().enumerate() {
        let head = if i == 0 {
            label.to_string()
        } else {
            " ".repeat(label.chars().count())
        };
        println!("{head} {line}");
    }
}

fn print_run(r: &ImportRunInfo) {
    println!(
        "#{} {} {} {} ({})",
        r.id,
        r.source,
        r.status,
        output::when(r.started_at),
        r.download.as_deref().unwrap_or("no download")
    );
    println!(
        "  {} lines, {} entries: {} invalid, {} duplicate, {} too broad{}, {} refused, {} over the cap",
        r.lines,
        r.entries,
        r.invalid,
        r.duplicates,
        r.too_broad,
        below(r.below_score, r.folded),
        r.refused,
        r.over_cap
    );
    println!(
        "  banned {}/{} ({} lost by fail2ban, sent again), unbanned {}/{}{}",
        r.banned,
        r.to_ban,
        r.lost,
        r.unbanned,
        r.to_unban,
        if r.deferred > 0 {
            format!(
                ", {} unbans put off until fail2ban stores the bans",
                r.deferred
            )
        } else {
            String::new()
        }
    );
    for c in &r.refused_by {
        println!("  refused {}: {}", c.reason, c.count);
    }
    for sample in &r.samples {
        println!("  refused {sample}");
    }
    if let Some(e) = &r.error {
        println!("  error: {e}");
    }
}

fn print_runs(runs: &[ImportRunInfo]) {
    if runs.is_empty() {
        println!("no imports yet");
        return;
    }
    let mut table = output::table(&[
        "ID", "SOURCE", "STATUS", "STARTED", "ENTRIES", "BANNED", "UNBANNED", "ERROR",
    ]);
    let now = output::now_unix();
    for r in runs {
        table.add_row(vec![
            r.id.to_string(),
            r.source.clone(),
            r.status.clone(),
            output::relative(r.started_at, now),
            r.entries.to_string(),
            format!("{}/{}", r.banned, r.to_ban),
            format!("{}/{}", r.unbanned, r.to_unban),
            r.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
}

/// ", 12 below the score, 40 inside listed networks" for what a list's
/// reading left out beyond the usual.
fn below(score: u64, folded: u64) -> String {
    let mut text = String::new();
    if score > 0 {
        text.push_str(&format!(", {score} below the score"));
    }
    if folded > 0 {
        text.push_str(&format!(", {folded} inside listed networks"));
    }
    text
}

fn print_plan(p: &ImportPlan) {
    println!("source   {} → jail {}", p.source, p.jail);
    println!("download {}", p.download.as_deref().unwrap_or("-"));
    println!(
        "list     {} lines, {} entries: {} invalid, {} duplicate, {} too broad{}, {} refused, {} over the cap",
        p.lines,
        p.entries,
        p.invalid,
        p.duplicates,
        p.too_broad,
        below(p.below_score, p.folded),
        p.refused,
        p.over_cap
    );
    for c in &p.refused_by {
        println!("         refused {}: {}", c.reason, c.count);
    }
    println!(
        "would    ban {} ({} of them lost by fail2ban), unban {}",
        p.to_ban, p.lost, p.to_unban
    );
    for sample in &p.samples {
        println!("refused  {sample}");
    }
    if let Some(e) = &p.enforcement {
        print_enforcement(e, "enforce ");
    }
    if let Some(e) = &p.error {
        println!("error    {e}");
    }
}
