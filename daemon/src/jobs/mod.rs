//! The built-in jobs, one file each, and their default schedules.

mod session_cleanup;
#[cfg(feature = "test-hooks")]
mod test_sleep;

use std::sync::Arc;
use std::time::Duration;

use crate::scheduler::{Job, JobSpec};
use crate::sessions::Sessions;

pub use session_cleanup::SessionCleanup;

const HOUR: Duration = Duration::from_secs(3600);

/// What the jobs need, built once at start-up.
pub struct JobDeps {
    pub sessions: Sessions,
    /// Switched on by `BANGUI_TEST_HOOKS=1` in builds with the `test-hooks` feature.
    pub test_hooks: bool,
}

/// Every job id with its default schedule; the config file can change each.
pub fn defaults(test_hooks: bool) -> Vec<JobSpec> {
    let specs = vec![JobSpec::new(
        session_cleanup::ID,
        6 * HOUR,
        Duration::from_secs(30),
    )];
    #[cfg(feature = "test-hooks")]
    let specs = {
        let mut specs = specs;
        if test_hooks {
            specs.push(test_sleep::spec());
        }
        specs
    };
    #[cfg(not(feature = "test-hooks"))]
    let _ = test_hooks;
    specs
}

/// The job behind an id from [`defaults`].
pub fn build(id: &str, deps: &JobDeps) -> Option<Arc<dyn Job>> {
    match id {
        session_cleanup::ID => Some(Arc::new(SessionCleanup::new(deps.sessions.clone()))),
        #[cfg(feature = "test-hooks")]
        test_sleep::ID if deps.test_hooks => Some(Arc::new(test_sleep::TestSleep::from_env())),
        _ => None,
    }
}
