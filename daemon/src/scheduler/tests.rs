//! Scheduler behaviour on tokio's paused clock: every sleep below is virtual
//! and completes instantly, in order, with no wall-clock dependence.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bangui_proto::messages::{Outcome, Trigger};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

use super::*;

const SEC: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Probe {
    runs: AtomicUsize,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

struct Sleeper {
    probe: Arc<Probe>,
    takes: Duration,
}

impl Job for Sleeper {
    fn run(&self, _ctx: RunContext) -> JobFuture {
        let probe = Arc::clone(&self.probe);
        let takes = self.takes;
        Box::pin(async move {
            probe.runs.fetch_add(1, Ordering::SeqCst);
            let now = probe.active.fetch_add(1, Ordering::SeqCst) + 1;
            probe.max_active.fetch_max(now, Ordering::SeqCst);
            // Counts down however the run ends, including by being dropped.
            let _active = Active(Arc::clone(&probe));
            sleep(takes).await;
            Ok("slept".to_string())
        })
    }
}

struct Active(Arc<Probe>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Failing;

impl Job for Failing {
    fn run(&self, _ctx: RunContext) -> JobFuture {
        Box::pin(async { Err(JobError("boom".into())) })
    }
}

fn sleeper(takes: Duration) -> (Arc<Probe>, Arc<dyn Job>) {
    let probe = Arc::new(Probe::default());
    let job = Arc::new(Sleeper {
        probe: Arc::clone(&probe),
        takes,
    });
    (probe, job)
}

struct Harness {
    scheduler: Scheduler,
    log: MemoryRunLog,
    stop: CancellationToken,
}

fn start() -> Harness {
    let log = MemoryRunLog::default();
    let scheduler = Scheduler::new(Arc::new(log.clone()), Clock::manual(1000), 50);
    let stop = CancellationToken::new();
    tokio::spawn({
        let scheduler = scheduler.clone();
        let stop = stop.clone();
        async move { scheduler.run(stop).await }
    });
    Harness {
        scheduler,
        log,
        stop,
    }
}

fn runs(probe: &Probe) -> usize {
    probe.runs.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn runs_at_start_then_every_interval() {
    let h = start();
    let (probe, job) = sleeper(Duration::from_millis(10));
    h.scheduler
        .register(JobSpec::new("a", 10 * SEC, 5 * SEC), job);
    sleep(Duration::from_millis(100)).await;
    assert_eq!(runs(&probe), 1);
    sleep(9 * SEC).await; // t = 9.1 s
    assert_eq!(runs(&probe), 1);
    sleep(2 * SEC).await; // t = 11.1 s
    assert_eq!(runs(&probe), 2);
    sleep(20 * SEC).await; // t = 31.1 s
    assert_eq!(runs(&probe), 4);
    let triggers: Vec<Trigger> = h.log.records().iter().map(|r| r.trigger).collect();
    assert_eq!(
        triggers,
        [
            Trigger::Startup,
            Trigger::Schedule,
            Trigger::Schedule,
            Trigger::Schedule
        ]
    );
    assert!(h.log.records().iter().all(|r| r.outcome == Outcome::Ok));
    h.stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn first_delay_postpones_the_first_run() {
    let h = start();
    let (probe, job) = sleeper(Duration::ZERO);
    h.scheduler.register(
        JobSpec::new("late", 10 * SEC, 5 * SEC).first_delay(30 * SEC),
        job,
    );
    sleep(29 * SEC).await;
    assert_eq!(runs(&probe), 0);
    sleep(2 * SEC).await;
    assert_eq!(runs(&probe), 1);
    assert_eq!(h.log.records()[0].trigger, Trigger::Schedule);
    h.stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn runs_of_one_job_never_overlap() {
    let h = start();
    // Takes 25 s, scheduled every 10 s, with a generous timeout.
    let (probe, job) = sleeper(25 * SEC);
    h.scheduler
        .register(JobSpec::new("slow", 10 * SEC, 60 * SEC), job);
    sleep(5 * SEC).await;
    let t = h.scheduler.trigger("slow").unwrap();
    assert!(t.already_running, "a trigger during a run joins that run");
    sleep(100 * SEC).await;
    assert_eq!(probe.max_active.load(Ordering::SeqCst), 1);
    // Back to back at most: 100 s / 25 s plus the first.
    assert!(runs(&probe) <= 5, "{} runs", runs(&probe));
    assert!(runs(&probe) >= 3, "{} runs", runs(&probe));
    h.stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn registering_again_replaces_the_job() {
    let h = start();
    let (old_probe, old) = sleeper(Duration::ZERO);
    let (new_probe, new) = sleeper(Duration::ZERO);
    h.scheduler
        .register(JobSpec::new("j", 10 * SEC, SEC).first_delay(5 * SEC), old);
    h.scheduler
        .register(JobSpec::new("j", 10 * SEC, SEC).first_delay(5 * SEC), new);
    assert_eq!(h.scheduler.jobs().len(), 1);
    sleep(26 * SEC).await;
    assert_eq!(runs(&old_probe), 0);
    assert_eq!(runs(&new_probe), 3); // at 5, 15 and 25 s
    h.stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn timed_out_run_is_recorded_and_the_job_runs_again() {
    let h = start();
    let (probe, job) = sleeper(30 * SEC);
    h.scheduler
        .register(JobSpec::new("hang", 10 * SEC, 2 * SEC), job);
    sleep(3 * SEC).await;
    let first = h.log.records()[0].clone();
    assert_eq!(first.outcome, Outcome::TimedOut);
    assert!(first.error.as_deref().unwrap_or("").contains("2s"));
    assert_eq!(first.duration_ms, Some(2000));
    sleep(10 * SEC).await; // t = 13 s: the second run started at 10 s and timed out at 12 s
    assert_eq!(runs(&probe), 2);
    assert_eq!(h.log.records()[1].outcome, Outcome::TimedOut);
    assert_eq!(
        probe.active.load(Ordering::SeqCst),
        0,
        "timed-out runs are dropped"
    );
    h.stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn manual_trigger_and_failure_are_recorded() {
    let h = start();
    h.scheduler.register(
        JobSpec::new("bad", 3600 * SEC, SEC).enabled(false),
        Arc::new(Failing),
    );
    sleep(SEC).await;
    assert!(
        h.log.records().is_empty(),
        "disabled jobs are not scheduled"
    );
    let t = h.scheduler.trigger("bad").unwrap();
    assert!(!t.already_running);
    let done = wait_done(t.phase).await.unwrap();
    assert_eq!(done.outcome, Outcome::Failed);
    assert_eq!(done.trigger, Trigger::Manual);
    assert_eq!(done.error.as_deref(), Some("boom"));
    let info = &h.scheduler.jobs()[0];
    assert_eq!(info.last.as_ref().map(|r| r.outcome), Some(Outcome::Failed));
    assert_eq!(info.next_run_at, None);
    assert!(matches!(
        h.scheduler.trigger("nope"),
        Err(SchedulerError::UnknownJob { .. })
    ));
    h.stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_the_grace_then_cancels() {
    let h = start();
    let (_quick_probe, quick) = sleeper(2 * SEC);
    let (_slow_probe, slow) = sleeper(60 * SEC);
    h.scheduler
        .register(JobSpec::new("quick", 3600 * SEC, 90 * SEC), quick);
    h.scheduler
        .register(JobSpec::new("slow", 3600 * SEC, 90 * SEC), slow);
    sleep(Duration::from_millis(10)).await;
    h.stop.cancel();
    h.scheduler.shutdown(5 * SEC).await;
    let records = h.log.records();
    let outcome = |id: &str| records.iter().find(|r| r.job_id == id).map(|r| r.outcome);
    assert_eq!(outcome("quick"), Some(Outcome::Ok));
    assert_eq!(outcome("slow"), Some(Outcome::Cancelled));
    assert!(matches!(
        h.scheduler.trigger("quick"),
        Err(SchedulerError::ShuttingDown)
    ));
}
