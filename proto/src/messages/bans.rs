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
    /// Jails that ban exactly this address or network.
    pub jails: Vec<String>,
    /// Banned networks that hold it, with the jails that ban each now.
    pub networks: Vec<Covering>,
}

/// A network that holds the address or network asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Covering {
    pub network: String,
    /// Jails that ban the network (`banned`: as fail2ban says now;
    /// `history ip`: the archive's bans still in force).
    pub jails: Vec<String>,
    /// Blocklist sources that list the network now.
    pub sources: Vec<String>,
}

/// "Why is this blocked, or why not?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainQuery {
    /// An address or a network.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// As bangui writes it.
    pub target: String,
    /// Every ban fail2ban holds now of it or of a network that holds it.
    pub bans: Vec<ExplainedBan>,
    /// Every source that lists it, or a network that holds it.
    pub listings: Vec<Listing>,
    /// Why bangui would not ban it into its manual jail, if it would not:
    /// the allowlist rule (or the jail's ignoreip) that refuses it.
    pub refused: Option<Refused>,
    /// Where it is (for a network: where its first address is).
    pub geo: Option<crate::messages::GeoInfo>,
    pub geo_of_first_address: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainedBan {
    pub jail: String,
    /// What fail2ban bans: the target itself or a network that holds it.
    pub banned: String,
    /// Unix seconds of the ban, when the archive has it.
    pub since: Option<i64>,
    /// Unix seconds when it ends; `None` when permanent or unknown.
    pub until: Option<i64>,
    pub permanent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub source: String,
    /// The source's jail.
    pub jail: String,
    /// The entry that lists it: the target itself or a network that holds it.
    pub entry: String,
    /// Unix seconds since the source lists the entry, when known (entries
    /// listed before bangui kept the time have none).
    pub since: Option<i64>,
}
