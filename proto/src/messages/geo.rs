use serde::{Deserialize, Serialize};

/// Look addresses up: cache and MaxMind always; ip-api.com only with `remote`
/// (which spends the shared rate-limit budget, so it needs an administrator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoLookup {
    /// Addresses as typed, at most [`crate::messages::MAX_PAGE`].
    pub addresses: Vec<String>,
    pub remote: bool,
}

/// What bangui knows about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoInfo {
    pub address: String,
    /// ISO 3166-1 alpha-2 code; absent while unresolved.
    pub country_code: Option<String>,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    /// Where the answer came from: maxmind, ip-api, local (a private or
    /// reserved range, never sent anywhere) or none.
    pub source: String,
    /// resolved, unresolved (retried later) or not-routable.
    pub status: String,
    /// Why the country is unknown.
    pub reason: Option<String>,
    /// Unix seconds of the last answer or attempt.
    pub updated_at: i64,
    /// Failed attempts since the last success.
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoUnresolvedQuery {
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoForget {
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoForgotten {
    /// Addresses that were in the cache and are gone from it and the database.
    pub forgotten: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoFlushed {
    /// Entries written in this flush.
    pub written: u64,
    /// Entries that changed while it ran; the next flush writes them.
    pub dirty: u64,
}

/// One MaxMind database file as bangui sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxMindInfo {
    /// "country" (a Country or City database) or "asn".
    pub role: String,
    pub path: Option<String>,
    /// loaded, missing, unreadable or off.
    pub state: String,
    /// The file's own database type, e.g. "GeoLite2-Country".
    pub database_type: Option<String>,
    /// Unix seconds when MaxMind built the file.
    pub build_epoch: Option<u64>,
    pub error: Option<String>,
}

/// The ip-api.com fallback and its rate-limit budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpApiInfo {
    pub enabled: bool,
    pub offline: bool,
    pub url: String,
    /// Batch requests bangui may still send in the current window.
    pub budget_left: u32,
    /// Seconds until more budget is available (0: available now).
    pub next_window_secs: u64,
    pub requests: u64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoStatsInfo {
    pub entries: u64,
    pub resolved: u64,
    pub unresolved: u64,
    pub not_routable: u64,
    /// Entries not yet written to the database.
    pub dirty: u64,
    /// Addresses waiting in the background queue.
    pub queued: u64,
    /// Addresses the full queue handed straight to the re-resolve list.
    pub overflowed: u64,
    pub lookups: u64,
    pub cache_hits: u64,
    pub maxmind_hits: u64,
    pub ip_api_resolved: u64,
    pub ip_api_failed: u64,
    /// Unix seconds of the last successful flush.
    pub last_flush_at: Option<i64>,
    pub maxmind: Vec<MaxMindInfo>,
    pub ip_api: IpApiInfo,
}
