//! The interval scheduler: jobs under stable ids, one run at a time per job,
//! per-run timeouts, run records, and a loop that sleeps until the next
//! deadline or a wake-up (it never polls).

mod execute;
mod runlog;
mod spec;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bangui_proto::messages::{JobInfo, Outcome, RunRecord, Trigger};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::ids::{self, RandomError};

pub use runlog::{DbRunLog, MemoryRunLog, RunLog};
pub use spec::{Job, JobError, JobFuture, JobSpec, RunContext};

/// Where a run stands, as seen by whoever waits on it.
#[derive(Debug, Clone)]
pub enum RunPhase {
    /// Started but not yet recorded.
    Starting,
    Running(RunRecord),
    Done(RunRecord),
}

/// A run that a trigger started or found already going.
pub struct Triggered {
    pub phase: watch::Receiver<RunPhase>,
    pub already_running: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("no job `{id}`; the jobs are {known}")]
    UnknownJob { id: String, known: String },
    #[error("the daemon is shutting down and starts no new runs")]
    ShuttingDown,
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("the run ended without a record (its task was lost)")]
    RunLost,
}

#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// Something the loop does every `every` from inside itself, so that a hung
/// loop stops doing it (the systemd watchdog ping).
#[derive(Clone)]
pub struct Heartbeat {
    pub every: Duration,
    pub beat: Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>,
}

struct Inner {
    state: Mutex<State>,
    heartbeat: Mutex<Option<Heartbeat>>,
    wake: Notify,
    log: Arc<dyn RunLog>,
    clock: Clock,
    keep: u32,
    runs: TaskTracker,
    cancel_runs: CancellationToken,
}

#[derive(Default)]
struct State {
    slots: BTreeMap<String, Slot>,
    stopping: bool,
}

struct Slot {
    spec: JobSpec,
    job: Arc<dyn Job>,
    next_due: Instant,
    /// No scheduled run has happened since start.
    first: bool,
    running: Option<watch::Receiver<RunPhase>>,
    last: Option<RunRecord>,
    /// Runs in a row that failed or timed out.
    failures_in_a_row: u32,
}

impl Scheduler {
    /// `keep` is how many runs per job the log retains.
    pub fn new(log: Arc<dyn RunLog>, clock: Clock, keep: u32) -> Scheduler {
        Scheduler {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                heartbeat: Mutex::new(None),
                wake: Notify::new(),
                log,
                clock,
                keep,
                runs: TaskTracker::new(),
                cancel_runs: CancellationToken::new(),
            }),
        }
    }

    /// Adds a job, or replaces the job with the same id (keeping a run in
    /// progress and its history).
    pub fn register(&self, spec: JobSpec, job: Arc<dyn Job>) {
        let now = Instant::now();
        let mut state = self.inner.lock();
        match state.slots.get_mut(&spec.id) {
            Some(slot) => {
                slot.next_due = slot.next_due.min(now + spec.interval);
                slot.spec = spec;
                slot.job = job;
            }
            None => {
                let slot = Slot {
                    next_due: now + spec.first_delay,
                    first: true,
                    running: None,
                    last: None,
                    failures_in_a_row: 0,
                    spec: spec.clone(),
                    job,
                };
                state.slots.insert(spec.id, slot);
            }
        }
        drop(state);
        self.inner.wake.notify_one();
    }

    /// Changes a registered job's interval, timeout, first delay or enabled
    /// flag while running. A shorter interval brings the next run forward; a
    /// run in progress keeps the timeout it started with. False: no such job.
    pub fn update_spec(&self, spec: JobSpec) -> bool {
        let now = Instant::now();
        let mut state = self.inner.lock();
        let Some(slot) = state.slots.get_mut(&spec.id) else {
            return false;
        };
        let wait = if slot.first {
            spec.first_delay
        } else {
            spec.interval
        };
        slot.next_due = slot.next_due.min(now + wait);
        slot.spec = spec;
        drop(state);
        self.inner.wake.notify_one();
        true
    }

    /// Seeds each job's "last run" from records kept across restarts.
    /// Seeds each job's newest finished run and its failures in a row from
    /// the run log, so `status --check` still sees a job that keeps failing
    /// after a restart.
    pub fn restore_last(&self, records: Vec<RunRecord>, streaks: Vec<(String, u32)>) {
        let mut state = self.inner.lock();
        for record in records {
            if let Some(slot) = state.slots.get_mut(&record.job_id) {
                slot.last = Some(record);
            }
        }
        for (job, streak) in streaks {
            if let Some(slot) = state.slots.get_mut(&job) {
                slot.failures_in_a_row = streak;
            }
        }
    }

    /// Starts a run of `id` now, or returns the run already in progress.
    pub fn trigger(&self, id: &str) -> Result<Triggered, SchedulerError> {
        let mut state = self.inner.lock();
        if state.stopping {
            return Err(SchedulerError::ShuttingDown);
        }
        let known = known_ids(&state);
        let slot = state
            .slots
            .get_mut(id)
            .ok_or_else(|| SchedulerError::UnknownJob {
                id: id.to_string(),
                known,
            })?;
        if let Some(phase) = &slot.running {
            return Ok(Triggered {
                phase: phase.clone(),
                already_running: true,
            });
        }
        let phase = execute::start(&self.inner, slot, Trigger::Manual)?;
        Ok(Triggered {
            phase,
            already_running: false,
        })
    }

    /// Every registered job, in id order.
    pub fn jobs(&self) -> Vec<JobInfo> {
        let state = self.inner.lock();
        let now = Instant::now();
        let now_unix = self.inner.clock.now_unix();
        state
            .slots
            .values()
            .map(|slot| {
                let running = slot.running.as_ref().and_then(|rx| match &*rx.borrow() {
                    RunPhase::Running(record) => Some(record.clone()),
                    RunPhase::Starting | RunPhase::Done(_) => None,
                });
                let next_run_at = (slot.spec.enabled && slot.running.is_none() && !state.stopping)
                    .then(|| {
                        let wait = slot.next_due.saturating_duration_since(now);
                        now_unix.saturating_add(secs_rounded_up(wait))
                    });
                JobInfo {
                    id: slot.spec.id.clone(),
                    interval_ms: millis(slot.spec.interval),
                    timeout_ms: millis(slot.spec.timeout),
                    first_delay_ms: millis(slot.spec.first_delay),
                    enabled: slot.spec.enabled,
                    running,
                    last: slot.last.clone(),
                    next_run_at,
                    failures_in_a_row: slot.failures_in_a_row,
                }
            })
            .collect()
    }

    /// Sets the heartbeat the loop runs (before [`Scheduler::run`]).
    pub fn set_heartbeat(&self, heartbeat: Heartbeat) {
        *self
            .inner
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(heartbeat);
    }

    /// Runs the schedule until `stop` is cancelled. Sleeps until the earliest
    /// deadline, a wake-up or the heartbeat; never polls.
    pub async fn run(&self, stop: CancellationToken) {
        let heartbeat = self
            .inner
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut next_beat = heartbeat.as_ref().map(|_| Instant::now());
        loop {
            let notified = self.inner.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next = self.start_due_runs();
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = &mut notified => {}
                _ = sleep_until(next) => {}
                _ = sleep_until(next_beat) => {
                    if let Some(h) = &heartbeat {
                        (h.beat)().await;
                        next_beat = Some(Instant::now() + h.every);
                    }
                }
            }
        }
        self.inner.lock().stopping = true;
    }

    /// Starts no new runs, waits up to `grace` for running ones, then cancels
    /// what is left (recorded as cancelled).
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.lock().stopping = true;
        self.inner.runs.close();
        if tokio::time::timeout(grace, self.inner.runs.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                "jobs still running after the shutdown grace period; cancelling them"
            );
            self.cancel_all();
            if tokio::time::timeout(Duration::from_secs(5), self.inner.runs.wait())
                .await
                .is_err()
            {
                tracing::error!("cancelled jobs did not stop within 5 s; leaving them behind");
            }
        }
    }

    /// Cancels every run in progress now (a second signal during shutdown).
    pub fn cancel_all(&self) {
        self.inner.cancel_runs.cancel();
    }

    fn start_due_runs(&self) -> Option<Instant> {
        let mut state = self.inner.lock();
        if state.stopping {
            return None;
        }
        let now = Instant::now();
        let mut earliest: Option<Instant> = None;
        for slot in state.slots.values_mut() {
            if !slot.spec.enabled || slot.running.is_some() {
                continue;
            }
            if slot.next_due <= now {
                let trigger = if slot.first && slot.spec.first_delay.is_zero() {
                    Trigger::Startup
                } else {
                    Trigger::Schedule
                };
                slot.first = false;
                if let Err(e) = execute::start(&self.inner, slot, trigger) {
                    tracing::error!(job = %slot.spec.id, error = %e, "cannot start a run");
                    slot.next_due = now + slot.spec.interval;
                } else {
                    continue;
                }
            }
            earliest = Some(earliest.map_or(slot.next_due, |e| e.min(slot.next_due)));
        }
        earliest
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic elsewhere; the state is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Waits until the run has a record (it is running or done) and returns it.
pub async fn wait_recorded(
    mut phase: watch::Receiver<RunPhase>,
) -> Result<RunRecord, SchedulerError> {
    let seen = phase
        .wait_for(|p| !matches!(p, RunPhase::Starting))
        .await
        .map_err(|_| SchedulerError::RunLost)?;
    match &*seen {
        RunPhase::Running(r) | RunPhase::Done(r) => Ok(r.clone()),
        RunPhase::Starting => Err(SchedulerError::RunLost),
    }
}

/// Waits until the run has finished and returns its final record.
pub async fn wait_done(mut phase: watch::Receiver<RunPhase>) -> Result<RunRecord, SchedulerError> {
    let seen = phase
        .wait_for(|p| matches!(p, RunPhase::Done(_)))
        .await
        .map_err(|_| SchedulerError::RunLost)?;
    match &*seen {
        RunPhase::Done(r) => Ok(r.clone()),
        RunPhase::Starting | RunPhase::Running(_) => Err(SchedulerError::RunLost),
    }
}

fn known_ids(state: &State) -> String {
    state.slots.keys().cloned().collect::<Vec<_>>().join(", ")
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn secs_rounded_up(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The record of a run that has just started.
fn new_record(job_id: &str, trigger: Trigger, now_unix: i64) -> Result<RunRecord, RandomError> {
    Ok(RunRecord {
        run_id: ids::run_id()?,
        job_id: job_id.to_string(),
        trigger,
        started_at: now_unix,
        finished_at: None,
        duration_ms: None,
        outcome: Outcome::Running,
        summary: String::new(),
        error: None,
    })
}

#[cfg(test)]
mod tests;
