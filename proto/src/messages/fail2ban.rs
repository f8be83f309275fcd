use serde::{Deserialize, Serialize};

/// What the last health check found. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fail2banState {
    /// No check has run yet.
    Unknown,
    Up,
    Down,
    /// fail2ban's socket is there, but bangui may not open it.
    Denied,
    /// fail2ban is running but took no connection, or no request, within the
    /// timeout: another client or a slow action keeps it working.
    Busy,
}

impl Fail2banState {
    pub fn as_str(self) -> &'static str {
        match self {
            Fail2banState::Unknown => "unknown",
            Fail2banState::Up => "up",
            Fail2banState::Down => "down",
            Fail2banState::Denied => "denied",
            Fail2banState::Busy => "busy",
        }
    }
}

/// One jail's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailCounts {
    pub name: String,
    pub currently_failed: u64,
    pub total_failed: u64,
    pub currently_banned: u64,
    pub total_banned: u64,
}

/// Asks for fail2ban's health: the latest snapshot, or (`live`) one taken now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthQuery {
    pub live: bool,
}

/// The latest health snapshot of fail2ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fail2banHealth {
    pub state: Fail2banState,
    pub socket: String,
    /// Unix seconds when this snapshot was taken (a health check, or a
    /// refresh after bangui's own bans, unbans and imports).
    pub checked_at: Option<i64>,
    /// Unix seconds since when the state holds.
    pub since: Option<i64>,
    pub version: Option<String>,
    pub jails: Vec<JailCounts>,
    /// Why fail2ban is down, or what the last check could not do.
    pub error: Option<String>,
    /// Jails bangui is told to ban into (`manual_jail`, `blocklist_jail`,
    /// the sources' jails) that fail2ban has not loaded.
    pub missing_jails: Vec<String>,
    /// What to do about the above, for people.
    pub hint: Option<String>,
    /// How the jails bangui bans into enforce bans (those fail2ban has
    /// loaded; empty while fail2ban is not up).
    pub enforcement: Vec<Enforcement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailStatusQuery {
    pub jail: String,
    /// Most banned addresses to list, at most [`crate::messages::MAX_PAGE`].
    pub limit: u32,
}

/// A jail's counters and (the start of) its banned list, asked of fail2ban now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailStatusInfo {
    pub counts: JailCounts,
    pub banned: Vec<String>,
    /// Banned addresses in all; `banned` holds at most the query's limit.
    pub banned_total: u64,
    /// How the jail's actions enforce its bans; `None` when fail2ban would
    /// not say.
    pub enforcement: Option<Enforcement>,
}

/// Whether a jail's actions hold banned networks. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkSupport {
    /// No action says either way (none, or commands bangui cannot read).
    Unknown,
    /// Every action holds networks.
    Held,
    /// An action would lose them (fail2ban still acknowledges the ban), so
    /// bangui refuses networks to this jail.
    Lost,
}

impl NetworkSupport {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkSupport::Unknown => "unknown",
            NetworkSupport::Held => "held",
            NetworkSupport::Lost => "lost",
        }
    }
}

/// How one jail's bans reach the firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    pub jail: String,
    /// The jail's actions, as fail2ban names them.
    pub actions: Vec<String>,
    pub networks: NetworkSupport,
    /// Which action loses networks, and why.
    pub detail: Option<String>,
    /// What the kernel holds now, when the jail runs one of bangui's actions.
    pub kernel: Option<KernelSets>,
}

/// Element counts of the kernel sets of bangui's own actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelSets {
    /// Where they are: `nftables table inet NAME` or `ipset sets NAME-4, NAME-6`.
    pub sets: String,
    pub addresses_v4: u64,
    pub addresses_v6: u64,
    /// Networks in the kernel: the banned ones no other banned one contains.
    pub networks_v4: u64,
    pub networks_v6: u64,
    /// Banned networks in all, nested ones included.
    pub networks_banned: u64,
    /// Changes fail2ban has acknowledged that are not in the kernel yet.
    pub pending: u64,
    /// `nft` transactions that failed since the action started; each is
    /// retried by rewriting the sets whole.
    pub errors: u64,
    pub last_error: Option<String>,
}
