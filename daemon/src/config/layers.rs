//! Where each setting comes from. The file is kept as a TOML table; persisted
//! settings (`bangui-ctl config set`) are merged over it before it is read;
//! environment variables and flags win over both. The effective configuration
//! is the validated [`Config`] written back as a full file and flattened to
//! dotted keys, so every key the file accepts is listed with its value.

use std::collections::BTreeMap;

use bangui_proto::messages::ValueSource;
use bangui_proto::paths::DefaultPaths;

use super::file::{
    AllowlistSection, BlocklistSection, DaemonSection, Fail2banSection, FileConfig, GeoSection,
    HistorySection, JobSection, SessionsSection,
};
use super::{Config, LogFormat, LogTarget, Overrides};
use crate::scheduler::JobSpec;

/// Everything a [`Config`] was built from, kept so it can be rebuilt with
/// other persisted settings and so each value's source can be named.
#[derive(Debug, Clone)]
pub struct Layers {
    pub defaults: DefaultPaths,
    pub overrides: Overrides,
    /// The file as written (empty without a file).
    pub file: toml::Table,
    /// Persisted settings in effect, by dotted key.
    pub persisted: BTreeMap<String, toml::Value>,
    /// Persisted settings left out because they did not validate.
    pub ignored: Vec<Ignored>,
    pub job_defaults: Vec<JobSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ignored {
    pub key: String,
    pub value: toml::Value,
    pub reason: String,
}

/// One effective setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: toml::Value,
    pub source: ValueSource,
}

/// They locate the database the settings live in, and the socket `config set` arrives on.
const LOCATING: &[&str] = &["daemon.state_dir", "daemon.socket"];
/// They decide what the root daemon opens, writes and runs, and who may use
/// it: root's config file decides them, not a setting an administrator of
/// bangui stores over the socket.
const ROOTS_FILE: &[&str] = &[
    "fail2ban.config_dir",
    "fail2ban.socket",
    "fail2ban.database",
    "fail2ban.firewall",
    "daemon.socket_group",
    "daemon.admin_group",
    "blocklist.file_dir",
];

pub fn settable(key: &str) -> bool {
    !LOCATING.contains(&key) && !ROOTS_FILE.contains(&key)
}

/// Why `config set` refuses a key that exists but is not settable.
pub fn not_settable_reason(key: &str) -> String {
    if LOCATING.contains(&key) {
        format!(
            "`{key}` locates the database and cannot be persisted in it; set it in the config file or with a flag"
        )
    } else {
        format!(
            "`{key}` decides what the daemon opens and runs, or who may use it; only the config file (root's to edit) or a flag sets it"
        )
    }
}

/// A value as typed after `config set KEY`: TOML (`30`, `true`, `["10.0.0.0/8"]`,
/// `"text"`), or else the text itself as a string (`10m`, `debug`).
pub fn parse_value(text: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {text}")) {
        Ok(mut table) if table.len() == 1 => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.to_string())),
        _ => toml::Value::String(text.to_string()),
    }
}

/// `table` with `value` at the dotted `key`, creating the tables on the way.
pub fn insert(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts = key.split('.').peekable();
    let mut here = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            here.insert(part.to_string(), value);
            return;
        }
        let slot = here
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !slot.is_table() {
            *slot = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = slot else {
            return;
        };
        here = next;
    }
}

pub fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// The file's table with the persisted settings laid over it.
pub fn merged(file: &toml::Table, persisted: &BTreeMap<String, toml::Value>) -> toml::Table {
    let mut table = file.clone();
    for (key, value) in persisted {
        insert(&mut table, key, value.clone());
    }
    table
}

fn flatten(table: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(inner) => flatten(inner, &key, out),
            other => out.push((key, other.clone())),
        }
    }
}

impl Layers {
    /// A file's layers, with nothing persisted laid over it yet.
    pub fn new(
        defaults: &DefaultPaths,
        overrides: &Overrides,
        file: toml::Table,
        job_defaults: &[JobSpec],
    ) -> Layers {
        Layers {
            defaults: defaults.clone(),
            overrides: overrides.clone(),
            file,
            persisted: BTreeMap::new(),
            ignored: Vec::new(),
            job_defaults: job_defaults.to_vec(),
        }
    }

    /// Environment and flags first, then persisted, file, default.
    pub fn source_of(&self, key: &str) -> ValueSource {
        if self.overrides.given().contains(&key) {
            return self
                .overrides
                .origins
                .get(key)
                .copied()
                .unwrap_or(ValueSource::Flag);
        }
        if self.persisted.contains_key(key) {
            ValueSource::Persisted
        } else if lookup(&self.file, key).is_some() {
            ValueSource::File
        } else {
            ValueSource::Default
        }
    }
}

impl Config {
    /// Every setting with its effective value and source, in key order.
    pub fn entries(&self) -> Vec<Entry> {
        let table = match toml::Table::try_from(effective(self)) {
            Ok(table) => table,
            Err(e) => {
                // Only reachable if a value cannot be written as TOML at all.
                tracing::error!(error = %e, "cannot list the effective configuration");
                return Vec::new();
            }
        };
        let mut flat = Vec::new();
        flatten(&table, "", &mut flat);
        flat.sort_by(|a, b| a.0.cmp(&b.0));
        flat.into_iter()
            .map(|(key, value)| Entry {
                source: self.layers.source_of(&key),
                key,
                value,
            })
            .collect()
    }
}

fn path_text(path: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    Some(path.map(|p| p.to_path_buf()).unwrap_or_default())
}

/// The configuration written back as a file with every key filled in. An
/// empty string stands for "none" where the file uses one for that.
fn effective(c: &Config) -> FileConfig {
    let f = &c.fail2ban;
    let a = &c.allowlist;
    let g = &c.geo;
    let b = &c.blocklist;
    FileConfig {
        daemon: DaemonSection {
            state_dir: Some(c.state_dir.clone()),
            socket: Some(c.socket.clone()),
            socket_group: Some(c.socket_group.clone().unwrap_or_default()),
            admin_group: Some(c.admin_group.clone().unwrap_or_default()),
            shutdown_grace: Some(c.shutdown_grace),
            log_level: Some(c.log_level.clone()),
            log_format: Some(
                match c.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .to_string(),
            ),
            log_target: Some(
                match c.log_target {
                    LogTarget::Auto => "auto",
                    LogTarget::Stderr => "stderr",
                    LogTarget::Journald => "journald",
                }
                .to_string(),
            ),
            max_connections: Some(c.max_connections),
            handshake_timeout: Some(c.handshake_timeout),
            idle_timeout: Some(c.idle_timeout),
            job_runs_keep: Some(c.job_runs_keep),
        },
        sessions: SessionsSection {
            default_ttl: Some(c.session_ttl),
        },
        fail2ban: Fail2banSection {
            socket: Some(f.socket.clone()),
            config_dir: Some(f.config_dir.clone()),
            manage_jails: Some(f.manage_jails),
            firewall: Some(f.firewall),
            manual_jail: Some(f.manual_jail.clone()),
            manual_bantime: Some(f.manual_bantime),
            blocklist_jail: Some(f.blocklist_jail.clone()),
            blocklist_bantime: Some(f.blocklist_bantime),
            ban_chunk: Some(f.ban_chunk),
            ban_chunk_max: Some(f.ban_chunk_max),
            ban_request_time: Some(f.ban_request_time),
            request_timeout: Some(f.request_timeout),
            max_reply: Some(f.max_reply),
            database: path_text(f.database.as_deref()),
        },
        allowlist: AllowlistSection {
            networks: Some(a.networks.iter().map(ToString::to_string).collect()),
            private_ranges: Some(a.private_ranges),
            reserved_ranges: Some(a.reserved_ranges),
            own_addresses: Some(a.own_addresses),
        },
        geo: GeoSection {
            maxmind_db: path_text(g.maxmind_db.path.as_deref()),
            maxmind_asn_db: path_text(g.maxmind_asn_db.path.as_deref()),
            ip_api: Some(g.ip_api),
            ip_api_url: Some(g.ip_api_url.clone()),
            ip_api_timeout: Some(g.ip_api_timeout),
            offline: Some(g.offline),
            queue_size: Some(g.queue_size),
            cache_max_entries: Some(g.cache_max_entries),
        },
        blocklist: BlocklistSection {
            connect_timeout: Some(b.connect_timeout),
            timeout: Some(b.timeout),
            max_body: Some(b.max_body),
            max_redirects: Some(b.max_redirects),
            retries: Some(b.retries),
            default_interval: Some(b.default_interval),
            default_max_entries: Some(b.default_max_entries),
            file_dir: Some(b.file_dir.clone()),
            source: Vec::new(),
        },
        history: HistorySection {
            retention_days: Some(c.history_retention_days),
        },
        jobs: c
            .jobs
            .iter()
            .map(|j| {
                let section = JobSection {
                    interval: Some(j.interval),
                    timeout: Some(j.timeout),
                    first_delay: Some(j.first_delay),
                    enabled: Some(j.enabled),
                };
                (j.id.clone(), section)
            })
            .collect(),
    }
}
