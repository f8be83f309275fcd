//! The `[geo]` section: where MaxMind files live and whether ip-api.com may be asked.

use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;
use super::file::GeoSection;

/// Where `geoipupdate` writes on Debian and most distributions.
pub const DEFAULT_COUNTRY_DB: &str = "/var/lib/GeoIP/GeoLite2-Country.mmdb";
pub const DEFAULT_ASN_DB: &str = "/var/lib/GeoIP/GeoLite2-ASN.mmdb";
pub const DEFAULT_IP_API_URL: &str = "http://ip-api.com";

/// A MaxMind file setting; a missing default file is normal, a missing named one is worth a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxMindPath {
    pub path: Option<PathBuf>,
    pub explicit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoConfig {
    pub maxmind_db: MaxMindPath,
    pub maxmind_asn_db: MaxMindPath,
    pub ip_api: bool,
    pub ip_api_url: String,
    pub ip_api_timeout: Duration,
    /// No network calls at all, not even for `geo lookup --remote`.
    pub offline: bool,
    /// Addresses the background queue holds before it hands the rest to re-resolve.
    pub queue_size: usize,
    /// Most addresses the cache holds, in memory and in the database.
    pub cache_max_entries: usize,
    /// The ip-api rate-limit window. Not a file setting: the service's window is
    /// a minute; only the test hooks shorten it.
    pub ip_api_window: Duration,
}

pub fn geo_config(
    g: GeoSection,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<GeoConfig, ConfigError> {
    let maxmind = |key: &str, value: Option<PathBuf>, default: &str| {
        match value {
            None => Ok(MaxMindPath {
                path: Some(PathBuf::from(default)),
                explicit: false,
            }),
            // An empty string switches the file off.
            Some(p) if p.as_os_str().is_empty() => Ok(MaxMindPath {
                path: None,
                explicit: true,
            }),
            Some(p) if !p.is_absolute() => Err(invalid(
                key,
                format!("{} is not an absolute path", p.display()),
            )),
            Some(p) => Ok(MaxMindPath {
                path: Some(p),
                explicit: true,
            }),
        }
    };
    let url = g
        .ip_api_url
        .unwrap_or_else(|| DEFAULT_IP_API_URL.to_string())
        .trim_end_matches('/')
        .to_string();
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| invalid("geo.ip_api_url", format!("`{url}` is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            "geo.ip_api_url",
            format!("`{url}` must be an http:// or https:// URL with a host"),
        ));
    }
    let ip_api_timeout = g.ip_api_timeout.unwrap_or(Duration::from_secs(10));
    if ip_api_timeout.is_zero() || ip_api_timeout > Duration::from_secs(120) {
        return Err(invalid(
            "geo.ip_api_timeout",
            "must be longer than zero and at most 2 minutes".into(),
        ));
    }
    let queue_size = g.queue_size.unwrap_or(100_000);
    if !(100..=10_000_000).contains(&queue_size) {
        return Err(invalid(
            "geo.queue_size",
            "must be between 100 and 10000000".into(),
        ));
    }
    let cache_max_entries = g.cache_max_entries.unwrap_or(1_000_000);
    if !(1_000..=50_000_000).contains(&cache_max_entries) {
        return Err(invalid(
            "geo.cache_max_entries",
            "must be between 1000 and 50000000".into(),
        ));
    }
    Ok(GeoConfig {
        maxmind_db: maxmind("geo.maxmind_db", g.maxmind_db, DEFAULT_COUNTRY_DB)?,
        maxmind_asn_db: maxmind("geo.maxmind_asn_db", g.maxmind_asn_db, DEFAULT_ASN_DB)?,
        ip_api: g.ip_api.unwrap_or(true),
        ip_api_url: url,
        ip_api_timeout,
        offline: g.offline.unwrap_or(false),
        queue_size,
        cache_max_entries,
        ip_api_window: Duration::from_secs(60),
    })
}
