//! Geo-IP: where the addresses bangui sees come from.
//!
//! Resolution order: the in-memory cache, then the local MaxMind files, then
//! (when allowed) ip-api.com's batch API under its rate limit. Answers are kept
//! in memory and written to `geo_cache` by the geo_cache_flush job; addresses
//! still without a country are retried by geo_re_resolve.

pub mod cache;
pub mod ipapi;
pub mod limit;
pub mod maxmind;
pub mod queue;
pub mod record;
pub mod store;

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bangui_proto::messages::{GeoFlushed, GeoInfo, GeoStatsInfo, IpApiInfo};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::GeoConfig;
use crate::store::{Db, StoreError};
use cache::{Counts, GeoCache};
use ipapi::{Answer, IpApi};
use maxmind::{Found, MaxMind};
use record::{Entry, Source};

/// Hash maps keyed by addresses and names: a fast seeded hash, since the
/// cache is probed for every address bangui sees.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Longest string kept from outside (organisation names, failure messages).
const MAX_TEXT: usize = 200;

/// Text from a database or a web service, made safe for logs and tables:
/// control characters dropped, trimmed, bounded.
pub fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect::<String>()
        .trim()
        .to_string()
}

/// How far a resolution may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// Ask ip-api for what MaxMind does not know.
    pub remote: bool,
    /// Retry unresolved addresses even inside their back-off.
    pub force: bool,
    /// Keep unresolved answers in the cache (so geo_re_resolve retries them).
    pub record_misses: bool,
}

#[derive(Debug, Default)]
struct Counters {
    lookups: AtomicU64,
    cache_hits: AtomicU64,
    maxmind_hits: AtomicU64,
    ip_api_resolved: AtomicU64,
    ip_api_failed: AtomicU64,
}

struct Inner {
    cache: RwLock<GeoCache>,
    maxmind: MaxMind,
    /// Absent in offline mode.
    ipapi: Option<IpApi>,
    /// ip-api for background work (the `ip_api` setting, and not offline).
    background_remote: bool,
    offline: bool,
    db: Db,
    clock: Clock,
    counters: Counters,
    queue: queue::Queue,
    last_flush_at: AtomicI64,
    /// The MaxMind generation the cached MaxMind answers reflect.
    applied_generation: AtomicU64,
    flushing: tokio::sync::Mutex<()>,
}

/// The geo service. Cheap to clone.
#[derive(Clone)]
pub struct Geo {
    inner: Arc<Inner>,
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("`{0}` is not an IP address")]
    Invalid(String),
    #[error("geo.offline is set: bangui makes no network lookups")]
    Offline,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Addresses as typed, canonical (IPv4-mapped IPv6 is IPv4); the first bad one is the error.
/// Addresses, or networks (answered for their first address, where geo
/// data for a network comes from everywhere).
fn parse_addresses(addresses: &[String]) -> Result<Vec<IpAddr>, GeoError> {
    addresses
        .iter()
        .map(|a| {
            crate::targets::first_address(a)
                .map(|ip| ip.to_canonical())
                .ok_or_else(|| GeoError::Invalid(clean(a).chars().take(64).collect()))
        })
        .collect()
}

/// The answer for a loopback, private, link-local or reserved address.
fn not_routable(ip: IpAddr, kind: &str, now: i64) -> GeoInfo {
    GeoInfo {
        address: ip.to_string(),
        country_code: None,
        country: None,
        asn: None,
        org: None,
        source: Source::Local.as_str().into(),
        status: "not-routable".into(),
        reason: Some(format!("{kind} range")),
        updated_at: now,
        attempts: 0,
    }
}

/// A MaxMind answer (or its absence) for a read, not stored.
fn computed(ip: IpAddr, found: Found, now: i64, no_files: bool, offline: bool) -> GeoInfo {
    let (asn, org) = match found.asn {
        Some((asn, org)) => (Some(asn), org.map(|o| o.to_string())),
        None => (None, None),
    };
    let (source, status, reason) = match &found.country {
        Some(_) => ("maxmind", "resolved", None),
        None => (
            "none",
            "unresolved",
            Some(match (no_files, offline) {
                (true, _) => "no MaxMind database".to_string(),
                (false, true) => "not in the MaxMind database".into(),
                (false, false) => "not in the MaxMind database; --remote asks ip-api".into(),
            }),
        ),
    };
    GeoInfo {
        address: ip.to_string(),
        country_code: found.country.as_ref().map(|(c, _)| c.to_string()),
        country: found
            .country
            .as_ref()
            .map(|(_, n)| n.to_string())
            .filter(|n| !n.is_empty()),
        asn,
        org,
        source: source.into(),
        status: status.into(),
        reason,
        updated_at: now,
        attempts: 0,
    }
}

/// A unix time as the u32 entries store.
fn stamp(now: i64) -> u32 {
    u32::try_from(now.max(0)).unwrap_or(u32::MAX)
}

impl Geo {
    /// Loads the cache from the database and opens the MaxMind files.
    pub async fn load(config: &GeoConfig, db: Db, clock: Clock) -> Result<Geo, StoreError> {
        let started = std::time::Instant::now();
        let max = config.cache_max_entries;
        let (entries, names) = db.call(move |conn| store::load(conn, max)).await?;
        let cache = GeoCache::loaded(entries, names, max);
        let counts = cache.counts();
        let ipapi = if config.offline {
            None
        } else {
            match IpApi::new(
                &config.ip_api_url,
                config.ip_api_timeout,
                config.ip_api_window,
            ) {
                Ok(client) => Some(client),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot set up the ip-api client; geo lookups stay local");
                    None
                }
            }
        };
        let geo = Geo {
            inner: Arc::new(Inner {
                cache: RwLock::new(cache),
                maxmind: MaxMind::new(&config.maxmind_db, &config.maxmind_asn_db),
                background_remote: config.ip_api && ipapi.is_some(),
                ipapi,
                offline: config.offline,
                db,
                clock,
                counters: Counters::default(),
                queue: queue::Queue::new(config.queue_size),
                last_flush_at: AtomicI64::new(0),
                applied_generation: AtomicU64::new(0),
                flushing: tokio::sync::Mutex::new(()),
            }),
        };
        let maxmind = geo.clone();
        tokio::task::spawn_blocking(move || maxmind.inner.maxmind.refresh())
            .await
            .map_err(|_| StoreError::Closed)?;
        geo.inner
            .applied_generation
            .store(geo.inner.maxmind.generation(), Ordering::Relaxed);
        tracing::info!(
            entries = counts.entries,
            load_ms = started.elapsed().as_millis() as u64,
            "geo cache loaded"
        );
        if counts.unresolved > 0 {
            tracing::warn!(
                unresolved = counts.unresolved,
                "addresses without a country in the geo cache; geo_re_resolve retries them"
            );
        }
        Ok(geo)
    }

    fn read(&self) -> RwLockReadGuard<'_, GeoCache> {
        self.inner
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, GeoCache> {
        self.inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached entry for an address, without any lookup.
    pub fn cached(&self, ip: IpAddr) -> Option<Entry> {
        self.read().get(&ip.to_canonical()).copied()
    }

    /// What the cache knows of an address; not-routable addresses are
    /// answered without being stored.
    pub fn info(&self, ip: IpAddr) -> Option<GeoInfo> {
        let ip = ip.to_canonical();
        let cache = self.read();
        match cache.get(&ip) {
            Some(e) => Some(cache.names.info(ip, e)),
            None => crate::allowlist::special_range(ip)
                .map(|kind| not_routable(ip, kind, self.inner.clock.now_unix())),
        }
    }

    /// Answers for a read (`geo lookup`): the cache, else computed from the
    /// address ranges and the MaxMind files, and stored nowhere, so no
    /// number of lookups grows the cache or the database.
    /// Blocking: call it off the async workers.
    pub fn answer(&self, ips: &[IpAddr]) -> Vec<GeoInfo> {
        self.refresh_maxmind();
        let snapshot = self.inner.maxmind.snapshot();
        let now = self.inner.clock.now_unix();
        let counters = &self.inner.counters;
        counters
            .lookups
            .fetch_add(ips.len() as u64, Ordering::Relaxed);
        let (mut hits, mut maxmind_hits) = (0, 0);
        let cache = self.read();
        let answers = ips
            .iter()
            .map(|ip| {
                if let Some(e) = cache.get(ip) {
                    hits += 1;
                    return cache.names.info(*ip, e);
                }
                if let Some(kind) = crate::allowlist::special_range(*ip) {
                    return not_routable(*ip, kind, now);
                }
                let found = snapshot.lookup(*ip);
                if found.country.is_some() {
                    maxmind_hits += 1;
                }
                computed(*ip, found, now, snapshot.is_empty(), self.inner.offline)
            })
            .collect();
        counters.cache_hits.fetch_add(hits, Ordering::Relaxed);
        counters
            .maxmind_hits
            .fetch_add(maxmind_hits, Ordering::Relaxed);
        answers
    }

    /// Notices a replaced MaxMind file, and re-checks the cached MaxMind
    /// answers against it once.
    fn refresh_maxmind(&self) {
        self.inner.maxmind.refresh();
        let generation = self.inner.maxmind.generation();
        if self
            .inner
            .applied_generation
            .swap(generation, Ordering::Relaxed)
            != generation
        {
            self.reapply_maxmind();
        }
    }

    /// Whether anything can place an address: a MaxMind file or ip-api.
    pub fn can_resolve(&self) -> bool {
        self.inner.background_remote || !self.inner.maxmind.snapshot().is_empty()
    }

    /// Cache and MaxMind only; never waits on the network. Returns the
    /// addresses MaxMind could not place (those ip-api might).
    /// Blocking: call it off the async workers. A newly loaded MaxMind file
    /// first updates the cached MaxMind answers.
    pub fn resolve_local(&self, ips: &[IpAddr], reach: Reach) -> Vec<IpAddr> {
        self.refresh_maxmind();
        let now = stamp(self.inner.clock.now_unix());
        let counters = &self.inner.counters;
        counters
            .lookups
            .fetch_add(ips.len() as u64, Ordering::Relaxed);
        let mut wanted: Vec<IpAddr> = Vec::new();
        {
            let cache = self.read();
            let mut hits = 0;
            for ip in ips {
                let ip = ip.to_canonical();
                match cache.get(&ip) {
                    Some(e) if e.resolved() || !(reach.force || e.retry_due(now)) => hits += 1,
                    Some(e) if e.source == Source::Local => hits += 1,
                    _ => wanted.push(ip),
                }
            }
            counters.cache_hits.fetch_add(hits, Ordering::Relaxed);
        }
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return wanted;
        }

        let snapshot = self.inner.maxmind.snapshot();
        // Not-routable addresses are answered from their range whenever
        // asked (`info`, `answer`): nothing to store for them.
        let found: Vec<(IpAddr, Found)> = wanted
            .into_iter()
            .filter(|ip| crate::allowlist::special_range(*ip).is_none())
            .map(|ip| (ip, snapshot.lookup(ip)))
            .collect();

        let mut misses = Vec::new();
        let mut cache = self.write();
        let mut maxmind_hits = 0;
        for (ip, found) in found {
            let previous = cache.get(&ip).copied();
            let (asn, org) = match &found.asn {
                Some((asn, org)) => (*asn, org.as_deref().map_or(0, |o| cache.names.string(o))),
                None => (0, 0),
            };
            let entry = if let Some((code, name)) = &found.country {
                maxmind_hits += 1;
                Entry {
                    org,
                    asn,
                    reason: 0,
                    updated_at: now,
                    country: cache.names.country(code, name),
                    source: Source::MaxMind,
                    attempts: 0,
                }
            } else {
                misses.push(ip);
                if !reach.record_misses || reach.remote {
                    // Either not kept, or ip-api's answer will be recorded.
                    continue;
                }
                let reason = if snapshot.is_empty() {
                    "no MaxMind database and no ip-api lookup"
                } else {
                    "not in the MaxMind database"
                };
                Entry {
                    org,
                    asn,
                    reason: cache.names.string(reason),
                    updated_at: now,
                    country: 0,
                    source: Source::None,
                    attempts: previous.map_or(1, |p| p.attempts.saturating_add(1)),
                }
            };
            if previous != Some(entry) {
                cache.put(ip, entry);
            }
        }
        counters
            .maxmind_hits
            .fetch_add(maxmind_hits, Ordering::Relaxed);
        misses
    }

    /// Re-reads every cached MaxMind answer from the files now open; the
    /// changed ones are updated (and so flushed).
    fn reapply_maxmind(&self) {
        let started = std::time::Instant::now();
        let ips: Vec<IpAddr> = self
            .read()
            .iter()
            .filter(|(_, e)| e.source == Source::MaxMind)
            .map(|(ip, _)| *ip)
            .collect();
        let snapshot = self.inner.maxmind.snapshot();
        let found: Vec<(IpAddr, Found)> =
            ips.iter().map(|ip| (*ip, snapshot.lookup(*ip))).collect();
        let now = stamp(self.inner.clock.now_unix());
        let mut cache = self.write();
        let mut changed = 0u64;
        for (ip, found) in found {
            let Some(old) = cache.get(&ip).copied() else {
                continue;
            };
            // A file that lost the address keeps the old answer.
            let Some((code, name)) = &found.country else {
                continue;
            };
            let country = cache.names.country(code, name);
            let (asn, org) = match &found.asn {
                Some((asn, org)) => (*asn, org.as_deref().map_or(0, |o| cache.names.string(o))),
                None => (old.asn, old.org),
            };
            if (country, asn, org) != (old.country, old.asn, old.org) {
                cache.put(
                    ip,
                    Entry {
                        country,
                        asn,
                        org,
                        updated_at: now,
                        ..old
                    },
                );
                changed += 1;
            }
        }
        tracing::info!(
            checked = ips.len(),
            changed,
            ms = started.elapsed().as_millis() as u64,
            "cached MaxMind answers checked against the new file"
        );
    }

    /// [`Geo::resolve_local`] on a blocking thread.
    async fn local(&self, ips: &[IpAddr], reach: Reach) -> Vec<IpAddr> {
        let this = self.clone();
        let list = ips.to_vec();
        tokio::task::spawn_blocking(move || this.resolve_local(&list, reach))
            .await
            .unwrap_or_default()
    }

    /// Resolves addresses as far as `reach` allows, waiting on ip-api's rate
    /// limit when needed. Partial progress is kept if cancelled.
    pub async fn resolve(&self, ips: &[IpAddr], reach: Reach, cancel: &CancellationToken) {
        let misses = self.local(ips, reach).await;
        if !reach.remote || misses.is_empty() {
            return;
        }
        let Some(ipapi) = &self.inner.ipapi else {
            return;
        };
        for chunk in misses.chunks(ipapi::MAX_BATCH) {
            if cancel.is_cancelled() {
                return;
            }
            let result = ipapi.batch(chunk, cancel).await;
            if matches!(result, Err(ipapi::IpApiError::Cancelled)) {
                return;
            }
            self.record_remote(chunk, result);
        }
    }

    fn record_remote(&self, chunk: &[IpAddr], result: Result<Vec<Answer>, ipapi::IpApiError>) {
        let now = stamp(self.inner.clock.now_unix());
        let counters = &self.inner.counters;
        let mut cache = self.write();
        let failure = |cache: &mut GeoCache, ip: IpAddr, reason: &str| {
            let previous = cache.get(&ip).copied();
            let reason = cache.names.string(reason);
            Entry {
                org: previous.map_or(0, |p| p.org),
                asn: previous.map_or(0, |p| p.asn),
                reason,
                updated_at: now,
                country: 0,
                source: previous.map_or(Source::None, |p| p.source),
                attempts: previous.map_or(1, |p| p.attempts.saturating_add(1)),
            }
        };
        match result {
            Ok(answers) => {
                for (ip, answer) in chunk.iter().zip(answers) {
                    let entry = match answer {
                        Answer::Found {
                            code,
                            country,
                            asn,
                            org,
                        } => {
                            counters.ip_api_resolved.fetch_add(1, Ordering::Relaxed);
                            let previous = cache.get(ip).copied();
                            Entry {
                                org: match org {
                                    Some(o) => cache.names.string(&o),
                                    None => previous.map_or(0, |p| p.org),
                                },
                                asn: asn.unwrap_or(previous.map_or(0, |p| p.asn)),
                                reason: 0,
                                updated_at: now,
                                country: cache.names.country(&code, &country),
                                source: Source::IpApi,
                                attempts: 0,
                            }
                        }
                        Answer::Failed { reason } => {
                            counters.ip_api_failed.fetch_add(1, Ordering::Relaxed);
                            failure(&mut cache, *ip, &reason)
                        }
                    };
                    cache.put(*ip, entry);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, addresses = chunk.len(), "ip-api lookup failed; the addresses stay unresolved for geo_re_resolve");
                counters
                    .ip_api_failed
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                let reason = format!("ip-api: {e}");
                for ip in chunk {
                    let entry = failure(&mut cache, *ip, &reason);
                    cache.put(*ip, entry);
                }
            }
        }
    }

    /// `geo lookup`: cache and MaxMind, plus ip-api when `remote`.
    pub async fn lookup(
        &self,
        addresses: &[String],
        remote: bool,
    ) -> Result<Vec<GeoInfo>, GeoError> {
        if remote && self.inner.offline {
            return Err(GeoError::Offline);
        }
        let ips = parse_addresses(addresses)?;
        if remote {
            // An administrator spends the ip-api budget: those answers are kept.
            let reach = Reach {
                remote: true,
                force: true,
                record_misses: true,
            };
            self.resolve(&ips, reach, &CancellationToken::new()).await;
        }
        let this = self.clone();
        Ok(tokio::task::spawn_blocking(move || this.answer(&ips))
            .await
            .unwrap_or_default())
    }

    /// Hands addresses to the background queue; never blocks. When the queue
    /// is full the rest are recorded as unresolved for geo_re_resolve.
    pub fn enqueue(&self, ips: impl IntoIterator<Item = IpAddr>) {
        let overflow = self.inner.queue.push(ips);
        if overflow.is_empty() {
            return;
        }
        let now = stamp(self.inner.clock.now_unix());
        let mut cache = self.write();
        let reason = cache
            .names
            .string("waiting for geo_re_resolve (the geo queue was full)");
        for ip in overflow {
            if cache.get(&ip).is_none() {
                cache.put(
                    ip,
                    Entry {
                        org: 0,
                        asn: 0,
                        reason,
                        updated_at: now,
                        country: 0,
                        source: Source::None,
                        attempts: 0,
                    },
                );
            }
        }
    }

    /// Resolves addresses ahead of need (blocklist entries) from the MaxMind
    /// files only: lists can hold far more addresses than ip-api's budget
    /// covers, and an address MaxMind does not know is not recorded (it is
    /// resolved like any other when it is banned or seen in the history).
    /// Blocking: call it off the async workers.
    pub fn prewarm<T: AsRef<crate::targets::Target>>(&self, targets: &[T]) {
        if self.inner.maxmind.snapshot().is_empty() {
            self.inner.maxmind.refresh();
            if self.inner.maxmind.snapshot().is_empty() {
                return;
            }
        }
        let reach = Reach {
            remote: false,
            force: false,
            record_misses: false,
        };
        // In slices, so readers are never kept waiting long on the cache lock.
        for slice in targets.chunks(10_000) {
            // A network's place is its first address's (as history and
            // explain show it).
            let hosts: Vec<IpAddr> = slice
                .iter()
                .map(AsRef::as_ref)
                .map(|t| t.net().addr())
                .collect();
            self.resolve_local(&hosts, reach);
        }
    }

    /// Resolves queued addresses until `stop` is cancelled.
    pub async fn run_queue(&self, stop: CancellationToken) {
        loop {
            let batch = tokio::select! {
                batch = self.inner.queue.take(1000) => batch,
                _ = stop.cancelled() => return,
            };
            let reach = Reach {
                remote: self.inner.background_remote,
                force: false,
                record_misses: true,
            };
            self.resolve(&batch, reach, &stop).await;
        }
    }

    /// Writes the dirty set in one transaction; entries leave the dirty set
    /// only after the commit, so a failed flush loses nothing.
    pub async fn flush(&self) -> Result<GeoFlushed, StoreError> {
        let _one = self.inner.flushing.lock().await;
        let batch = self.read().flush_batch();
        let written = batch.rows.len() as u64;
        if written > 0 || !batch.countries.is_empty() || !batch.strings.is_empty() {
            let max = self.read().max();
            let batch = self
                .inner
                .db
                .call(move |conn| {
                    store::flush(conn, &batch)?;
                    // The table keeps to the cache's bound too.
                    store::trim(conn, max)?;
                    Ok(batch)
                })
                .await?;
            crate::fault::point("geo.flush_written");
            self.write().flushed(&batch);
        }
        self.inner
            .last_flush_at
            .store(self.inner.clock.now_unix(), Ordering::Relaxed);
        Ok(GeoFlushed {
            written,
            dirty: self.read().dirty_len() as u64,
        })
    }

    /// Retries every routable address without a country, ignoring back-off.
    /// Returns (retried, resolved).
    pub async fn re_resolve(&self, cancel: &CancellationToken) -> (u64, u64) {
        let candidates: Vec<IpAddr> = self
            .read()
            .unresolved(usize::MAX)
            .into_iter()
            .map(|(ip, _)| ip)
            .collect();
        let reach = Reach {
            remote: self.inner.background_remote,
            force: true,
            record_misses: true,
        };
        let mut retried = 0;
        for chunk in candidates.chunks(ipapi::MAX_BATCH) {
            if cancel.is_cancelled() {
                break;
            }
            retried += chunk.len() as u64;
            self.resolve(chunk, reach, cancel).await;
        }
        let cache = self.read();
        let resolved = candidates[..retried as usize]
            .iter()
            .filter(|ip| cache.get(ip).is_some_and(Entry::resolved))
            .count() as u64;
        (retried, resolved)
    }

    /// Removes addresses from the cache and the database.
    pub async fn forget(&self, addresses: &[String]) -> Result<u64, GeoError> {
        let ips = parse_addresses(addresses)?;
        let _one = self.inner.flushing.lock().await;
        let in_memory = {
            let mut cache = self.write();
            ips.iter().filter(|ip| cache.remove(ip)).count() as u64
        };
        let in_db = self
            .inner
            .db
            .call(move |conn| store::delete(conn, &ips))
            .await?;
        Ok(in_memory.max(in_db))
    }

    pub fn unresolved(&self, limit: usize) -> Vec<GeoInfo> {
        let cache = self.read();
        cache
            .unresolved(limit)
            .iter()
            .map(|(ip, e)| cache.names.info(*ip, e))
            .collect()
    }

    pub fn counts(&self) -> Counts {
        self.read().counts()
    }

    pub fn stats(&self) -> GeoStatsInfo {
        self.inner.maxmind.refresh();
        let counts = self.counts();
        let c = &self.inner.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let last_flush = self.inner.last_flush_at.load(Ordering::Relaxed);
        let ip_api = match &self.inner.ipapi {
            Some(api) => {
                let (left, next) = api.budget();
                IpApiInfo {
                    enabled: self.inner.background_remote,
                    offline: false,
                    url: api.url().to_string(),
                    budget_left: left,
                    next_window_secs: next.as_secs_f64().ceil() as u64,
                    requests: load(&api.requests),
                    last_error: api.last_error(),
                }
            }
            None => IpApiInfo {
                enabled: false,
                offline: self.inner.offline,
                url: String::new(),
                budget_left: 0,
                next_window_secs: 0,
                requests: 0,
                last_error: None,
            },
        };
        GeoStatsInfo {
            entries: counts.entries,
            resolved: counts.resolved,
            unresolved: counts.unresolved,
            not_routable: counts.not_routable,
            dirty: counts.dirty,
            queued: self.inner.queue.len() as u64,
            overflowed: self.inner.queue.overflowed(),
            lookups: load(&c.lookups),
            cache_hits: load(&c.cache_hits),
            maxmind_hits: load(&c.maxmind_hits),
            ip_api_resolved: load(&c.ip_api_resolved),
            ip_api_failed: load(&c.ip_api_failed),
            last_flush_at: (last_flush > 0).then_some(last_flush),
            maxmind: vec![
                self.inner.maxmind.country.info(),
                self.inner.maxmind.asn.info(),
            ],
            ip_api,
        }
    }
}

#[cfg(test)]
mod tests;
