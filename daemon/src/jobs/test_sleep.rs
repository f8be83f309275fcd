//! `test_sleep`: a job that only sleeps, so end-to-end tests can observe a run
//! in progress, a second trigger during it, a timeout and a shutdown grace.
//! Exists only with the `test-hooks` feature and `BANGUI_TEST_HOOKS=1`.

use std::time::Duration;

use crate::scheduler::{Job, JobError, JobFuture, JobSpec, RunContext};

pub const ID: &str = "test_sleep";

pub fn spec() -> JobSpec {
    JobSpec::new(ID, Duration::from_secs(3600), Duration::from_secs(60)).enabled(false)
}

pub struct TestSleep {
    duration: Duration,
}

impl TestSleep {
    /// Sleeps `BANGUI_TEST_SLEEP_MS` milliseconds (default 2000).
    pub fn from_env() -> TestSleep {
        let ms = std::env::var("BANGUI_TEST_SLEEP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        TestSleep {
            duration: Duration::from_millis(ms),
        }
    }
}

impl Job for TestSleep {
    fn run(&self, ctx: RunContext) -> JobFuture {
        let duration = self.duration;
        Box::pin(async move {
            tracing::info!(sleep_ms = duration.as_millis() as u64, "test job sleeping");
            tokio::select! {
                _ = tokio::time::sleep(duration) => Ok(format!("slept {} ms", duration.as_millis())),
                _ = ctx.cancel.cancelled() => Err(JobError("woken by cancellation".into())),
            }
        })
    }
}
