use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRequest {
    /// Addresses and networks, as typed.
    pub targets: Vec<String>,
    /// The daemon's manual jail when absent.
    pub jail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnbanRequest {
    pub targets: Vec<String>,
    pub jail: Option<String>,
}

/// A target that was not sent to fail2ban, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub target: String,
    /// Stable reason name: invalid, loopback, link-local, private, reserved,
    /// own-address, jail-ignoreip, allowlist.
    pub reason: String,
    pub detail: String,
}

/// How a ban or unban request went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanReport {
    pub jail: String,
    /// Distinct targets in the request.
    pub requested: u64,
    /// Targets fail2ban acknowledged.
    pub sent: u64,
    /// Bans that fail2ban counted as new (banning) or lifted (unbanning).
    pub changed: u64,
    /// The refused targets, at most [`crate::messages::MAX_PAGE`] of them.
    pub refused: Vec<Refused>,
    pub refused_total: u64,
    /// Set when fail2ban failed part-way: `sent` targets were done before it.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BannedQuery {
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BannedIn {
    pub address: String,
    pub jails: Vec<String>,
}
