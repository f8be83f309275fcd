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
}
