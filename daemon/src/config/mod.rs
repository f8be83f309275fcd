//! The daemon's configuration: defaults, then the TOML file, then `BANGUI_*`
//! environment variables and command-line flags, validated once into [`Config`].

pub mod blocklist;
pub mod duration;
mod file;
mod geo;
mod layers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bangui_proto::messages::ValueSource;
use bangui_proto::paths::DefaultPaths;

pub use blocklist::{BlocklistConfig, SourceConfig};
use file::FileConfig;
pub use file::JobSection;
pub use geo::{GeoConfig, MaxMindPath};
pub use layers::{Entry, Ignored, Layers, parse_value, settable};

use crate::scheduler::JobSpec;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// The journal when stderr is connected to it (`JOURNAL_STREAM`), else stderr.
    Auto,
    Stderr,
    Journald,
}

/// Settings given on the command line or in `BANGUI_*` variables; they win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// An explicitly named config file must exist; the default one is optional.
    pub config_file: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub socket_group: Option<String>,
    pub admin_group: Option<String>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub log_target: Option<String>,
    /// Where each given override came from, by config key; absent: a flag.
    pub origins: BTreeMap<&'static str, ValueSource>,
}

impl Overrides {
    /// The config keys an override is given for.
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("daemon.state_dir", self.state_dir.is_some()),
            ("daemon.socket", self.socket.is_some()),
            ("daemon.socket_group", self.socket_group.is_some()),
            ("daemon.admin_group", self.admin_group.is_some()),
            ("daemon.log_level", self.log_level.is_some()),
            ("daemon.log_format", self.log_format.is_some()),
            ("daemon.log_target", self.log_target.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }
}

/// How bangui reaches and uses fail2ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail2banConfig {
    pub socket: PathBuf,
    /// How bangui's own jails reach the kernel firewall.
    pub firewall: Firewall,
    /// fail2ban's configuration directory; managed jails go to its `jail.d`.
    pub config_dir: PathBuf,
    pub manage_jails: bool,
    pub manual_jail: String,
    pub manual_bantime: Duration,
    pub blocklist_jail: String,
    pub blocklist_bantime: Duration,
    /// Addresses in the first `banip`/`unbanip` request of a batch, and the fewest per request.
    pub ban_chunk: usize,
    /// The most addresses per request.
    pub ban_chunk_max: usize,
    /// How long one request should keep fail2ban busy; zero: fixed `ban_chunk`.
    pub ban_request_time: Duration,
    pub request_timeout: Duration,
    pub max_reply: usize,
    /// fail2ban's database for history; None: ask fail2ban.
    pub database: Option<PathBuf>,
}

/// `fail2ban.firewall`: which action bangui's jails use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firewall {
    /// `nftables` where `nft` is installed, else `ipset` where `ipset` and
    /// `iptables` are, else `stock`.
    Auto,
    /// bangui's own fail2ban action: nftables sets that hold networks,
    /// changes applied in batches.
    Nftables,
    /// bangui's own fail2ban action for hosts without `nft`: ipset
    /// `hash:net` sets sized to the list, and an iptables chain.
    Ipset,
    /// fail2ban's `banaction_allports`, as the host configured it.
    Stock,
}

impl Firewall {
    /// `auto` decided by the programs installed. fail2ban runs the action,
    /// so it is fail2ban's host that must have them: the same one.
    pub fn resolve(self) -> crate::fail2ban::jails::JailAction {
        use crate::fail2ban::jails::JailAction;
        match self {
            Firewall::Nftables => JailAction::Nftables,
            Firewall::Ipset => JailAction::Ipset,
            Firewall::Stock => JailAction::Stock,
            Firewall::Auto if installed("nft") => JailAction::Nftables,
            Firewall::Auto if installed("ipset") && installed("iptables") => JailAction::Ipset,
            Firewall::Auto => {
                tracing::warn!(
                    "neither nft nor ipset and iptables are installed: bangui's jails use fail2ban's banaction_allports, one firewall command and rule per address, slow for big lists and maybe unable to hold networks; install nftables (apt-get install nftables)"
                );
                JailAction::Stock
            }
        }
    }
}

/// Whether a system program is installed where packages put them.
fn installed(program: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|dir| Path::new(dir).join(program).exists())
}

/// What may never be banned, beyond loopback (which never may).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowlistConfig {
    pub networks: Vec<ipnet::IpNet>,
    pub private_ranges: bool,
    pub reserved_ranges: bool,
    pub own_addresses: bool,
}

/// The validated configuration the daemon runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file that was read, if one was.
    pub config_file: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub socket_group: Option<String>,
    pub admin_group: Option<String>,
    pub shutdown_grace: Duration,
    pub log_level: String,
    pub log_format: LogFormat,
    pub log_target: LogTarget,
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    /// Newest runs kept per job in `job_runs`.
    pub job_runs_keep: u32,
    pub session_ttl: Duration,
    pub fail2ban: Fail2banConfig,
    pub allowlist: AllowlistConfig,
    pub geo: GeoConfig,
    pub blocklist: BlocklistConfig,
    /// Days raw ban history is kept (daily roll-ups are kept for ever).
    pub history_retention_days: u32,
    /// The jobs to register, defaults merged with the file's `[jobs.*]` tables.
    pub jobs: Vec<JobSpec>,
    /// What this was built from, to rebuild it with other persisted settings.
    pub layers: Arc<Layers>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Longest path a Unix socket address can hold (sun_path less its NUL).
const MAX_SOCKET_PATH: usize = 107;

impl Config {
    /// Reads the file (if any) and applies the overrides on top of it.
    pub fn load(
        defaults: &DefaultPaths,
        overrides: &Overrides,
        job_defaults: &[JobSpec],
    ) -> Result<Config, ConfigError> {
        let (path, required) = match &overrides.config_file {
            Some(p) => (p.clone(), true),
            None => (defaults.config_file.clone(), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::from_toml(defaults, overrides, &path, &text, job_defaults),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                let layers = Layers::new(defaults, overrides, toml::Table::new(), job_defaults);
                Config::build(FileConfig::default(), None, layers)
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Builds a config from TOML text, as if read from `origin` (for tests and tools).
    pub fn from_toml(
        defaults: &DefaultPaths,
        overrides: &Overrides,
        origin: &Path,
        text: &str,
        job_defaults: &[JobSpec],
    ) -> Result<Config, ConfigError> {
        // Read as the struct first: its errors point at the line.
        let file = parse_file(origin, text)?;
        let table = toml::from_str::<toml::Table>(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let layers = Layers::new(defaults, overrides, table, job_defaults);
        Config::build(file, Some(origin.to_path_buf()), layers)
    }

    /// This configuration with `persisted` laid over the file. A setting that
    /// does not validate (the file may have changed since it was set) is left
    /// out and listed in `layers.ignored`, so a bad one never stops a start.
    pub fn with_persisted(&self, persisted: BTreeMap<String, toml::Value>) -> Config {
        let mut config = self.clone();
        let mut ignored = Vec::new();
        for (key, value) in persisted {
            match config.with_setting(&key, Some(value.clone())) {
                Ok(next) => config = next,
                Err(reason) => ignored.push(Ignored { key, value, reason }),
            }
        }
        let mut layers = (*config.layers).clone();
        layers.ignored = ignored;
        config.layers = Arc::new(layers);
        config
    }

    /// This configuration with `key` persisted as `value` (None: forgotten), or
    /// why that is not a valid setting.
    pub fn with_setting(&self, key: &str, value: Option<toml::Value>) -> Result<Config, String> {
        let mut persisted = self.layers.persisted.clone();
        match value {
            Some(value) => {
                self.check_key(key)?;
                // The one key alone first, so a type error names it plainly.
                let mut alone = toml::Table::new();
                layers::insert(&mut alone, key, value.clone());
                if let Err(e) = toml::Value::Table(alone).try_into::<FileConfig>() {
                    // The first line is the reason; the rest repeats the key.
                    let text = e.to_string();
                    let reason = text.lines().next().unwrap_or_default();
                    return Err(format!("`{key}`: {reason}"));
                }
                persisted.insert(key.to_string(), value);
            }
            None => {
                persisted.remove(key);
            }
        }
        let merged = layers::merged(&self.layers.file, &persisted);
        let file = toml::Value::Table(merged)
            .try_into::<FileConfig>()
            .map_err(|e| e.to_string().trim_end().to_string())?;
        let mut layers = (*self.layers).clone();
        layers.persisted = persisted;
        let config =
            Config::build(file, self.config_file.clone(), layers).map_err(|e| match e {
                ConfigError::Invalid { message, .. } => message,
                other => other.to_string(),
            })?;
        // The groups a setting names must exist, as at start.
        crate::resolve_groups(&config).map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// A key `config set` accepts, or what is wrong with it.
    fn check_key(&self, key: &str) -> Result<(), String> {
        let entries = self.entries();
        if entries.iter().any(|e| e.key == key) {
            if settable(key) {
                return Ok(());
            }
            return Err(layers::not_settable_reason(key));
        }
        let tail = format!(".{key}");
        let near: Vec<&str> = entries
            .iter()
            .map(|e| e.key.as_str())
            .filter(|k| k.ends_with(&tail))
            .take(3)
            .collect();
        let hint = if near.is_empty() {
            "; `bangui-ctl config show` lists them".to_string()
        } else {
            format!("; did you mean {}?", near.join(", "))
        };
        Err(format!("no setting `{key}`{hint}"))
    }

    fn build(
        file: FileConfig,
        config_file: Option<PathBuf>,
        layers: Layers,
    ) -> Result<Config, ConfigError> {
        let defaults = &layers.defaults;
        let overrides = &layers.overrides;
        let job_defaults = &layers.job_defaults;
        let origin = config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "configuration".to_string());
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            origin: origin.clone(),
            message: format!("`{key}`: {message}"),
        };
        let d = file.daemon;

        let state_dir = overrides
            .state_dir
            .clone()
            .or(d.state_dir)
            .unwrap_or_else(|| defaults.state_dir.clone());
        let socket = overrides
            .socket
            .clone()
            .or(d.socket)
            .unwrap_or_else(|| defaults.socket.clone());
        if !state_dir.is_absolute() {
            return Err(invalid(
                "daemon.state_dir",
                format!("{} is not an absolute path", state_dir.display()),
            ));
        }
        if !socket.is_absolute() {
            return Err(invalid(
                "daemon.socket",
                format!("{} is not an absolute path", socket.display()),
            ));
        }
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(invalid(
                "daemon.socket",
                format!(
                    "{} is {} bytes long; a Unix socket path holds at most {MAX_SOCKET_PATH}",
                    socket.display(),
                    socket.as_os_str().len()
                ),
            ));
        }

        // A value under an override is checked all the same: it applies the
        // moment the flag or variable goes away.
        if let Some(under) = &d.log_level {
            crate::log_level::normalize(under).map_err(|e| invalid("daemon.log_level", e))?;
        }
        let given = overrides
            .log_level
            .clone()
            .or(d.log_level)
            .unwrap_or_else(|| "info".to_string());
        let log_level =
            crate::log_level::normalize(&given).map_err(|e| invalid("daemon.log_level", e))?;
        let log_format = match overrides
            .log_format
            .clone()
            .or(d.log_format)
            .as_deref()
            .unwrap_or("text")
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "daemon.log_format",
                    format!("`{other}` is not one of \"text\", \"json\""),
                ));
            }
        };

        let log_target = match overrides
            .log_target
            .clone()
            .or(d.log_target)
            .as_deref()
            .unwrap_or("auto")
        {
            "auto" => LogTarget::Auto,
            "stderr" => LogTarget::Stderr,
            "journald" => LogTarget::Journald,
            other => {
                return Err(invalid(
                    "daemon.log_target",
                    format!("`{other}` is not one of \"auto\", \"stderr\", \"journald\""),
                ));
            }
        };
        let max_connections = d.max_connections.unwrap_or(128);
        if max_connections == 0 {
            return Err(invalid(
                "daemon.max_connections",
                "must be at least 1".into(),
            ));
        }
        let job_runs_keep = d.job_runs_keep.unwrap_or(100);
        if job_runs_keep == 0 {
            return Err(invalid("daemon.job_runs_keep", "must be at least 1".into()));
        }
        let handshake_timeout = positive(
            d.handshake_timeout,
            Duration::from_secs(5),
            "daemon.handshake_timeout",
            &invalid,
        )?;
        let idle_timeout = positive(
            d.idle_timeout,
            Duration::from_secs(300),
            "daemon.idle_timeout",
            &invalid,
        )?;
        let session_ttl = positive(
            file.sessions.default_ttl,
            Duration::from_secs(24 * 3600),
            "sessions.default_ttl",
            &invalid,
        )?;
        if session_ttl < Duration::from_secs(1) || session_ttl > crate::sessions::MAX_TTL {
            return Err(invalid(
                "sessions.default_ttl",
                "must be between 1 second and 366 days".into(),
            ));
        }

        let fail2ban = fail2ban_config(file.fail2ban, &invalid)?;
        let allowlist = allowlist_config(file.allowlist, &invalid)?;
        let geo = geo::geo_config(file.geo, &invalid)?;
        let blocklist = blocklist::blocklist_config(file.blocklist, &invalid)?;
        let history_retention_days = file.history.retention_days.unwrap_or(365);
        if !(1..=36_500).contains(&history_retention_days) {
            return Err(invalid(
                "history.retention_days",
                "must be between 1 and 36500".into(),
            ));
        }
        let jobs = merge_jobs(job_defaults, file.jobs, &invalid)?;

        Ok(Config {
            config_file,
            state_dir,
            socket,
            // An empty name means none, so a persisted setting can clear the file's.
            socket_group: overrides
                .socket_group
                .clone()
                .or(d.socket_group)
                .filter(|g| !g.is_empty()),
            admin_group: overrides
                .admin_group
                .clone()
                .or(d.admin_group)
                .filter(|g| !g.is_empty()),
            shutdown_grace: d.shutdown_grace.unwrap_or(Duration::from_secs(10)),
            log_level,
            log_format,
            log_target,
            max_connections,
            handshake_timeout,
            idle_timeout,
            job_runs_keep,
            session_ttl,
            fail2ban,
            allowlist,
            geo,
            blocklist,
            history_retention_days,
            jobs,
            layers: Arc::new(layers),
        })
    }

    /// The SQLite database inside the state directory.
    pub fn database_path(&self) -> PathBuf {
        self.state_dir.join("bangui.db")
    }

    /// The single-instance lock file inside the state directory.
    pub fn lock_path(&self) -> PathBuf {
        self.state_dir.join("bangui.lock")
    }
}

fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

fn positive(
    value: Option<Duration>,
    default: Duration,
    key: &str,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(default);
    if value.is_zero() {
        return Err(invalid(key, "must be longer than zero".into()));
    }
    Ok(value)
}

/// A name bangui puts in fail2ban's configuration, requests, logs and
/// tables: 1-64 letters, digits, `-`, `_` and `.`.
pub fn check_identifier(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a {what} name (1-64 letters, digits, - _ .)",
            name.chars().take(64).collect::<String>()
        ))
    }
}

/// A jail name, wherever it is given (the file, a source, a request): it
/// becomes a word of a fail2ban command, so fail2ban's own setting names
/// are refused too.
pub fn check_jail_name(name: &str) -> Result<(), String> {
    check_identifier("jail", name)?;
    if crate::fail2ban::SERVER_SETTINGS.contains(&name) {
        return Err(format!(
            "`{name}` is one of fail2ban's server settings, not a jail name"
        ));
    }
    Ok(())
}

/// Largest `ban_chunk`: bigger requests freeze fail2ban's socket for seconds.
const MAX_BAN_CHUNK: usize = 20_000;

fn fail2ban_config(
    f: file::Fail2banSection,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<Fail2banConfig, ConfigError> {
    let jail_name = |key: &str, value: Option<String>, default: &str| {
        let name = value.unwrap_or_else(|| default.to_string());
        check_jail_name(&name)
            .map(|()| name)
            .map_err(|e| invalid(key, e))
    };
    let ban_chunk = f.ban_chunk.unwrap_or(100);
    if ban_chunk == 0 || ban_chunk > MAX_BAN_CHUNK {
        return Err(invalid(
            "fail2ban.ban_chunk",
            format!("must be between 1 and {MAX_BAN_CHUNK}"),
        ));
    }
    let ban_chunk_max = f.ban_chunk_max.unwrap_or(5000);
    if ban_chunk_max < ban_chunk || ban_chunk_max > MAX_BAN_CHUNK {
        return Err(invalid(
            "fail2ban.ban_chunk_max",
            format!("must be between ban_chunk ({ban_chunk}) and {MAX_BAN_CHUNK}"),
        ));
    }
    let max_reply = f.max_reply.unwrap_or(64 * 1024 * 1024);
    if max_reply < 64 * 1024 {
        return Err(invalid(
            "fail2ban.max_reply",
            "must be at least 65536 bytes".into(),
        ));
    }
    Ok(Fail2banConfig {
        socket: f
            .socket
            .unwrap_or_else(|| PathBuf::from("/run/fail2ban/fail2ban.sock")),
        config_dir: f
            .config_dir
            .unwrap_or_else(|| PathBuf::from("/etc/fail2ban")),
        manage_jails: f.manage_jails.unwrap_or(true),
        firewall: f.firewall.unwrap_or(Firewall::Auto),
        manual_jail: jail_name("fail2ban.manual_jail", f.manual_jail, "bangui-manual")?,
        manual_bantime: positive(
            f.manual_bantime,
            Duration::from_secs(24 * 3600),
            "fail2ban.manual_bantime",
            invalid,
        )?,
        blocklist_jail: jail_name(
            "fail2ban.blocklist_jail",
            f.blocklist_jail,
            "bangui-blocklist",
        )?,
        blocklist_bantime: positive(
            f.blocklist_bantime,
            Duration::from_secs(7 * 24 * 3600),
            "fail2ban.blocklist_bantime",
            invalid,
        )?,
        ban_chunk,
        ban_chunk_max,
        ban_request_time: f.ban_request_time.unwrap_or(Duration::from_millis(50)),
        request_timeout: positive(
            f.request_timeout,
            Duration::from_secs(30),
            "fail2ban.request_timeout",
            invalid,
        )?,
        max_reply,
        database: match f.database {
            Some(p) if p.as_os_str().is_empty() => None,
            Some(p) if !p.is_absolute() => {
                return Err(invalid(
                    "fail2ban.database",
                    format!("{} is not an absolute path", p.display()),
                ));
            }
            other => other,
        },
    })
}

fn allowlist_config(
    a: file::AllowlistSection,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<AllowlistConfig, ConfigError> {
    let mut networks = Vec::new();
    for entry in a.networks.unwrap_or_default() {
        let target = crate::targets::Target::parse(&entry)
            .map_err(|e| invalid("allowlist.networks", e.to_string()))?;
        networks.push(target.net());
    }
    Ok(AllowlistConfig {
        networks,
        private_ranges: a.private_ranges.unwrap_or(true),
        reserved_ranges: a.reserved_ranges.unwrap_or(true),
        own_addresses: a.own_addresses.unwrap_or(true),
    })
}

fn merge_jobs(
    defaults: &[JobSpec],
    mut sections: BTreeMap<String, JobSection>,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<Vec<JobSpec>, ConfigError> {
    let mut jobs = Vec::with_capacity(defaults.len());
    for default in defaults {
        let mut spec = default.clone();
        if let Some(section) = sections.remove(&spec.id) {
            let key = |field: &str| format!("jobs.{}.{field}", spec.id);
            spec.interval = positive(section.interval, spec.interval, &key("interval"), invalid)?;
            spec.timeout = positive(section.timeout, spec.timeout, &key("timeout"), invalid)?;
            // A default first run "one interval after start" follows a changed interval.
            let follows_interval = default.first_delay == default.interval;
            spec.first_delay = match section.first_delay {
                Some(d) => d,
                None if follows_interval => spec.interval,
                None => spec.first_delay,
            };
            spec.enabled = section.enabled.unwrap_or(spec.enabled);
        }
        jobs.push(spec);
    }
    if let Some(unknown) = sections.keys().next() {
        let known: Vec<&str> = defaults.iter().map(|j| j.id.as_str()).collect();
        return Err(invalid(
            &format!("jobs.{unknown}"),
            format!("no such job; the jobs are {}", known.join(", ")),
        ));
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests;
