//! One run of one job: record it, run it under its timeout and the shutdown
//! token, record how it ended, and schedule the next one.

use std::sync::Arc;

use bangui_proto::messages::{Outcome, RunRecord, Trigger};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::{Inner, Job, JobSpec, RunContext, RunPhase, Slot, millis, new_record};
use crate::ids::RandomError;

/// Starts a run of the job in `slot` (whose state lock the caller holds).
pub(super) fn start(
    inner: &Arc<Inner>,
    slot: &mut Slot,
    trigger: Trigger,
) -> Result<watch::Receiver<RunPhase>, RandomError> {
    let record = new_record(&slot.spec.id, trigger, inner.clock.now_unix())?;
    let (tx, rx) = watch::channel(RunPhase::Starting);
    slot.running = Some(rx.clone());
    let span = tracing::info_span!("job", job = %slot.spec.id, run_id = %record.run_id);
    inner.runs.spawn(
        execute(
            Arc::clone(inner),
            Arc::clone(&slot.job),
            slot.spec.clone(),
            record,
            tx,
        )
        .instrument(span),
    );
    Ok(rx)
}

async fn execute(
    inner: Arc<Inner>,
    job: Arc<dyn Job>,
    spec: JobSpec,
    mut record: RunRecord,
    phase: watch::Sender<RunPhase>,
) {
    if let Err(e) = inner.log.started(record.clone()).await {
        tracing::error!(error = %e, "cannot record the start of the run");
    }
    phase.send_replace(RunPhase::Running(record.clone()));
    tracing::info!(trigger = record.trigger.as_str(), "run started");

    let started = Instant::now();
    let cancel = inner.cancel_runs.child_token();
    let ctx = RunContext {
        run_id: record.run_id.clone(),
        cancel: cancel.clone(),
    };
    let result = tokio::select! {
        r = tokio::time::timeout(spec.timeout, job.run(ctx)) => r.map_err(|_| ()),
        _ = inner.cancel_runs.cancelled() => Ok(Err(super::JobError(
            "cancelled: the daemon is shutting down".to_string(),
        ))),
    };
    // Whatever the job left running in the background must stop with it.
    cancel.cancel();
    let elapsed = started.elapsed();

    record.finished_at = Some(inner.clock.now_unix());
    record.duration_ms = Some(millis(elapsed));
    match result {
        Ok(Ok(summary)) => {
            record.outcome = Outcome::Ok;
            record.summary = summary;
        }
        Ok(Err(error)) if inner.cancel_runs.is_cancelled() => {
            record.outcome = Outcome::Cancelled;
            record.error = Some(error.0);
        }
        Ok(Err(error)) => {
            record.outcome = Outcome::Failed;
            record.error = Some(error.0);
        }
        Err(()) => {
            record.outcome = Outcome::TimedOut;
            record.error = Some(format!(
                "did not finish within its {} timeout",
                humantime::format_duration(spec.timeout)
            ));
        }
    }
    let duration_ms = record.duration_ms.unwrap_or(0);
    match record.outcome {
        Outcome::Ok => tracing::info!(duration_ms, summary = %record.summary, "run finished"),
        outcome => tracing::warn!(
            duration_ms,
            outcome = outcome.as_str(),
            error = record.error.as_deref().unwrap_or(""),
            "run did not succeed"
        ),
    }
    if let Err(e) = inner.log.finished(record.clone(), inner.keep).await {
        tracing::error!(error = %e, "cannot record the end of the run");
    }

    {
        let mut state = inner.lock();
        if let Some(slot) = state.slots.get_mut(&spec.id) {
            slot.running = None;
            slot.failures_in_a_row = next_streak(slot.failures_in_a_row, record.outcome);
            slot.last = Some(record.clone());
            // Keep the interval measured from the start of this run, unless
            // that moment has passed already (the run overran its interval).
            let now = Instant::now();
            let next = started + slot.spec.interval;
            slot.next_due = if next > now {
                next
            } else {
                now + slot.spec.interval
            };
        }
    }
    inner.wake.notify_one();
    phase.send_replace(RunPhase::Done(record));
}

/// Failed or timed-out runs in a row after a run ends with `outcome`. A
/// cancelled run (shutdown) says nothing about the job and leaves it.
pub(super) fn next_streak(streak: u32, outcome: Outcome) -> u32 {
    match outcome {
        Outcome::Failed | Outcome::TimedOut => streak.saturating_add(1),
        Outcome::Ok => 0,
        Outcome::Running | Outcome::Cancelled | Outcome::Interrupted => streak,
    }
}
