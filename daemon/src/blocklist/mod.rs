//! Blocklist imports: sources, scheduled and manual runs, plans, removal.
//!
//! One import runs at a time (a mutex), so two runs never work on one jail's
//! records at once; `bangui-ctl ban` is independent of it.

mod aggregate;
pub mod decode;
pub mod destination;
pub mod fetch;
mod import;
pub mod parse;
pub mod persisted;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use bangui_proto::messages::{AddSource, ImportPlan, ImportRunInfo, SourceInfo, SourceRemoved};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::bans::Bans;
use crate::clock::Clock;
use crate::config::{BlocklistConfig, SourceConfig, blocklist as checks};
use crate::geo::Geo;
use crate::store::{Db, StoreError};
use store::SourceRow;

/// Newest import runs kept per source.
const RUNS_KEEP: u32 = 100;
/// A failed source is retried after 15 min, doubling per failure, at most its interval.
const RETRY_BASE_SECS: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    #[error("no blocklist source `{0}`")]
    NotFound(String),
    #[error("a blocklist source `{0}` exists already")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("source `{0}` comes from the config file; change it there")]
    FromConfig(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Deps {
    pub db: Db,
    pub bans: Bans,
    pub geo: Geo,
    pub clock: Clock,
    pub config: BlocklistConfig,
    pub default_jail: String,
    pub stop: CancellationToken,
}

pub(crate) struct Inner {
    db: Db,
    bans: Bans,
    geo: Geo,
    clock: Clock,
    config: BlocklistConfig,
    default_jail: String,
    fetcher: fetch::Fetcher,
    one_at_a_time: tokio::sync::Mutex<()>,
    /// When each jail's records were last compared with fail2ban's whole banned list.
    verified: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

#[derive(Clone)]
pub struct Blocklists {
    inner: Arc<Inner>,
}

fn row_from_config(s: &SourceConfig) -> SourceRow {
    SourceRow {
        reach: s.reach,
        secret_path: s.secret_path,
        format: s.format.clone(),
        ..SourceRow::new(
            s.name.clone(),
            s.url.clone(),
            s.jail.clone(),
            s.interval.as_secs(),
            s.max_entries,
            s.enabled,
            "config",
        )
    }
}

/// A `file://` source must name a file that is there now.
fn check_file_exists(url: &str) -> Result<(), BlocklistError> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    if parsed.scheme() != "file" {
        return Ok(());
    }
    let Ok(path) = parsed.to_file_path() else {
        return Ok(());
    };
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(BlocklistError::Invalid(format!(
            "url: {} is not a regular file (links, FIFOs and devices are refused)",
            path.display()
        ))),
        Err(e) => Err(BlocklistError::Invalid(format!(
            "url: cannot read {}: {}; create the file first, or check the path",
            path.display(),
            bangui_proto::errors::io_text(&e)
        ))),
    }
}

impl Blocklists {
    /// Marks imports a dead daemon left running as interrupted and brings the
    /// config file's sources into the table.
    pub async fn new(deps: Deps) -> Result<Blocklists, String> {
        let fetcher = fetch::Fetcher::new(&deps.config)?;
        let inner = Arc::new(Inner {
            db: deps.db,
            bans: deps.bans,
            geo: deps.geo,
            clock: deps.clock,
            config: deps.config,
            default_jail: deps.default_jail,
            fetcher,
            one_at_a_time: tokio::sync::Mutex::new(()),
            verified: std::sync::Mutex::new(std::collections::HashMap::new()),
            stop: deps.stop,
            tasks: TaskTracker::new(),
        });
        let blocklists = Blocklists { inner };
        let now = blocklists.inner.clock.now_unix();
        let interrupted = blocklists
            .inner
            .db
            .call(move |conn| store::mark_interrupted(conn, now))
            .await
            .map_err(|e| e.to_string())?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "imports left unfinished by the previous daemon marked interrupted"
            );
        }
        let sources = blocklists.inner.config.sources.clone();
        blocklists
            .sync_file_sources(&sources)
            .await
            .map_err(|e| e.to_string())?;
        Ok(blocklists)
    }

    /// Brings the config file's sources into the table: new ones added,
    /// changed ones updated, ones the file no longer names removed (their
    /// bans left to expire). Sources added with `blocklist add` are untouched.
    pub async fn sync_file_sources(&self, sources: &[SourceConfig]) -> Result<(), StoreError> {
        let wanted: Vec<SourceRow> = sources.iter().map(row_from_config).collect();
        let default_jail = self.inner.default_jail.clone();
        let now = self.inner.clock.now_unix();
        let dropped = self
            .inner
            .db
            .call(move |conn| {
                let mut dropped = Vec::new();
                for existing in store::sources(conn)? {
                    let still = wanted.iter().any(|w| w.name == existing.name);
                    if existing.origin == "config" && !still {
                        let jail = existing
                            .jail
                            .clone()
                            .unwrap_or_else(|| default_jail.clone());
                        store::delete_source(conn, &existing.name, &jail, &default_jail)?;
                        dropped.push(existing.name);
                    }
                }
                for w in &wanted {
                    match store::source(conn, &w.name)? {
                        None => store::insert_source(conn, w, now)?,
                        Some(_) => store::update_definition(conn, w)?,
                    }
                }
                Ok(dropped)
            })
            .await?;
        for name in dropped {
            tracing::info!(source = %name, "source no longer in the config file: removed, its bans left to expire");
        }
        Ok(())
    }

    fn jail_of(&self, s: &SourceRow) -> String {
        s.jail
            .clone()
            .unwrap_or_else(|| self.inner.default_jail.clone())
    }

    async fn get(&self, name: &str) -> Result<SourceRow, BlocklistError> {
        let n = name.to_string();
        self.inner
            .db
            .call(move |conn| store::source(conn, &n))
            .await?
            .ok_or_else(|| BlocklistError::NotFound(name.to_string()))
    }

    fn next_run_at(&self, s: &SourceRow) -> Option<i64> {
        if !s.enabled {
            return None;
        }
        let interval = i64::try_from(s.interval_secs).unwrap_or(i64::MAX);
        let Some(last) = s.last_attempt_at else {
            return Some(self.inner.clock.now_unix());
        };
        let wait = if s.failure_streak == 0 {
            interval
        } else {
            let shift = (s.failure_streak - 1).min(20);
            (RETRY_BASE_SECS << shift).min(interval)
        };
        Some(last.saturating_add(wait))
    }

    async fn info(&self, s: SourceRow) -> Result<SourceInfo, BlocklistError> {
        let jail = self.jail_of(&s);
        let (name, j) = (s.name.clone(), jail.clone());
        let (listed, banned, last_run) = self
            .inner
            .db
            .call(move |conn| {
                Ok((
                    store::count_entries(conn, &name)?,
                    store::count_banned(conn, &name, &j)?,
                    store::last_run(conn, &name)?,
                ))
            })
            .await?;
        Ok(SourceInfo {
            url: s.shown_url(),
            local: s.reach == fetch::Reach::Local,
            secret_path: s.secret_path,
            format: s.format.wire(),
            next_run_at: self.next_run_at(&s),
            jail,
            interval_secs: s.interval_secs,
            max_entries: s.max_entries,
            enabled: s.enabled,
            origin: s.origin,
            listed,
            banned,
            failure_streak: s.failure_streak,
            last_success_at: s.last_success_at,
            last_run,
            name: s.name,
            enforcement: None,
        })
    }

    pub async fn add(&self, req: AddSource) -> Result<SourceInfo, BlocklistError> {
        let cfg = &self.inner.config;
        checks::check_name(&req.name).map_err(BlocklistError::Invalid)?;
        checks::check_url(&req.url).map_err(|e| BlocklistError::Invalid(format!("url: {e}")))?;
        let interval = req
            .interval_secs
            .map(Duration::from_secs)
            .unwrap_or(cfg.default_interval);
        checks::check_interval(interval)
            .map_err(|e| BlocklistError::Invalid(format!("interval: {e}")))?;
        let max_entries = req.max_entries.unwrap_or(cfg.default_max_entries);
        checks::check_max_entries(max_entries)
            .map_err(|e| BlocklistError::Invalid(format!("max entries: {e}")))?;
        if let Some(jail) = &req.jail {
            crate::config::check_jail_name(jail).map_err(BlocklistError::Invalid)?;
            self.check_jail_exists(jail).await?;
        }
        checks::check_file_url(&req.url, &cfg.file_dir)
            .map_err(|e| BlocklistError::Invalid(format!("url: {e}")))?;
        check_file_exists(&req.url)?;
        let reach = if req.local {
            fetch::Reach::Local
        } else {
            fetch::Reach::Public
        };
        checks::check_reach(&req.url, reach)
            .map_err(|e| BlocklistError::Invalid(format!("url: {e}")))?;
        let format = parse::Format::checked(&req.format).map_err(|e| {
            BlocklistError::Invalid(format!("--{}: {}", e.key.replace('_', "-"), e.why))
        })?;
        let row = SourceRow {
            reach,
            secret_path: req.secret_path,
            format,
            ..SourceRow::new(
                req.name.clone(),
                req.url,
                req.jail,
                interval.as_secs(),
                max_entries,
                true,
                "ctl",
            )
        };
        let now = self.inner.clock.now_unix();
        let r = row.clone();
        let inserted = self
            .inner
            .db
            .call(move |conn| {
                if store::source(conn, &r.name)?.is_some() {
                    return Ok(false);
                }
                store::insert_source(conn, &r, now)?;
                Ok(true)
            })
            .await?;
        if !inserted {
            return Err(BlocklistError::Exists(req.name));
        }
        tracing::info!(source = %row.name, url = %row.shown_url(), "blocklist source added");
        self.info(row).await
    }

    /// A source's jail must be one fail2ban runs: bans into a missing jail
    /// fail at every import. When fail2ban cannot be asked, the source is
    /// added and `status` flags the jail later if it is missing.
    async fn check_jail_exists(&self, jail: &str) -> Result<(), BlocklistError> {
        match self.inner.bans.fail2ban().jails().await {
            Ok(jails) if jails.iter().any(|j| j == jail) => Ok(()),
            Ok(_) => Err(BlocklistError::Invalid(format!(
                "fail2ban has no jail `{jail}`: define it (for example in /etc/fail2ban/jail.d/{jail}.conf) and run `fail2ban-client reload`, or leave out --jail to ban into {}",
                self.inner.default_jail
            ))),
            Err(e) => {
                tracing::warn!(jail, error = %e, "cannot ask fail2ban whether the jail exists; adding the source anyway");
                Ok(())
            }
        }
    }

    /// The jails the enabled sources ban into.
    pub async fn jails_in_use(&self) -> Result<Vec<String>, BlocklistError> {
        let rows = self.inner.db.call(|conn| store::sources(conn)).await?;
        let mut jails: Vec<String> = rows
            .iter()
            .filter(|s| s.enabled)
            .map(|s| self.jail_of(s))
            .collect();
        jails.sort();
        jails.dedup();
        Ok(jails)
    }

    pub async fn list(&self) -> Result<Vec<SourceInfo>, BlocklistError> {
        let rows = self.inner.db.call(|conn| store::sources(conn)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.info(row).await?);
        }
        Ok(out)
    }

    pub async fn show(&self, name: &str) -> Result<SourceInfo, BlocklistError> {
        let row = self.get(name).await?;
        self.info(row).await
    }

    pub async fn enable(&self, name: &str, enabled: bool) -> Result<SourceInfo, BlocklistError> {
        let row = self.get(name).await?;
        if row.origin == "config" {
            return Err(BlocklistError::FromConfig(name.to_string()));
        }
        let n = name.to_string();
        self.inner
            .db
            .call(move |conn| store::set_enabled(conn, &n, enabled))
            .await?;
        tracing::info!(source = %name, enabled, "blocklist source switched");
        self.show(name).await
    }

    /// Removes a source; with `unban`, first lifts the bans no other enabled
    /// source in its jail still asks for.
    pub async fn remove(&self, name: &str, unban: bool) -> Result<SourceRemoved, BlocklistError> {
        let row = self.get(name).await?;
        if row.origin == "config" {
            return Err(BlocklistError::FromConfig(name.to_string()));
        }
        let jail = self.jail_of(&row);
        let _one = self.inner.one_at_a_time.lock().await;
        let mut removed = SourceRemoved {
            name: name.to_string(),
            unbanned: 0,
            deferred: 0,
            error: None,
        };
        if unban {
            let now = self.inner.clock.now_unix();
            let mut run = import::new_run(&row, &jail, "remove", now);
            match self.unban_source(&row, &jail, &mut run).await {
                Ok(()) => {}
                Err(e) => removed.error = Some(e),
            }
            removed.unbanned = run.unbanned;
            removed.deferred = run.deferred;
            if removed.unbanned > 0 {
                self.inner.bans.refresh_health().await;
            }
            if removed.error.is_some() {
                // Keep the source: its records say what is still banned.
                return Ok(removed);
            }
        }
        let (n, j, d) = (name.to_string(), jail, self.inner.default_jail.clone());
        let released = self
            .inner
            .db
            .call(move |conn| store::delete_source(conn, &n, &j, &d))
            .await?;
        tracing::info!(source = %name, unbanned = removed.unbanned, released, "blocklist source removed");
        Ok(removed)
    }

    async fn unban_source(
        &self,
        row: &SourceRow,
        jail: &str,
        run: &mut ImportRunInfo,
    ) -> Result<(), String> {
        let inner = &self.inner;
        let changes = import::changes(inner, &row.name, jail, &[]).await?;
        let snapshot = run.clone();
        run.id = inner
            .db
            .call(move |conn| store::insert_run(conn, &snapshot))
            .await
            .map_err(|e| e.to_string())?;
        // Only the unbans: the list is going, nothing is to be banned.
        let changes = import::Changes {
            added: Vec::new(),
            to_send: Vec::new(),
            adopt: Vec::new(),
            ..changes
        };
        let result = import::apply(inner, run, changes, &inner.stop).await;
        run.status = if result.is_ok() {
            "completed"
        } else {
            "failed"
        }
        .into();
        run.error = result.as_ref().err().cloned();
        run.finished_at = Some(inner.clock.now_unix());
        let snapshot = run.clone();
        let _ = inner
            .db
            .call(move |conn| store::finish_run(conn, &snapshot, RUNS_KEEP))
            .await;
        result
    }

    pub async fn runs(
        &self,
        source: Option<String>,
        running: bool,
        limit: u32,
    ) -> Result<Vec<ImportRunInfo>, BlocklistError> {
        if let Some(name) = &source {
            self.get(name).await?;
        }
        Ok(self
            .inner
            .db
            .call(move |conn| store::runs(conn, source.as_deref(), running, limit))
            .await?)
    }

    /// The sources a run of `name` (or of all enabled sources) covers.
    async fn targets_of(&self, name: Option<&str>) -> Result<Vec<SourceRow>, BlocklistError> {
        match name {
            Some(n) => Ok(vec![self.get(n).await?]),
            None => Ok(self
                .inner
                .db
                .call(|conn| store::sources(conn))
                .await?
                .into_iter()
                .filter(|s| s.enabled)
                .collect()),
        }
    }

    /// Imports now, one source after another; returns their records.
    pub async fn run_now(
        &self,
        name: Option<&str>,
        trigger: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<ImportRunInfo>, BlocklistError> {
        let sources = self.targets_of(name).await?;
        let mut out = Vec::new();
        for s in sources {
            if cancel.is_cancelled() {
                break;
            }
            out.push(self.import(s, trigger, cancel).await);
        }
        Ok(out)
    }

    /// Starts imports in the background; returns the sources they cover.
    pub async fn spawn(&self, name: Option<&str>) -> Result<Vec<String>, BlocklistError> {
        let sources = self.targets_of(name).await?;
        let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            let stop = this.inner.stop.clone();
            for s in sources {
                if stop.is_cancelled() {
                    break;
                }
                this.import(s, "manual", &stop).await;
            }
        });
        Ok(names)
    }

    /// Cancelled at shutdown; imports stop between batches.
    pub fn stop_token(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// Waits (at most `grace`) for background imports at shutdown.
    pub async fn wait(&self, grace: Duration) {
        self.inner.tasks.close();
        let _ = tokio::time::timeout(grace, self.inner.tasks.wait()).await;
    }

    /// The scheduled job: imports every enabled source that is due. Returns a
    /// summary and whether any import failed.
    pub async fn run_due(
        &self,
        cancel: &CancellationToken,
    ) -> Result<(String, bool), BlocklistError> {
        let now = self.inner.clock.now_unix();
        let due: Vec<SourceRow> = self
            .inner
            .db
            .call(|conn| store::sources(conn))
            .await?
            .into_iter()
            .filter(|s| self.next_run_at(s).is_some_and(|t| t <= now))
            .collect();
        if due.is_empty() {
            return Ok(("no source due".into(), false));
        }
        let mut parts = Vec::new();
        let mut failed = Vec::new();
        for s in due {
            if cancel.is_cancelled() {
                break;
            }
            let run = self.import(s, "schedule", cancel).await;
            if run.status == "failed" {
                failed.push(run.source.clone());
            }
            parts.push(format!(
                "{}: {} (+{} −{})",
                run.source, run.status, run.banned, run.unbanned
            ));
        }
        if !failed.is_empty() {
            parts.push(format!("failed: {}", failed.join(", ")));
        }
        Ok((parts.join("; "), !failed.is_empty()))
    }

    /// One import, recorded whatever happens.
    async fn import(
        &self,
        source: SourceRow,
        trigger: &str,
        cancel: &CancellationToken,
    ) -> ImportRunInfo {
        let inner = &self.inner;
        let _one = inner.one_at_a_time.lock().await;
        let jail = self.jail_of(&source);
        let now = inner.clock.now_unix();
        let mut run = import::new_run(&source, &jail, trigger, now);
        // Holding the lock, any run still "running" was dropped (a timeout): mark it.
        let snapshot = run.clone();
        match inner
            .db
            .call(move |conn| {
                store::mark_interrupted(conn, now)?;
                store::insert_run(conn, &snapshot)
            })
            .await
        {
            Ok(id) => run.id = id,
            Err(e) => {
                run.status = "failed".into();
                run.error = Some(format!("cannot record the run: {e}"));
                return run;
            }
        }
        let span = tracing::info_span!("import", source = %source.name, import = run.id);
        tracing::info!(parent: &span, jail = %jail, trigger, "import started");
        let result = self
            .import_steps(&source, &jail, &mut run, cancel)
            .instrument(span)
            .await;
        run.finished_at = Some(inner.clock.now_unix());
        let success = match &result {
            Ok((validators, hash)) => {
                let nothing_sent = run.banned == 0 && run.unbanned == 0;
                run.status = if nothing_sent && hash.is_some() && *hash == source.content_sha256 {
                    "unchanged"
                } else {
                    "completed"
                }
                .into();
                Some((validators.clone(), hash.clone()))
            }
            Err(e) => {
                run.status = if cancel.is_cancelled() {
                    "interrupted"
                } else {
                    "failed"
                }
                .into();
                run.error = Some(e.clone());
                None
            }
        };
        let (snapshot, name, when) = (run.clone(), source.name.clone(), inner.clock.now_unix());
        let recorded = inner
            .db
            .call(move |conn| {
                store::finish_run(conn, &snapshot, RUNS_KEEP)?;
                let success = success.as_ref().map(|(v, h)| (v, h.as_deref()));
                store::record_attempt(conn, &name, when, success)
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, source = %source.name, "cannot record the end of an import");
        }
        if run.banned > 0 || run.unbanned > 0 {
            inner.bans.refresh_health().await;
        }
        match &run.error {
            None => tracing::info!(
                source = %source.name, import = run.id, status = %run.status,
                entries = run.entries, banned = run.banned, unbanned = run.unbanned,
                deferred = run.deferred, lost = run.lost, refused = run.refused, invalid = run.invalid,
                "import finished"
            ),
            Some(e) => {
                tracing::warn!(source = %source.name, import = run.id, error = %e, "import failed")
            }
        }
        run
    }

    async fn import_steps(
        &self,
        source: &SourceRow,
        jail: &str,
        run: &mut ImportRunInfo,
        cancel: &CancellationToken,
    ) -> Result<(fetch::Validators, Option<Vec<u8>>), String> {
        let inner = &self.inner;
        let started = std::time::Instant::now();
        let prepared = import::prepare(inner, source, jail, run, true, cancel).await?;
        let prepared_at = started.elapsed();
        // Where the listed addresses come from, worked out in the background
        // from the same list (shared, not copied).
        let wanted = Arc::new(prepared.wanted);
        let (geo, list) = (inner.geo.clone(), Arc::clone(&wanted));
        tokio::task::spawn_blocking(move || geo.prewarm(&list));
        let changes = import::changes(inner, &source.name, jail, &wanted).await?;
        let compared_at = started.elapsed();
        drop(wanted);
        import::apply(inner, run, changes, cancel).await?;
        tracing::info!(
            download_ms = prepared_at.as_millis() as u64,
            compare_ms = (compared_at - prepared_at).as_millis() as u64,
            apply_ms = (started.elapsed() - compared_at).as_millis() as u64,
            "import phases"
        );
        Ok((prepared.validators, prepared.hash))
    }

    /// A dry run: downloads (unconditionally), screens and diffs; sends and stores nothing.
    pub async fn plan(&self, name: &str) -> Result<ImportPlan, BlocklistError> {
        let source = self.get(name).await?;
        let jail = self.jail_of(&source);
        let mut run = import::new_run(&source, &jail, "plan", self.inner.clock.now_unix());
        let cancel = self.inner.stop.child_token();
        let result =
            match import::prepare(&self.inner, &source, &jail, &mut run, false, &cancel).await {
                Ok(p) => import::changes(&self.inner, &source.name, &jail, &p.wanted).await,
                Err(e) => Err(e),
            };
        let (lost, to_ban, to_unban, error) = match result {
            Ok(c) => (
                c.relisted_lost,
                c.to_send.len() as u64,
                c.to_unban.len() as u64,
                None,
            ),
            Err(e) => (0, 0, 0, Some(e)),
        };
        Ok(ImportPlan {
            source: source.name,
            jail,
            download: run.download,
            lines: run.lines,
            entries: run.entries,
            invalid: run.invalid,
            duplicates: run.duplicates,
            too_broad: run.too_broad,
            below_score: run.below_score,
            folded: run.folded,
            refused: run.refused,
            refused_by: run.refused_by,
            over_cap: run.over_cap,
            lost,
            to_ban,
            to_unban,
            samples: run.samples,
            error,
            enforcement: None,
        })
    }
}
