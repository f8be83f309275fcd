//! The config file exactly as written: every key optional, unknown keys refused.
//! Serialising a fully filled one gives the effective configuration as TOML.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub daemon: DaemonSection,
    #[serde(default)]
    pub sessions: SessionsSection,
    #[serde(default)]
    pub fail2ban: Fail2banSection,
    #[serde(default)]
    pub allowlist: AllowlistSection,
    #[serde(default)]
    pub geo: GeoSection,
    #[serde(default)]
    pub blocklist: BlocklistSection,
    #[serde(default)]
    pub history: HistorySection,
    #[serde(default)]
    pub jobs: BTreeMap<String, JobSection>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fail2banSection {
    pub socket: Option<PathBuf>,
    pub firewall: Option<super::Firewall>,
    pub config_dir: Option<PathBuf>,
    pub manage_jails: Option<bool>,
    pub manual_jail: Option<String>,
    #[serde(default, with = "super::duration")]
    pub manual_bantime: Option<Duration>,
    pub blocklist_jail: Option<String>,
    #[serde(default, with = "super::duration")]
    pub blocklist_bantime: Option<Duration>,
    pub ban_chunk: Option<usize>,
    pub ban_chunk_max: Option<usize>,
    #[serde(default, with = "super::duration")]
    pub ban_request_time: Option<Duration>,
    #[serde(default, with = "super::duration")]
    pub request_timeout: Option<Duration>,
    pub max_reply: Option<usize>,
    pub database: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySection {
    pub retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSection {
    pub networks: Option<Vec<String>>,
    pub private_ranges: Option<bool>,
    pub reserved_ranges: Option<bool>,
    pub own_addresses: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistSection {
    #[serde(default, with = "super::duration")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "super::duration")]
    pub timeout: Option<Duration>,
    pub max_body: Option<u64>,
    pub max_redirects: Option<usize>,
    pub retries: Option<u32>,
    #[serde(default, with = "super::duration")]
    pub default_interval: Option<Duration>,
    pub default_max_entries: Option<u64>,
    pub file_dir: Option<std::path::PathBuf>,
    /// Sources are shown by `blocklist list`, not among the settings.
    #[serde(default, skip_serializing)]
    pub source: Vec<SourceSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    pub name: String,
    pub url: String,
    #[serde(default, with = "super::duration")]
    pub interval: Option<Duration>,
    pub jail: Option<String>,
    pub max_entries: Option<u64>,
    pub enabled: Option<bool>,
    pub local: Option<bool>,
    pub secret_path: Option<bool>,
    pub json_field: Option<String>,
    pub min_score: Option<u64>,
    pub min_prefix_v4: Option<u8>,
    pub min_prefix_v6: Option<u8>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GeoSection {
    pub maxmind_db: Option<PathBuf>,
    pub maxmind_asn_db: Option<PathBuf>,
    pub ip_api: Option<bool>,
    pub ip_api_url: Option<String>,
    #[serde(default, with = "super::duration")]
    pub ip_api_timeout: Option<Duration>,
    pub offline: Option<bool>,
    pub queue_size: Option<usize>,
    pub cache_max_entries: Option<usize>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSection {
    pub state_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub socket_group: Option<String>,
    pub admin_group: Option<String>,
    #[serde(default, with = "super::duration")]
    pub shutdown_grace: Option<Duration>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub log_target: Option<String>,
    pub max_connections: Option<usize>,
    #[serde(default, with = "super::duration")]
    pub handshake_timeout: Option<Duration>,
    #[serde(default, with = "super::duration")]
    pub idle_timeout: Option<Duration>,
    pub job_runs_keep: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    #[serde(default, with = "super::duration")]
    pub default_ttl: Option<Duration>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    #[serde(default, with = "super::duration")]
    pub interval: Option<Duration>,
    #[serde(default, with = "super::duration")]
    pub timeout: Option<Duration>,
    #[serde(default, with = "super::duration")]
    pub first_delay: Option<Duration>,
    pub enabled: Option<bool>,
}
