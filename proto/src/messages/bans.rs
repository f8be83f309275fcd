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

/// What a ban or unban changed in one jail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailChange {
    pub jail: String,
    /// Targets fail2ban acknowledged in this jail.
    pub sent: u64,
    /// Bans fail2ban counted as new (banning) or lifted (unbanning); the rest
    /// of `sent` were banned already, or not banned there.
    pub changed: u64,
}

/// How a ban or unban request went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanReport {
    /// Distinct targets in the request, valid or not.
    pub requested: u64,
    /// Valid targets that passed the allowlist and were sent to fail2ban.
    pub accepted: u64,
    /// Per jail, in the order they were worked on: one jail for a ban or an
    /// unban with a jail, every jail fail2ban runs for an unban without one.
    pub jails: Vec<JailChange>,
    /// An unban without a jail: the targets were lifted from every jail.
    pub all_jails: bool,
    /// The refused targets, at most [`crate::messages::MAX_PAGE`] of them.
    pub refused: Vec<Refused>,
    pub refused_total: u64,
    /// Set when fail2ban failed part-way; `jails` says how far it got.
    pub error: Option<String>,
}

impl BanReport {
    /// Bans made (banning) or lifted (unbanning) over all jails.
    pub fn changed(&self) -> u64 {
        self.jails.iter().map(|j| j.changed).sum()
    }

    /// True when every target ended as asked: nothing refused, nothing failed.
    pub fn complete(&self) -> bool {
        self.refused_total == 0 && self.error.is_none()
    }
}

/// Most addresses one `banned` request may ask about: the daemon reads each
/// jail's whole ban list once per request, so requests are made big, and
/// the answer still fits a frame with an address in ten jails (about 30
/// bytes an address and jail).
pub const MAX_BANNED_QUERY: u32 = 5_000;

/// Which jails ban each of these addresses (at most [`MAX_BANNED_QUERY`]
/// per request; clients split longer lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BannedQuery {
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BannedIn {
    pub address: String,
    pub jails: Vec<String>,
}
