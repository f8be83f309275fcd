use serde::{Deserialize, Serialize};

use super::GeoInfo;

/// Archived bans, newest first, filtered; page with `before_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    pub ip: Option<String>,
    pub jail: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only rows with a smaller id: the previous page's `next_before_id`.
    pub before_id: Option<u64>,
    pub limit: u32,
}

/// One archived ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub id: u64,
    pub jail: String,
    pub ip: String,
    /// Unix seconds.
    pub time_of_ban: i64,
    /// Seconds; -1 for a permanent ban.
    pub bantime: i64,
    pub bancount: u32,
    pub failures: Option<u32>,
    pub country_code: Option<String>,
    pub asn: Option<u32>,
    /// Unix seconds when the ban was lifted through bangui; none when it
    /// expired, was lifted by fail2ban itself, or is in force.
    pub unbanned_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    /// Set when more rows match: pass it as `before_id` for the next page.
    pub next_before_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryIpQuery {
    pub ip: String,
}

/// Everything bangui knows of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryIpInfo {
    pub ip: String,
    pub geo: Option<GeoInfo>,
    /// Its bans across jails, newest first (at most a page).
    pub bans: Vec<HistoryRow>,
    pub total_bans: u64,
    /// Blocklist sources that list it now.
    pub blocklists: Vec<String>,
    /// Jails where a blocklist import banned it.
    pub blocklist_jails: Vec<String>,
    /// Networks that hold it which sources list or the archive has bans of.
    pub covering: Vec<crate::messages::Covering>,
    /// `geo` is of the network's first address (`ip` is a network).
    pub geo_of_first_address: bool,
}

/// Grouped counts: `by` is jail, country, asn or day (stats) or ip,
/// country or asn (top).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryGroupQuery {
    pub by: String,
    pub since: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryGroup {
    /// The jail, country code, "AS64500", day (YYYY-MM-DD) or address; "unknown" without geo data.
    pub key: String,
    pub bans: u64,
    pub addresses: u64,
}

/// How the last history sync went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySyncInfo {
    pub dbfile: Option<String>,
    /// never, ok, disabled, missing, locked, unknown-schema, unreachable or failed.
    pub status: String,
    pub detail: Option<String>,
    pub synced_at: Option<i64>,
    pub archived: u64,
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryStatsInfo {
    pub by: String,
    pub since: Option<i64>,
    pub total_bans: u64,
    pub total_addresses: u64,
    pub groups: Vec<HistoryGroup>,
    pub sync: HistorySyncInfo,
}
