//! Shutdown steps that may take a while: systemd is told, step by step, to
//! extend its stop timeout while a step is still within its own bound.

use std::future::Future;
use std::time::Duration;

use crate::systemd::Notifier;

/// How often the extension is renewed while a step runs.
const RENEW: Duration = Duration::from_secs(5);

/// Runs `step`; if it is still going after half a second, asks for more stop
/// time (what is left of its `bound` plus a margin), renewed every few
/// seconds until it ends or its bound has passed.
pub async fn step<F: Future>(
    notifier: &Notifier,
    name: &str,
    bound: Duration,
    step: F,
) -> F::Output {
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(500);
    tokio::pin!(step);
    loop {
        tokio::select! {
            out = &mut step => return out,
            _ = tokio::time::sleep(wait) => {}
        }
        let left = bound.saturating_sub(started.elapsed());
        if !left.is_zero() {
            notifier.extend_timeout(left + RENEW + RENEW, &format!("stopping: {name}"));
        }
        wait = RENEW;
    }
}
