//! The built-in jobs, one file each, and their default schedules.

mod blocklist_import;
mod geo_cache_flush;
mod geo_re_resolve;
mod health_check;
mod history_sync;
mod session_cleanup;
#[cfg(feature = "test-hooks")]
mod test_sleep;

use std::sync::Arc;
use std::time::Duration;

use crate::blocklist::Blocklists;
use crate::clock::Clock;
use crate::fail2ban::Fail2ban;
use crate::fail2ban::health::Health;
use crate::geo::Geo;
use crate::history::History;
use crate::scheduler::{Job, JobSpec};
use crate::sessions::Sessions;

pub use blocklist_import::BlocklistImport;
pub use geo_cache_flush::GeoCacheFlush;
pub use geo_re_resolve::GeoReResolve;
pub use health_check::HealthCheck;
pub use history_sync::HistorySync;
pub use session_cleanup::SessionCleanup;

const HOUR: Duration = Duration::from_secs(3600);

/// What the jobs need, built once at start-up.
pub struct JobDeps {
    pub sessions: Sessions,
    pub fail2ban: Arc<Fail2ban>,
    pub health: Arc<Health>,
    pub geo: Geo,
    pub blocklists: Blocklists,
    pub history: History,
    pub clock: Clock,
    /// Switched on by `BANGUI_TEST_HOOKS=1` in builds with the `test-hooks` feature.
    pub test_hooks: bool,
}

/// Every job id with its default schedule; the config file can change each.
pub fn defaults(test_hooks: bool) -> Vec<JobSpec> {
    let specs = vec![
        JobSpec::new(
            health_check::ID,
            Duration::from_secs(30),
            Duration::from_secs(10),
        ),
        JobSpec::new(session_cleanup::ID, 6 * HOUR, Duration::from_secs(30)),
        // Looks for due sources every 5 minutes; each source has its own interval.
        JobSpec::new(
            blocklist_import::ID,
            Duration::from_secs(300),
            Duration::from_secs(600),
        ),
        JobSpec::new(
            history_sync::ID,
            Duration::from_secs(300),
            Duration::from_secs(300),
        ),
        JobSpec::new(
            geo_cache_flush::ID,
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
        .first_delay(Duration::from_secs(60)),
        JobSpec::new(
            geo_re_resolve::ID,
            Duration::from_secs(600),
            Duration::from_secs(120),
        )
        .first_delay(Duration::from_secs(600)),
    ];
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
        health_check::ID => Some(Arc::new(HealthCheck {
            fail2ban: Arc::clone(&deps.fail2ban),
            health: Arc::clone(&deps.health),
            clock: deps.clock.clone(),
        })),
        session_cleanup::ID => Some(Arc::new(SessionCleanup::new(deps.sessions.clone()))),
        blocklist_import::ID => Some(Arc::new(BlocklistImport {
            blocklists: deps.blocklists.clone(),
        })),
        history_sync::ID => Some(Arc::new(HistorySync {
            history: deps.history.clone(),
        })),
        geo_cache_flush::ID => Some(Arc::new(GeoCacheFlush {
            geo: deps.geo.clone(),
        })),
        geo_re_resolve::ID => Some(Arc::new(GeoReResolve {
            geo: deps.geo.clone(),
        })),
        #[cfg(feature = "test-hooks")]
        test_sleep::ID if deps.test_hooks => Some(Arc::new(test_sleep::TestSleep::from_env())),
        _ => None,
    }
}
