//! `health_check`: pings fail2ban and records its version, jails and counters
//! in the shared health snapshot. fail2ban being down is a finding, not a
//! failure of the job: the run ends ok and says so.

use std::sync::Arc;

use crate::clock::Clock;
use crate::fail2ban::Fail2ban;
use crate::fail2ban::health::Health;
use crate::scheduler::{Job, JobError, JobFuture, RunContext};

pub const ID: &str = "health_check";

pub struct HealthCheck {
    pub fail2ban: Arc<Fail2ban>,
    pub health: Arc<Health>,
    pub clock: Clock,
}

impl Job for HealthCheck {
    fn run(&self, _ctx: RunContext) -> JobFuture {
        let fail2ban = Arc::clone(&self.fail2ban);
        let health = Arc::clone(&self.health);
        let clock = self.clock.clone();
        Box::pin(async move {
            health
                .check(&fail2ban, &clock)
                .await
                .map_err(|e| JobError::from_error(&e))
        })
    }
}
