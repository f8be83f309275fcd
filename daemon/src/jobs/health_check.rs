//! `health_check`: pings fail2ban and records its version, jails and counters
//! in the shared health snapshot. fail2ban being down is a finding, not a
//! failure of the job: the run ends ok and says so.

use std::sync::Arc;

use bangui_proto::messages::JailCounts;

use crate::clock::Clock;
use crate::fail2ban::health::Health;
use crate::fail2ban::{Fail2ban, Fail2banError};
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
            match probe(&fail2ban).await {
                Ok((version, jails)) => {
                    let summary = format!("fail2ban {version} is up with {} jail(s)", jails.len());
                    health.record_up(clock.now_unix(), version, jails);
                    Ok(summary)
                }
                Err(e) if e.is_unavailable() => {
                    health.record_down(clock.now_unix(), e.to_string());
                    Ok(format!("fail2ban is down: {e}"))
                }
                Err(e) => {
                    health.record_down(clock.now_unix(), e.to_string());
                    Err(JobError::from_error(&e))
                }
            }
        })
    }
}

async fn probe(fail2ban: &Fail2ban) -> Result<(String, Vec<JailCounts>), Fail2banError> {
    fail2ban.ping().await?;
    let version = fail2ban.version().await?;
    let mut jails = Vec::new();
    for name in fail2ban.jails().await? {
        match fail2ban.jail_status(&name, true).await {
            Ok(s) => jails.push(JailCounts {
                name,
                currently_failed: s.currently_failed,
                total_failed: s.total_failed,
                currently_banned: s.currently_banned,
                total_banned: s.total_banned,
            }),
            // A jail stopped between the two requests.
            Err(Fail2banError::UnknownJail(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((version, jails))
}
