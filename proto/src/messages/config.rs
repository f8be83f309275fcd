use serde::{Deserialize, Serialize};

/// Where a configuration value came from. Later layers win: default, file,
/// persisted (`bangui-ctl config set`), environment, flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueSource {
    Default,
    File,
    Persisted,
    Environment,
    Flag,
}

impl ValueSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueSource::Default => "default",
            ValueSource::File => "file",
            ValueSource::Persisted => "persisted",
            ValueSource::Environment => "environment",
            ValueSource::Flag => "flag",
        }
    }
}

/// One setting as the daemon runs with it. Values are TOML, as in the file;
/// credentials inside URLs are never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// Dotted, as `config set` takes it: `daemon.log_level`, `jobs.history_sync.interval`.
    pub key: String,
    pub value: String,
    pub source: ValueSource,
    /// `config set` may persist it (not the paths that locate the database and socket).
    pub settable: bool,
    /// The value and source the next start will use, when they differ from the running ones.
    pub next_start: Option<PendingValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingValue {
    pub value: String,
    pub source: ValueSource,
}

/// A persisted setting the daemon did not use at start, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoredSetting {
    pub key: String,
    pub value: String,
    pub reason: String,
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigView {
    /// The file that was read, if any.
    pub config_file: Option<String>,
    pub entries: Vec<ConfigEntry>,
    /// Blocklist sources named in the file (see `blocklist list`).
    pub file_sources: u32,
    pub ignored: Vec<IgnoredSetting>,
}

/// Persists `value` (TOML, or plain text for strings and durations) for `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSetting {
    pub key: String,
    pub value: String,
}

/// Forgets the persisted value of `key`; the file or default applies again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsetSetting {
    pub key: String,
}

/// When a changed setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applies {
    /// In effect already (applied live, or the running value was the same).
    Now,
    /// At the next start of the daemon.
    NextStart,
    /// Persisted, but an environment variable or flag wins while it is given.
    Shadowed(ValueSource),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingChanged {
    pub key: String,
    /// The value now persisted; None after `unset`.
    pub persisted: Option<String>,
    /// The value the key takes from the layers as they now stand, and from where.
    pub value: String,
    pub source: ValueSource,
    pub applies: Applies,
}
