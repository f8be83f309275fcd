//! Everything request handlers and jobs share, built once at start-up and
//! passed explicitly.

use std::sync::Arc;
use std::time::Instant;

use crate::auth::Auth;
use crate::bans::Bans;
use crate::blocklist::Blocklists;
use crate::clock::Clock;
use crate::config::Config;
use crate::fail2ban::Fail2ban;
use crate::fail2ban::health::Health;
use crate::geo::Geo;
use crate::history::History;
use crate::scheduler::Scheduler;
use crate::server::peer::AdminPolicy;
use crate::sessions::Sessions;
use crate::settings::Settings;
use crate::store::Db;

pub struct Ctx {
    pub config: Config,
    pub db: Db,
    pub scheduler: Scheduler,
    pub sessions: Sessions,
    pub auth: Arc<Auth>,
    pub fail2ban: Arc<Fail2ban>,
    pub health: Arc<Health>,
    pub bans: Bans,
    pub geo: Geo,
    pub blocklists: Blocklists,
    pub history: History,
    pub settings: Settings,
    pub clock: Clock,
    pub policy: AdminPolicy,
    /// Unix seconds at start.
    pub started_at: i64,
    pub started: Instant,
    pub schema_version: u32,
}
