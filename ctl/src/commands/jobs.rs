use bangui_proto::messages::{ListImportRuns, ListRuns, Outcome, RunJob, RunRecord, ShowRun};
use bangui_proto::{Request, Response};

use crate::cli::JobsCommand;
use crate::connect::{Daemon, unexpected};
use crate::exit::{Failure, RUN_FAILED};
use crate::output;

pub async fn run(daemon: &mut Daemon, command: JobsCommand, json: bool) -> Result<(), Failure> {
    match command {
        JobsCommand::List => list(daemon, json).await,
        JobsCommand::Run { id, wait } => trigger(daemon, id, wait, json).await,
        JobsCommand::Runs { id, limit } => runs(daemon, id, limit, json).await,
        JobsCommand::Show { run_id } => show(daemon, run_id, json).await,
    }
}

async fn list(daemon: &mut Daemon, json: bool) -> Result<(), Failure> {
    let answer = daemon.call(Request::ListJobs).await?;
    let Response::Jobs(jobs) = answer else {
        return Err(unexpected("jobs", &answer));
    };
    if json {
        return output::json(&jobs);
    }
    let mut table = output::table(&[
        "JOB", "ENABLED", "EVERY", "TIMEOUT", "STATE", "LAST", "LAST RUN", "TOOK", "NEXT RUN",
    ]);
    let now = output::now_unix();
    let importing = jobs
        .iter()
        .any(|j| j.id == "blocklist_import" && j.running.is_some());
    for job in jobs {
        let state = match &job.running {
            Some(run) => format!("running {}", run.run_id),
            None => "idle".to_string(),
        };
        let (last, last_at, took) = match &job.last {
            Some(run) => (
                run.outcome.as_str().to_string(),
                output::relative(run.started_at, now),
                run.duration_ms.map(output::millis).unwrap_or_default(),
            ),
            None => ("-".into(), "never".into(), String::new()),
        };
        let next = match (job.next_run_at, job.enabled, &job.running) {
            (Some(at), _, _) => output::relative(at, now),
            (None, _, Some(_)) => "after this run".into(),
            (None, false, None) => "disabled".into(),
            (None, true, None) => "-".into(),
        };
        table.add_row(vec![
            job.id,
            if job.enabled { "yes" } else { "no" }.to_string(),
            output::millis(job.interval_ms),
            output::millis(job.timeout_ms),
            state,
            last,
            last_at,
            took,
            next,
        ]);
    }
    println!("{table}");
    if importing {
        // An import's progress lives in its own record.
        let answer = daemon
            .call(Request::ListImportRuns(ListImportRuns {
                source: None,
                running: true,
                limit: 10,
            }))
            .await?;
        if let Response::ImportRuns(runs) = answer {
            for r in runs {
                println!(
                    "importing {}: banned {}/{}, unbanned {}/{}",
                    r.source, r.banned, r.to_ban, r.unbanned, r.to_unban
                );
            }
        }
    }
    Ok(())
}

async fn trigger(daemon: &mut Daemon, id: String, wait: bool, json: bool) -> Result<(), Failure> {
    let answer = daemon
        .call(Request::RunJob(RunJob { job_id: id, wait }))
        .await?;
    let Response::JobTriggered(t) = answer else {
        return Err(unexpected("job_triggered", &answer));
    };
    if json {
        output::json(&t)?;
    } else if wait {
        if t.already_running {
            println!(
                "{} was already running; waited for run {}",
                t.run.job_id, t.run.run_id
            );
        }
        print_run(&t.run);
    } else if t.already_running {
        println!(
            "{} is already running: run {} started {} ({})",
            t.run.job_id,
            t.run.run_id,
            output::when(t.run.started_at),
            t.run.trigger.as_str()
        );
    } else {
        println!("started {} as run {}", t.run.job_id, t.run.run_id);
    }
    if wait && t.run.outcome != Outcome::Ok {
        return Err(Failure::new(
            RUN_FAILED,
            format!(
                "run {} of {} ended {}",
                t.run.run_id,
                t.run.job_id,
                t.run.outcome.as_str()
            ),
        ));
    }
    Ok(())
}

async fn runs(
    daemon: &mut Daemon,
    job_id: Option<String>,
    limit: u32,
    json: bool,
) -> Result<(), Failure> {
    let answer = daemon
        .call(Request::ListRuns(ListRuns { job_id, limit }))
        .await?;
    let Response::Runs(runs) = answer else {
        return Err(unexpected("runs", &answer));
    };
    if json {
        return output::json(&runs);
    }
    let mut table = output::table(&[
        "RUN", "JOB", "TRIGGER", "STARTED", "TOOK", "OUTCOME", "SUMMARY",
    ]);
    for run in runs {
        let detail = run.error.clone().unwrap_or(run.summary.clone());
        table.add_row(vec![
            run.run_id,
            run.job_id,
            run.trigger.as_str().to_string(),
            output::timestamp(run.started_at),
            run.duration_ms.map(output::millis).unwrap_or_default(),
            run.outcome.as_str().to_string(),
            detail,
        ]);
    }
    println!("{table}");
    Ok(())
}

async fn show(daemon: &mut Daemon, run_id: String, json: bool) -> Result<(), Failure> {
    let answer = daemon.call(Request::ShowRun(ShowRun { run_id })).await?;
    let Response::Run(run) = answer else {
        return Err(unexpected("run", &answer));
    };
    if json {
        return output::json(&run);
    }
    print_run(&run);
    Ok(())
}

fn print_run(run: &RunRecord) {
    println!("run      {}", run.run_id);
    println!("job      {}", run.job_id);
    println!("trigger  {}", run.trigger.as_str());
    println!("started  {}", output::when(run.started_at));
    if let Some(at) = run.finished_at {
        println!("finished {}", output::when(at));
    }
    if let Some(ms) = run.duration_ms {
        println!("took     {}", output::millis(ms));
    }
    println!("outcome  {}", run.outcome.as_str());
    if !run.summary.is_empty() {
        println!("summary  {}", run.summary);
    }
    if let Some(error) = &run.error {
        println!("error    {error}");
    }
}
