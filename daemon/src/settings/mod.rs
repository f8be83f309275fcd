//! Runtime settings: `config show`, `config set` and `config unset`.
//!
//! A setting is validated by rebuilding the whole configuration with it, then
//! persisted; the few values that can change while running (log level,
//! session lifetime, job schedules) change at once, the rest at the next start.

pub mod store;

use std::collections::BTreeMap;

use bangui_proto::messages::{
    Applies, ConfigEntry, ConfigView, IgnoredSetting, PendingValue, SettingChanged, ValueSource,
};
use tokio::sync::Mutex;

use crate::allowlist::Allowlist;
use crate::bans::Bans;
use crate::blocklist::Blocklists;
use crate::clock::Clock;
use crate::config::{Config, Ignored, parse_value, settable};
use crate::logging::LogControl;
use crate::scheduler::Scheduler;
use crate::sessions::Sessions;
use crate::store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error("`{0}` has no persisted value; nothing to unset")]
    NotPersisted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a reload of the config file changed.
#[derive(Debug, Default)]
pub struct Reloaded {
    /// Keys now in effect.
    pub applied: Vec<String>,
    /// Keys that change at the next start.
    pub pending: Vec<String>,
    /// The file's blocklist sources were brought into the table.
    pub sources_synced: bool,
}

/// What a live change reaches.
pub struct Live {
    pub scheduler: Scheduler,
    pub sessions: Sessions,
    pub bans: Bans,
    pub blocklists: Blocklists,
    /// None when logging was set up by someone else (then the level changes at the next start).
    pub log: Option<LogControl>,
}

pub struct Settings {
    db: Db,
    clock: Clock,
    live: Live,
    state: Mutex<State>,
}

struct State {
    /// The layers as they stand now: what the next start will run with.
    next: Config,
    /// What the daemon runs with, by key.
    running: BTreeMap<String, (toml::Value, ValueSource)>,
    ignored: Vec<Ignored>,
}

/// A value as it may be shown to any reader: credentials in URLs hidden.
pub fn shown(key: &str, value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) if key.ends_with("url") => {
            toml::Value::String(crate::urls::redacted(s)).to_string()
        }
        other => other.to_string(),
    }
}

fn by_key(config: &Config) -> BTreeMap<String, (toml::Value, ValueSource)> {
    config
        .entries()
        .into_iter()
        .map(|e| (e.key, (e.value, e.source)))
        .collect()
}

impl Settings {
    /// `config` is what the daemon started with, persisted settings included.
    pub fn new(db: Db, clock: Clock, config: &Config, live: Live) -> Settings {
        Settings {
            db,
            clock,
            live,
            state: Mutex::new(State {
                running: by_key(config),
                ignored: config.layers.ignored.clone(),
                next: config.clone(),
            }),
        }
    }

    pub async fn show(&self) -> ConfigView {
        let state = self.state.lock().await;
        let entries = by_key(&state.next)
            .into_iter()
            .map(|(key, (value, source))| {
                let (now_value, now_source) = state
                    .running
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| (value.clone(), source));
                let next_start = (now_value != value).then(|| PendingValue {
                    value: shown(&key, &value),
                    source,
                });
                ConfigEntry {
                    value: shown(&key, &now_value),
                    source: now_source,
                    settable: settable(&key),
                    next_start,
                    key,
                }
            })
            .collect();
        ConfigView {
            config_file: state
                .next
                .config_file
                .as_ref()
                .map(|p| p.display().to_string()),
            entries,
            file_sources: u32::try_from(state.next.blocklist.sources.len()).unwrap_or(u32::MAX),
            ignored: state
                .ignored
                .iter()
                .map(|i| IgnoredSetting {
                    key: i.key.clone(),
                    value: shown(&i.key, &i.value),
                    reason: i.reason.clone(),
                })
                .collect(),
        }
    }

    pub async fn set(
        &self,
        uid: u32,
        key: &str,
        text: &str,
    ) -> Result<SettingChanged, SettingsError> {
        let mut state = self.state.lock().await;
        let parsed = parse_value(text);
        let (next, value) = match state.next.with_setting(key, Some(parsed.clone())) {
            Ok(next) => (next, parsed),
            // Text that happens to read as TOML (a group named "1000") may be meant as text.
            Err(first) if !parsed.is_str() => {
                let as_text = toml::Value::String(text.to_string());
                match state.next.with_setting(key, Some(as_text.clone())) {
                    Ok(next) => (next, as_text),
                    Err(_) => return Err(SettingsError::Invalid(first)),
                }
            }
            Err(reason) => return Err(SettingsError::Invalid(reason)),
        };
        let now = self.clock.now_unix();
        let (k, v) = (key.to_string(), value.clone());
        self.db
            .call(move |conn| Ok(store::put(conn, &k, &v, now, uid)?))
            .await?;
        Ok(self.adopt(&mut state, next, key, Some(&value), uid))
    }

    pub async fn unset(&self, uid: u32, key: &str) -> Result<SettingChanged, SettingsError> {
        let mut state = self.state.lock().await;
        let known = state.next.layers.persisted.contains_key(key)
            || state.ignored.iter().any(|i| i.key == key);
        if !known {
            return Err(SettingsError::NotPersisted(key.to_string()));
        }
        let next = state
            .next
            .with_setting(key, None)
            .map_err(SettingsError::Invalid)?;
        let k = key.to_string();
        self.db
            .call(move |conn| Ok(store::delete(conn, &k)?))
            .await?;
        Ok(self.adopt(&mut state, next, key, None, uid))
    }

    /// Re-reads the config file (SIGHUP), lays the persisted settings over
    /// it and applies what can change live. An invalid file changes nothing.
    pub async fn reload(&self) -> Result<Reloaded, String> {
        let mut state = self.state.lock().await;
        let layers = &state.next.layers;
        let file = Config::load(&layers.defaults, &layers.overrides, &layers.job_defaults)
            .map_err(|e| e.to_string())?;
        crate::resolve_groups(&file).map_err(|e| e.to_string())?;
        let next = file.with_persisted(layers.persisted.clone());
        let sources_changed = next.blocklist.sources != state.next.blocklist.sources;
        if sources_changed {
            self.live
                .blocklists
                .sync_file_sources(&next.blocklist.sources)
                .await
                .map_err(|e| format!("cannot bring the file's blocklist sources in: {e}"))?;
        }
        state.ignored = next.layers.ignored.clone();
        let (applied, pending) = self.apply_changes(&mut state, next);
        Ok(Reloaded {
            applied,
            pending,
            sources_synced: sources_changed,
        })
    }

    /// Makes `next` the standing configuration and applies every changed key
    /// that can change live; returns the keys applied and those left pending.
    fn apply_changes(&self, state: &mut State, next: Config) -> (Vec<String>, Vec<String>) {
        let (mut applied, mut pending) = (Vec::new(), Vec::new());
        for (k, (value, source)) in by_key(&next) {
            let same_value = state.running.get(&k).is_some_and(|(v, _)| *v == value);
            if same_value {
                state.running.insert(k, (value, source));
            } else if self.apply_live(&next, &k) {
                state.running.insert(k.clone(), (value, source));
                applied.push(k);
            } else {
                pending.push(k);
            }
        }
        state.next = next;
        (applied, pending)
    }

    /// Makes `next` the standing configuration after a set or unset of `key`.
    fn adopt(
        &self,
        state: &mut State,
        next: Config,
        key: &str,
        persisted: Option<&toml::Value>,
        uid: u32,
    ) -> SettingChanged {
        state.ignored.retain(|i| i.key != key);
        self.apply_changes(state, next);
        let (value, source) = by_key(&state.next)
            .remove(key)
            .unwrap_or((toml::Value::String(String::new()), ValueSource::Default));
        let applies = match source {
            ValueSource::Environment | ValueSource::Flag => Applies::Shadowed(source),
            _ if state.running.get(key).is_some_and(|(v, _)| *v == value) => Applies::Now,
            _ => Applies::NextStart,
        };
        let persisted = persisted.map(|v| shown(key, v));
        tracing::info!(
            key,
            persisted = persisted.as_deref().unwrap_or("(unset)"),
            uid,
            applies = ?applies,
            "runtime setting changed"
        );
        SettingChanged {
            key: key.to_string(),
            persisted,
            value: shown(key, &value),
            source,
            applies,
        }
    }

    /// Applies `key` from `next` to the running daemon, if it can change live.
    fn apply_live(&self, next: &Config, key: &str) -> bool {
        match key {
            "sessions.default_ttl" => {
                self.live.sessions.set_default_ttl(next.session_ttl);
                true
            }
            "daemon.log_level" => match &self.live.log {
                Some(log) => match log.set_level(&next.log_level) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot change the log level while running");
                        false
                    }
                },
                None => false,
            },
            k if k.starts_with("allowlist.") => {
                let a = &next.allowlist;
                self.live.bans.set_allowlist(Allowlist::new(
                    a.networks.clone(),
                    a.private_ranges,
                    a.reserved_ranges,
                    a.own_addresses,
                ));
                true
            }
            _ => {
                let Some(id) = key.strip_prefix("jobs.").and_then(|k| k.split('.').next()) else {
                    return false;
                };
                next.jobs
                    .iter()
                    .find(|j| j.id == id)
                    .is_some_and(|spec| self.live.scheduler.update_spec(spec.clone()))
            }
        }
    }
}
