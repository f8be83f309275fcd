//! The in-memory cache: address → [`Entry`], plus the dirty set of entries the
//! database does not have yet. An entry leaves the dirty set only when a flush
//! that wrote its current version has committed.

use std::net::IpAddr;

use super::FastMap as HashMap;

use super::record::{Entry, Names, NewCountry, NewString, Source};

#[derive(Debug)]
pub struct GeoCache {
    entries: HashMap<IpAddr, Entry>,
    /// Address → version of its latest change.
    dirty: HashMap<IpAddr, u64>,
    next_version: u64,
    /// Most entries held (`geo.cache_max_entries`).
    max: usize,
    /// Entries dropped to stay within `max`, since start.
    pub evicted: u64,
    pub names: Names,
}

/// What one flush writes; `versions` lets [`GeoCache::flushed`] keep entries
/// that changed again while the flush ran.
#[derive(Debug, Default)]
pub struct FlushBatch {
    pub rows: Vec<(IpAddr, Entry)>,
    pub versions: Vec<u64>,
    pub countries: Vec<NewCountry>,
    pub strings: Vec<NewString>,
    pub names_len: (usize, usize),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub entries: u64,
    pub resolved: u64,
    pub unresolved: u64,
    pub not_routable: u64,
    pub dirty: u64,
}

impl GeoCache {
    pub fn new(max: usize) -> GeoCache {
        GeoCache::loaded(HashMap::default(), Names::new(), max)
    }

    /// A cache loaded from the database: nothing dirty.
    pub fn loaded(entries: HashMap<IpAddr, Entry>, mut names: Names, max: usize) -> GeoCache {
        let (countries, strings) = names.lens();
        names.persisted_countries = countries;
        names.persisted_strings = strings;
        GeoCache {
            entries,
            dirty: HashMap::default(),
            next_version: 0,
            max: max.max(1),
            evicted: 0,
            names,
        }
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&Entry> {
        self.entries.get(ip)
    }

    /// Stores an answer. A new address in a full cache first makes room by
    /// [`GeoCache::evict`]; when every entry still waits for the flush, the
    /// answer is not kept (false) and is looked up again when it comes up.
    pub fn put(&mut self, ip: IpAddr, entry: Entry) -> bool {
        if self.entries.len() >= self.max && !self.entries.contains_key(&ip) && !self.evict() {
            return false;
        }
        self.entries.insert(ip, entry);
        self.next_version += 1;
        self.dirty.insert(ip, self.next_version);
        true
    }

    /// Drops a tenth of the cap: the least recently updated entries the
    /// database already holds. Linear in the cache's size, once per tenth of
    /// it, so a few operations per insert over time.
    fn evict(&mut self) -> bool {
        let mut clean: Vec<(u32, IpAddr)> = self
            .entries
            .iter()
            .filter(|(ip, _)| !self.dirty.contains_key(ip))
            .map(|(ip, e)| (e.updated_at, *ip))
            .collect();
        if clean.is_empty() {
            return false;
        }
        let n = (self.max / 10).clamp(1, clean.len());
        clean.select_nth_unstable(n - 1);
        for (_, ip) in &clean[..n] {
            self.entries.remove(ip);
        }
        self.evicted += n as u64;
        tracing::debug!(
            evicted = n,
            cap = self.max,
            "geo cache full; oldest answers dropped from memory"
        );
        true
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Drops an address from memory; the caller deletes its row.
    pub fn remove(&mut self, ip: &IpAddr) -> bool {
        self.dirty.remove(ip);
        self.entries.remove(ip).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &Entry)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            entries: self.entries.len() as u64,
            dirty: self.dirty.len() as u64,
            ..Counts::default()
        };
        for e in self.entries.values() {
            if e.resolved() {
                c.resolved += 1;
            } else if e.source == Source::Local {
                c.not_routable += 1;
            } else {
                c.unresolved += 1;
            }
        }
        c
    }

    /// Unresolved, routable addresses, oldest attempt first.
    pub fn unresolved(&self, limit: usize) -> Vec<(IpAddr, Entry)> {
        let mut list: Vec<(IpAddr, Entry)> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.resolved() && e.source != Source::Local)
            .map(|(ip, e)| (*ip, *e))
            .collect();
        list.sort_by_key(|(ip, e)| (e.updated_at, *ip));
        list.truncate(limit);
        list
    }

    pub fn flush_batch(&self) -> FlushBatch {
        let mut batch = FlushBatch {
            rows: Vec::with_capacity(self.dirty.len()),
            versions: Vec::with_capacity(self.dirty.len()),
            ..FlushBatch::default()
        };
        for (ip, version) in &self.dirty {
            if let Some(entry) = self.entries.get(ip) {
                batch.rows.push((*ip, *entry));
                batch.versions.push(*version);
            }
        }
        (batch.countries, batch.strings) = self.names.unsaved();
        batch.names_len = self.names.lens();
        batch
    }

    /// After `batch` committed: clears what it wrote unless changed since.
    pub fn flushed(&mut self, batch: &FlushBatch) {
        for ((ip, _), version) in batch.rows.iter().zip(&batch.versions) {
            if self.dirty.get(ip) == Some(version) {
                self.dirty.remove(ip);
            }
        }
        self.names.persisted_countries = self.names.persisted_countries.max(batch.names_len.0);
        self.names.persisted_strings = self.names.persisted_strings.max(batch.names_len.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(country: u16) -> Entry {
        Entry {
            org: 0,
            asn: 0,
            reason: 0,
            updated_at: 1,
            country,
            source: Source::MaxMind,
            attempts: 0,
        }
    }

    #[test]
    fn a_full_cache_drops_its_oldest_flushed_entries() {
        let mut cache = GeoCache::new(100);
        let ip = |i: u32| IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + i));
        for i in 0..100 {
            assert!(cache.put(
                ip(i),
                Entry {
                    updated_at: i,
                    ..entry(1)
                }
            ));
        }
        // Nothing flushed yet: nothing may go, the new answer is not kept.
        assert!(!cache.put(ip(100), entry(1)));
        assert_eq!(cache.len(), 100);
        let batch = cache.flush_batch();
        cache.flushed(&batch);
        assert!(cache.put(
            ip(100),
            Entry {
                updated_at: 500,
                ..entry(1)
            }
        ));
        // A tenth went, the oldest ten.
        assert_eq!(cache.len(), 91);
        assert_eq!(cache.evicted, 10);
        assert!((0..10).all(|i| cache.get(&ip(i)).is_none()));
        assert!(cache.get(&ip(10)).is_some() && cache.get(&ip(100)).is_some());
        // An address already held is updated in place, whatever the count.
        assert!(cache.put(ip(50), entry(2)));
    }

    #[test]
    fn a_change_during_a_flush_stays_dirty() {
        let mut cache = GeoCache::new(1000);
        let a: IpAddr = "11.0.0.1".parse().unwrap();
        let b: IpAddr = "11.0.0.2".parse().unwrap();
        cache.put(a, entry(1));
        cache.put(b, entry(1));
        let batch = cache.flush_batch();
        assert_eq!(batch.rows.len(), 2);
        cache.put(b, entry(2));
        cache.flushed(&batch);
        assert_eq!(cache.dirty_len(), 1);
        let next = cache.flush_batch();
        assert_eq!(next.rows, vec![(b, entry(2))]);
        cache.flushed(&next);
        assert_eq!(cache.dirty_len(), 0);
    }

    #[test]
    fn a_failed_flush_keeps_everything_dirty() {
        let mut cache = GeoCache::new(1000);
        cache.put("11.0.0.1".parse().unwrap(), entry(1));
        let _lost = cache.flush_batch();
        // No call to flushed(): the commit failed.
        assert_eq!(cache.flush_batch().rows.len(), 1);
    }
}
