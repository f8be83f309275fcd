use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How and when a job runs. Jobs are known by a stable id; registering the
/// same id again replaces the job, never adds a second one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub id: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Delay before the first scheduled run after start.
    pub first_delay: Duration,
    /// Disabled jobs are not scheduled but can still be run by hand.
    pub enabled: bool,
}

impl JobSpec {
    pub fn new(id: &str, interval: Duration, timeout: Duration) -> JobSpec {
        JobSpec {
            id: id.to_string(),
            interval,
            timeout,
            first_delay: Duration::ZERO,
            enabled: true,
        }
    }

    pub fn first_delay(mut self, delay: Duration) -> JobSpec {
        self.first_delay = delay;
        self
    }

    pub fn enabled(mut self, enabled: bool) -> JobSpec {
        self.enabled = enabled;
        self
    }
}

/// What a run gets: its id (the correlation id in every log line) and a token
/// that is cancelled when the run must stop (timeout or shutdown).
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: String,
    pub cancel: CancellationToken,
}

/// Why a run failed, in words for the run record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobError(pub String);

impl JobError {
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> JobError {
        JobError(bangui_proto::errors::chain(error))
    }
}

impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        JobError::from_error(&e)
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<String, JobError>> + Send>>;

/// A background job. `run` returns a one-line summary for the run record.
pub trait Job: Send + Sync + 'static {
    fn run(&self, ctx: RunContext) -> JobFuture;
}
