use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddSource {
    pub name: String,
    /// http://, https:// or file:// URL.
    pub url: String,
    /// The daemon's default (24 h) when absent.
    pub interval_secs: Option<u64>,
    /// The daemon's fail2ban.blocklist_jail when absent.
    pub jail: Option<String>,
    pub max_entries: Option<u64>,
    /// Let downloads reach loopback and private addresses (refused otherwise).
    pub local: bool,
    /// The URL's path holds a secret: never shown or logged.
    pub secret_path: bool,
    pub format: ListFormat,
}

/// How a source's list is read, where it differs from every list's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFormat {
    /// The field of JSON records holding the address or network; by default
    /// the first of `cidr`, `ip`, `network`, `address`, `prefix`.
    pub json_field: Option<String>,
    /// Scored lists: keep lines whose second column is at least this.
    pub min_score: Option<u64>,
    /// The broadest IPv4 network accepted (default and broadest: /8).
    pub min_prefix_v4: Option<u8>,
    /// The broadest IPv6 network accepted (default and broadest: /16).
    pub min_prefix_v6: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceName {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnableSource {
    pub name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveSource {
    pub name: String,
    /// Also lift the bans only this source asked for.
    pub unban: bool,
}

/// Import now: one source, or every enabled one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImport {
    pub name: Option<String>,
    /// Answer when the imports have finished, with their records.
    pub wait: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListImportRuns {
    pub source: Option<String>,
    /// Only runs still going.
    pub running: bool,
    pub limit: u32,
}

/// A count of refusals for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

/// One import of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRunInfo {
    pub id: u64,
    pub source: String,
    pub jail: String,
    /// schedule or manual.
    pub trigger: String,
    /// running, completed, unchanged, failed or interrupted.
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// Hex SHA-256 of the normalised list.
    pub content_sha256: Option<String>,
    /// How the download went, e.g. "200, 1.2 MB" or "304 not modified".
    pub download: Option<String>,
    pub lines: u64,
    /// Distinct valid entries the list gives.
    pub entries: u64,
    pub invalid: u64,
    pub duplicates: u64,
    /// Networks broader than the source's floor (/8 IPv4, /16 IPv6 by
    /// default), refused.
    pub too_broad: u64,
    /// Lines of a scored list below the source's `min_score`, left out.
    pub below_score: u64,
    /// Entries left out because a network the same source lists holds them
    /// (fail2ban bans the network; `banned` and `explain` still find them).
    pub folded: u64,
    /// Refused by the allowlist.
    pub refused: u64,
    pub refused_by: Vec<ReasonCount>,
    /// Entries past the source's max_entries.
    pub over_cap: u64,
    /// Bans bangui had made that fail2ban no longer held (restart, expiry).
    pub lost: u64,
    pub to_ban: u64,
    pub banned: u64,
    pub to_unban: u64,
    pub unbanned: u64,
    /// Unbans put off until fail2ban has stored the ban.
    pub deferred: u64,
    /// A few invalid lines, "line N: `text`".
    pub samples: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub name: String,
    /// Without credentials.
    pub url: String,
    pub jail: String,
    pub interval_secs: u64,
    pub max_entries: u64,
    pub enabled: bool,
    /// Downloads may reach loopback and private addresses.
    pub local: bool,
    /// The URL's path is hidden.
    pub secret_path: bool,
    pub format: ListFormat,
    /// ctl or config.
    pub origin: String,
    /// Entries the source lists now.
    pub listed: u64,
    /// Of those, banned by bangui in the jail.
    pub banned: u64,
    pub failure_streak: u32,
    /// Unix seconds of the next scheduled import (backed off after failures).
    pub next_run_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_run: Option<ImportRunInfo>,
    /// How the source's jail enforces its bans (`blocklist show` only).
    pub enforcement: Option<crate::messages::Enforcement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRemoved {
    pub name: String,
    pub unbanned: u64,
    /// Bans not lifted yet because fail2ban has not stored them; they are left to expire.
    pub deferred: u64,
    pub error: Option<String>,
}

/// What an import would do now; nothing is sent or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPlan {
    pub source: String,
    pub jail: String,
    pub download: Option<String>,
    pub lines: u64,
    pub entries: u64,
    pub invalid: u64,
    pub duplicates: u64,
    pub too_broad: u64,
    pub below_score: u64,
    pub folded: u64,
    pub refused: u64,
    pub refused_by: Vec<ReasonCount>,
    pub over_cap: u64,
    pub lost: u64,
    pub to_ban: u64,
    pub to_unban: u64,
    pub samples: Vec<String>,
    /// Set when the import would fail and change nothing.
    pub error: Option<String>,
    /// How the jail enforces bans; `None` when fail2ban would not say.
    pub enforcement: Option<crate::messages::Enforcement>,
}
