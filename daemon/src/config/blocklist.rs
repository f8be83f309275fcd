//! The `[blocklist]` section: download limits and the sources named in the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bangui_proto::messages::ListFormat;

use super::ConfigError;
use super::file::BlocklistSection;
pub use crate::blocklist::fetch::Reach;

/// A source as the config file (or `bangui-ctl blocklist add`) gives it, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub name: String,
    pub url: String,
    pub interval: Duration,
    pub jail: Option<String>,
    pub max_entries: u64,
    pub enabled: bool,
    /// `local = true`: downloads may reach loopback and private addresses.
    pub reach: Reach,
    /// `secret_path = true`: the URL's path is never shown or logged.
    pub secret_path: bool,
    /// `json_field`, `min_score`, `min_prefix_v4`, `min_prefix_v6`.
    pub format: crate::blocklist::parse::Format,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistConfig {
    pub connect_timeout: Duration,
    /// The whole download, body included.
    pub timeout: Duration,
    pub max_body: u64,
    pub max_redirects: usize,
    /// Further attempts after a failed download, with back-off and jitter.
    pub retries: u32,
    pub default_interval: Duration,
    pub default_max_entries: u64,
    /// The one directory `file://` lists may be read from.
    pub file_dir: PathBuf,
    pub sources: Vec<SourceConfig>,
}

/// Where `file://` lists live unless `blocklist.file_dir` says otherwise.
pub const DEFAULT_FILE_DIR: &str = "/etc/bangui/lists";

/// A `file://` URL's path, if it is one, and whether it lies in `dir`: the
/// root daemon reads list files from there only, so a source cannot make it
/// read /etc/shadow and show its lines.
pub fn check_file_url(url: &str, dir: &Path) -> Result<(), String> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    if parsed.scheme() != "file" {
        return Ok(());
    }
    let path = parsed
        .to_file_path()
        .map_err(|()| "not a local path".to_string())?;
    check_file_path(&path, dir)
}

/// A URL whose host is written as an address must be a public one unless the
/// source is marked local (names are checked when a download resolves them).
pub fn check_reach(url: &str, reach: Reach) -> Result<(), String> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    match reach {
        Reach::Public => {
            crate::blocklist::destination::literal_refusal(&parsed).map_or(Ok(()), Err)
        }
        Reach::Local => Ok(()),
    }
}

/// Whether a list file's path lies in `dir`, without `..` components.
pub fn check_file_path(path: &Path, dir: &Path) -> Result<(), String> {
    let inside = path.starts_with(dir)
        && path
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir));
    if !inside {
        return Err(format!(
            "{} is outside {} (blocklist.file_dir): put list files there, or set blocklist.file_dir in the config file",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}

pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
pub const MAX_ENTRIES_LIMIT: u64 = 10_000_000;

pub fn check_name(name: &str) -> Result<(), String> {
    super::check_identifier("source", name)
}

/// Checks a source URL: http, https or file, with a host or an absolute path.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some() => Ok(()),
        "file" if parsed.to_file_path().is_ok() => Ok(()),
        _ => Err("must be an http://, https:// or file:// URL".into()),
    }
}

/// Longest interval between downloads; anything longer is a mistake (and a
/// value from the wire near u64::MAX would not survive the database).
const MAX_INTERVAL: Duration = Duration::from_secs(366 * 24 * 3600);

pub fn check_interval(interval: Duration) -> Result<(), String> {
    if interval < MIN_INTERVAL {
        return Err("must be at least 1 minute".into());
    }
    if interval > MAX_INTERVAL {
        return Err("must be at most 366 days".into());
    }
    Ok(())
}

pub fn check_max_entries(n: u64) -> Result<(), String> {
    if n == 0 || n > MAX_ENTRIES_LIMIT {
        return Err(format!("must be between 1 and {MAX_ENTRIES_LIMIT}"));
    }
    Ok(())
}

pub fn blocklist_config(
    b: BlocklistSection,
    invalid: &impl Fn(&str, String) -> ConfigError,
) -> Result<BlocklistConfig, ConfigError> {
    let positive = |v: Option<Duration>, default: Duration, key: &str| {
        let v = v.unwrap_or(default);
        if v.is_zero() {
            Err(invalid(key, "must be longer than zero".into()))
        } else {
            Ok(v)
        }
    };
    let default_interval = b.default_interval.unwrap_or(Duration::from_secs(24 * 3600));
    check_interval(default_interval).map_err(|e| invalid("blocklist.default_interval", e))?;
    let default_max_entries = b.default_max_entries.unwrap_or(1_000_000);
    check_max_entries(default_max_entries)
        .map_err(|e| invalid("blocklist.default_max_entries", e))?;
    let max_body = b.max_body.unwrap_or(128 * 1024 * 1024);
    if max_body < 1024 {
        return Err(invalid(
            "blocklist.max_body",
            "must be at least 1024 bytes".into(),
        ));
    }
    let max_redirects = b.max_redirects.unwrap_or(5);
    if max_redirects > 20 {
        return Err(invalid(
            "blocklist.max_redirects",
            "must be at most 20".into(),
        ));
    }
    let retries = b.retries.unwrap_or(2);
    if retries > 10 {
        return Err(invalid("blocklist.retries", "must be at most 10".into()));
    }
    let file_dir = b
        .file_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE_DIR));
    if !file_dir.is_absolute() {
        return Err(invalid(
            "blocklist.file_dir",
            format!("{} is not an absolute path", file_dir.display()),
        ));
    }
    let mut sources: Vec<SourceConfig> = Vec::new();
    for (i, s) in b.source.into_iter().enumerate() {
        let key = |field: &str| format!("blocklist.source[{i}].{field}");
        check_name(&s.name).map_err(|e| invalid(&key("name"), e))?;
        if sources.iter().any(|o| o.name == s.name) {
            return Err(invalid(
                &key("name"),
                format!("`{}` is named twice", s.name),
            ));
        }
        check_url(&s.url).map_err(|e| invalid(&key("url"), e))?;
        check_file_url(&s.url, &file_dir).map_err(|e| invalid(&key("url"), e))?;
        let reach = if s.local.unwrap_or(false) {
            Reach::Local
        } else {
            Reach::Public
        };
        check_reach(&s.url, reach).map_err(|e| invalid(&key("url"), e))?;
        let interval = s.interval.unwrap_or(default_interval);
        check_interval(interval).map_err(|e| invalid(&key("interval"), e))?;
        if let Some(jail) = &s.jail {
            super::check_jail_name(jail).map_err(|e| invalid(&key("jail"), e))?;
        }
        let max_entries = s.max_entries.unwrap_or(default_max_entries);
        check_max_entries(max_entries).map_err(|e| invalid(&key("max_entries"), e))?;
        let format = crate::blocklist::parse::Format::checked(&ListFormat {
            json_field: s.json_field,
            min_score: s.min_score,
            min_prefix_v4: s.min_prefix_v4,
            min_prefix_v6: s.min_prefix_v6,
        })
        .map_err(|e| invalid(&key(e.key), e.why))?;
        sources.push(SourceConfig {
            name: s.name,
            url: s.url,
            interval,
            jail: s.jail,
            max_entries,
            enabled: s.enabled.unwrap_or(true),
            reach,
            secret_path: s.secret_path.unwrap_or(false),
            format,
        });
    }
    Ok(BlocklistConfig {
        connect_timeout: positive(
            b.connect_timeout,
            Duration::from_secs(10),
            "blocklist.connect_timeout",
        )?,
        timeout: positive(b.timeout, Duration::from_secs(300), "blocklist.timeout")?,
        max_body,
        max_redirects,
        retries,
        default_interval,
        default_max_entries,
        file_dir,
        sources,
    })
}
