//! Ban history: fail2ban's `bans` table copied into bangui's archive by the
//! history_sync job, and the queries over it.

mod own;
pub mod source;
pub mod store;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bangui_proto::messages::{
    HistoryGroupQuery, HistoryIpInfo, HistoryPage, HistoryQuery, HistoryStatsInfo, MAX_PAGE,
};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::fail2ban::Fail2ban;
use crate::geo::Geo;
use crate::store::{Db, StoreError};
use source::{Fail2banDb, SourceError};

/// How long a read waits for fail2ban's own writes before giving up this round.
const BUSY: Duration = Duration::from_secs(2);
const DAY: i64 = 24 * 3600;
/// Archive rows per transaction.
const WRITE_ROWS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Deps {
    pub db: Db,
    pub fail2ban: Arc<Fail2ban>,
    pub geo: Geo,
    pub clock: Clock,
    /// fail2ban's database; None: ask fail2ban (`get dbfile`).
    pub database: Option<PathBuf>,
    pub retention_days: u32,
    /// The jail of sources that name none (`fail2ban.blocklist_jail`).
    pub default_jail: String,
}

#[derive(Clone)]
pub struct History {
    inner: Arc<Deps>,
}

/// How a sync ended when it could not copy: a status for `history stats`
/// and a line for the run record.
struct Stop {
    status: &'static str,
    detail: String,
    failed: bool,
}

/// A blocking task that panicked or was cancelled.
fn task_failed(e: tokio::task::JoinError) -> Stop {
    Stop {
        status: "failed",
        detail: e.to_string(),
        failed: true,
    }
}

impl History {
    pub fn new(deps: Deps) -> History {
        History {
            inner: Arc::new(deps),
        }
    }

    async fn dbfile(&self) -> Result<PathBuf, Stop> {
        if let Some(path) = &self.inner.database {
            return Ok(path.clone());
        }
        match self.inner.fail2ban.dbfile().await {
            Ok(Some(path)) => Ok(path),
            Ok(None) => Err(Stop {
                status: "disabled",
                detail: "fail2ban runs without a database (dbfile = :memory: or none); there is no history to copy".into(),
                failed: false,
            }),
            Err(e) => Err(Stop {
                status: "unreachable",
                detail: format!("cannot ask fail2ban where its database is: {e}; set fail2ban.database to read it anyway"),
                failed: false,
            }),
        }
    }

    /// One sync: copies rows past the watermark, page by page. Returns a summary.
    pub async fn sync(&self, cancel: &CancellationToken) -> Result<String, String> {
        let inner = &self.inner;
        let now = inner.clock.now_unix();
        let result = match self.dbfile().await {
            Ok(path) => self.copy(path, cancel).await,
            Err(stop) => Err(stop),
        };
        let (status, detail, outcome) = match result {
            Ok(summary) => ("ok", None, Ok(summary)),
            Err(stop) if stop.failed => (stop.status, Some(stop.detail.clone()), Err(stop.detail)),
            Err(stop) => (stop.status, Some(stop.detail.clone()), Ok(stop.detail)),
        };
        // Said once when the status changes, not at every run.
        let previous = inner
            .db
            .call(|conn| store::status(conn))
            .await
            .unwrap_or_default();
        if previous != status {
            match &detail {
                Some(d) => tracing::warn!(status, detail = %d, "history sync cannot copy"),
                None if previous != "never" => tracing::info!("history sync copies again"),
                None => {}
            }
        }
        let d = detail.clone();
        if let Err(e) = inner
            .db
            .call(move |conn| store::set_status(conn, status, d.as_deref(), now))
            .await
        {
            tracing::warn!(error = %e, "cannot record the history sync status");
        }
        if status == "ok" {
            self.prune_if_due().await;
        }
        outcome
    }

    async fn copy(&self, path: PathBuf, cancel: &CancellationToken) -> Result<String, Stop> {
        let inner = &self.inner;
        let failed = |e: SourceError| Stop {
            status: e.status(),
            detail: e.to_string(),
            failed: matches!(e, SourceError::UnknownSchema(_) | SourceError::Sqlite(_)),
        };
        let store_failed = |e: StoreError| Stop {
            status: "failed",
            detail: format!("cannot write the archive: {e}"),
            failed: true,
        };
        let open_path = path.clone();
        let src = tokio::task::spawn_blocking(move || Fail2banDb::open(&open_path, BUSY))
            .await
            .map_err(task_failed)?
            .map_err(failed)?;
        let dbfile = path.display().to_string();
        let state = inner
            .db
            .call(|conn| store::state(conn))
            .await
            .map_err(store_failed)?;
        // Where to start: after the watermark, unless the database is another one now.
        let (src, start, why) = {
            let last = state.last_rowid;
            let expected = state.last.clone();
            let same_file = state.dbfile.as_deref() == Some(dbfile.as_str());
            let (src, checked) = tokio::task::spawn_blocking(move || {
                let checked = if last > 0 {
                    src.identity(last).and_then(|id| Ok((id, src.max_rowid()?)))
                } else {
                    Ok((None, 0))
                };
                (src, checked)
            })
            .await
            .map_err(task_failed)?;
            let (identity, max) = checked.map_err(failed)?;
            match (same_file, last, identity) {
                (false, _, _) => (src, 0, Some("a database bangui has not read before")),
                (true, 0, _) => (src, 0, None),
                (true, _, Some(id)) if Some(&id) == expected.as_ref() => (src, last, None),
                (true, _, Some(_)) => (src, 0, Some("the database was replaced")),
                (true, _, None) if max < last => (src, 0, Some("the database was reset")),
                // The last row copied was purged by fail2ban; later rows follow it.
                (true, _, None) => (src, last, None),
            }
        };
        if let Some(why) = why {
            if state.last_rowid > 0 {
                tracing::warn!(
                    reason = why,
                    "fail2ban's database changed under bangui; copying it again (rows already archived are not duplicated)"
                );
            }
            let f = dbfile.clone();
            inner
                .db
                .call(move |conn| store::rewind(conn, &f))
                .await
                .map_err(store_failed)?;
        }
        let geo_on = inner.geo.can_resolve();
        let mut after = start;
        let mut src = src;
        let (mut read, mut copied) = (0u64, 0u64);
        let mut pending: Vec<Vec<source::BanRow>> = Vec::new();
        let mut pending_rows = 0;
        loop {
            let stop = cancel.is_cancelled();
            let mut last_page = stop;
            if !stop {
                let (back, page) = tokio::task::spawn_blocking(move || {
                    let page = src.page(after);
                    (src, page)
                })
                .await
                .map_err(task_failed)?;
                src = back;
                let page = page.map_err(failed)?;
                last_page = page.len() < source::PAGE;
                if let Some(last) = page.last() {
                    after = last.rowid;
                    read += page.len() as u64;
                    pending_rows += page.len();
                    pending.push(page);
                }
            }
            // Written in transactions of up to WRITE_ROWS rows: reads stay
            // short for fail2ban's sake, commits stay few for the disk's.
            if pending_rows >= WRITE_ROWS || (last_page && !pending.is_empty()) {
                let pages = std::mem::take(&mut pending);
                pending_rows = 0;
                let now = inner.clock.now_unix();
                let cutoff = now - i64::from(inner.retention_days) * DAY;
                let fresh = inner
                    .db
                    .call(move |conn| store::archive_pages(conn, &pages, now, cutoff))
                    .await
                    .map_err(store_failed)?;
                crate::fault::point("history.page_archived");
                copied += fresh.len() as u64;
                if geo_on {
                    inner
                        .geo
                        .enqueue(fresh.iter().filter_map(|ip| ip.parse::<IpAddr>().ok()));
                }
            }
            if last_page {
                break;
            }
            // Between pages fail2ban's writes go first.
            tokio::task::yield_now().await;
        }
        Ok(format!("copied {copied} new ban(s) ({read} row(s) read)"))
    }

    /// Once a day: rows past the retention are rolled up and deleted.
    async fn prune_if_due(&self) {
        let inner = &self.inner;
        let now = inner.clock.now_unix();
        let cutoff = now - i64::from(inner.retention_days) * DAY;
        let result = inner
            .db
            .call(move |conn| {
                let due = store::pruned_at(conn)?.is_none_or(|t| now - t >= DAY);
                if !due || !store::oldest_needing_prune(conn, cutoff)? {
                    return Ok(0);
                }
                store::prune(conn, cutoff, now)
            })
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                pruned = n,
                "archived bans past the retention rolled up and deleted"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot prune the ban history"),
        }
    }

    pub async fn list(&self, mut q: HistoryQuery) -> Result<HistoryPage, HistoryError> {
        if q.limit == 0 || q.limit > MAX_PAGE {
            return Err(HistoryError::Invalid(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        if let Some(ip) = &q.ip {
            q.ip = Some(canonical_target(ip)?.to_string());
        }
        if let Some(c) = &q.country {
            q.country = Some(c.to_ascii_uppercase());
        }
        let limit = q.limit as usize;
        let mut rows = self
            .inner
            .db
            .read(move |conn| store::list(conn, &q))
            .await?;
        let next_before_id = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| r.id)
        } else {
            None
        };
        Ok(HistoryPage {
            rows,
            next_before_id,
        })
    }

    /// An address's or a network's bans, the sources that list it, and the
    /// networks holding it that sources list or the archive has bans of.
    pub async fn ip(&self, ip: &str) -> Result<HistoryIpInfo, HistoryError> {
        let target = canonical_target(ip)?;
        let ip = target.to_string();
        let addr: IpAddr = target.net().addr();
        let q = HistoryQuery {
            ip: Some(ip.clone()),
            jail: None,
            country: None,
            since: None,
            until: None,
            before_id: None,
            limit: MAX_PAGE,
        };
        let page = self.list(q).await?;
        let key = ip.clone();
        let default_jail = self.inner.default_jail.clone();
        let (total, (blocklists, blocklist_jails), known) = self
            .inner
            .db
            .read(move |conn| {
                Ok((
                    store::count_ip(conn, &key)?,
                    store::blocklist_presence(conn, &key)?,
                    crate::coverage::known(conn, &target, &default_jail)?,
                ))
            })
            .await?;
        let covering = known
            .networks(&target)
            .iter()
            .map(|n| bangui_proto::messages::Covering {
                network: n.to_string(),
                jails: known.archived_jails_of(n, self.inner.clock.now_unix()),
                sources: known.sources_of(n),
            })
            .collect();
        Ok(HistoryIpInfo {
            geo: self.inner.geo.info(addr),
            geo_of_first_address: !target.is_host(),
            ip,
            bans: page.rows,
            total_bans: total,
            blocklists,
            blocklist_jails,
            covering,
        })
    }

    pub async fn groups(
        &self,
        q: HistoryGroupQuery,
        top: bool,
    ) -> Result<HistoryStatsInfo, HistoryError> {
        let allowed: &[&str] = if top {
            &["ip", "country", "asn"]
        } else {
            &["jail", "country", "asn", "day"]
        };
        if !allowed.contains(&q.by.as_str()) {
            return Err(HistoryError::Invalid(format!(
                "--by must be one of {}",
                allowed.join(", ")
            )));
        }
        if q.limit == 0 || q.limit > MAX_PAGE {
            return Err(HistoryError::Invalid(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let (by, since, limit) = (q.by.clone(), q.since, q.limit);
        self.geo_written().await;
        let geo = self.inner.geo.clone();
        let place = move |ip: &str| -> (Option<String>, Option<u32>) {
            // A network's place is its first address's.
            match crate::targets::first_address(ip).and_then(|a| geo.info(a)) {
                Some(info) => (info.country_code, info.asn),
                None => (None, None),
            }
        };
        let ((groups, total_bans, total_addresses), sync) = self
            .inner
            .db
            .read(move |conn| {
                Ok((
                    store::groups(conn, &by, since, limit, &place)?,
                    store::sync_info(conn)?,
                ))
            })
            .await?;
        Ok(HistoryStatsInfo {
            by: q.by,
            since: q.since,
            total_bans,
            total_addresses,
            groups,
            sync,
        })
    }
}

impl History {
    /// Queries join the geo tables: answers still in memory are written first.
    async fn geo_written(&self) {
        if self.inner.geo.counts().dirty > 0
            && let Err(e) = self.inner.geo.flush().await
        {
            tracing::warn!(error = %e, "cannot write geo answers; history shows what is stored");
        }
    }
}

/// An address or a network, as the archive writes it.
fn canonical_target(text: &str) -> Result<crate::targets::Target, HistoryError> {
    crate::targets::Target::parse(text).map_err(|e| {
        HistoryError::Invalid(format!(
            "`{}` is not an IP address or network: {e}",
            crate::geo::clean(text)
        ))
    })
}
