//! Triggering jobs, joining a running run, timeouts, interrupted runs and the
//! shutdown grace, against the real daemon with its `test_sleep` job.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::{Home, describe, stdout, wait_for};
use serde_json::Value;

fn job_info(daemon: &bangui_tests::Daemon, id: &str) -> Value {
    daemon
        .ctl_json(&["jobs", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .cloned()
        .unwrap()
}

fn runs_of(daemon: &bangui_tests::Daemon, job: &str) -> Vec<Value> {
    daemon
        .ctl_json(&["jobs", "runs", job, "--limit", "100"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_triggered_run_is_recorded_and_a_second_trigger_joins_it() {
    let home = Home::new();
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_TEST_SLEEP_MS", "3000");
    });
    let first = daemon.ctl_json(&["jobs", "run", "test_sleep"]);
    assert_eq!(first["already_running"], false);
    let run_id = first["run"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(first["run"]["outcome"], "running");

    let second = daemon.ctl_json(&["jobs", "run", "test_sleep"]);
    assert_eq!(second["already_running"], true);
    assert_eq!(second["run"]["run_id"], run_id.as_str());

    let human = daemon.ctl(&["jobs", "run", "test_sleep"]);
    assert!(stdout(&human).contains(&run_id), "{}", describe(&human));
    assert!(
        stdout(&human).contains("already running"),
        "{}",
        describe(&human)
    );

    let job = job_info(&daemon, "test_sleep");
    assert_eq!(job["running"]["run_id"], run_id.as_str());

    // Wait for it through the ctl, then find it in the run history.
    let waited = daemon.ctl_json(&["jobs", "run", "test_sleep", "--wait"]);
    assert_eq!(waited["run"]["run_id"], run_id.as_str());
    assert_eq!(waited["run"]["outcome"], "ok");
    let runs = runs_of(&daemon, "test_sleep");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["run_id"], run_id.as_str());
    assert_eq!(runs[0]["trigger"], "manual");
    assert!(runs[0]["duration_ms"].as_u64().unwrap() >= 3000);

    let shown = daemon.ctl_json(&["jobs", "show", &run_id]);
    assert_eq!(shown["summary"], "slept 3000 ms");
    let text = daemon.log_text();
    assert!(
        text.lines().filter(|l| l.contains(&run_id)).count() >= 3,
        "every line of the run carries its id:\n{text}"
    );
}

#[test]
fn a_run_past_its_timeout_is_recorded_and_the_job_runs_again() {
    let home = Home::new();
    home.write_config(
        "[jobs.test_sleep]\nenabled = true\ninterval = \"1s\"\ntimeout = \"300ms\"\n",
    );
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_TEST_SLEEP_MS", "5000");
    });
    let timed_out = wait_for("two timed-out scheduled runs", || {
        let runs = runs_of(&daemon, "test_sleep");
        let timed_out: Vec<Value> = runs
            .into_iter()
            .filter(|r| r["outcome"] == "timed-out")
            .collect();
        (timed_out.len() >= 2).then_some(timed_out)
    });
    assert!(timed_out[0]["error"].as_str().unwrap().contains("300ms"));
    assert!(
        timed_out
            .iter()
            .all(|r| r["duration_ms"].as_u64().unwrap() < 5000)
    );

    let out = daemon.ctl(&["jobs", "run", "test_sleep", "--wait"]);
    // Exit 7: the run finished but did not succeed.
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert!(stdout(&out).contains("timed-out"), "{}", describe(&out));
}

#[test]
fn a_run_cut_off_by_sigkill_is_marked_interrupted_after_restart() {
    let home = Home::new();
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_TEST_SLEEP_MS", "60000");
    });
    let started = daemon.ctl_json(&["jobs", "run", "test_sleep"]);
    let run_id = started["run"]["run_id"].as_str().unwrap().to_string();
    daemon.kill();

    let daemon = home.start();
    let run = daemon.ctl_json(&["jobs", "show", &run_id]);
    assert_eq!(run["outcome"], "interrupted");
    let job = job_info(&daemon, "test_sleep");
    assert_eq!(
        job["last"]["run_id"],
        run_id.as_str(),
        "history survives a restart"
    );
}

#[test]
fn shutdown_lets_runs_finish_within_the_grace_then_cancels_them() {
    let home = Home::new();
    home.write_config("shutdown_grace = \"500ms\"\n");
    let daemon = home.start_with(|cmd| {
        cmd.env("BANGUI_TEST_SLEEP_MS", "60000");
    });
    let started = daemon.ctl_json(&["jobs", "run", "test_sleep"]);
    let run_id = started["run"]["run_id"].as_str().unwrap().to_string();
    let exit = daemon.stop();
    assert!(exit.success(), "{exit}");

    let conn = rusqlite::Connection::open(home.database()).unwrap();
    let outcome: String = conn
        .query_row(
            "SELECT outcome FROM job_runs WHERE run_id = ?1",
            [&run_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome, "cancelled");
}

#[test]
fn unknown_jobs_and_runs_are_not_found() {
    let home = Home::new();
    let daemon = home.start();
    let out = daemon.ctl(&["jobs", "run", "no_such_job"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(bangui_tests::stderr(&out).contains("session_cleanup"));
    let out = daemon.ctl(&["jobs", "show", "ffffffffffffffff"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let out = daemon.ctl(&["jobs", "runs", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}
