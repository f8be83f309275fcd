//! The in-memory cache: address → [`Entry`], plus the dirty set of entries the
//! database does not have yet. An entry leaves the dirty set only when a flush
//! that wrote its current version has committed.

use std::net::IpAddr;

use super::FastMap as HashMap;

use super::record::{Entry, Names, NewCountry, NewString, Source};

#[derive(Debug, Default)]
pub struct GeoCache {
    entries: HashMap<IpAddr, Entry>,
    /// Address → version of its latest change.
    dirty: HashMap<IpAddr, u64>,
    next_version: u64,
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
    pub fn new() -> GeoCache {
        GeoCache {
            names: Names::new(),
            ..GeoCache::default()
        }
    }

    /// A cache loaded from the database: nothing dirty.
    pub fn loaded(entries: HashMap<IpAddr, Entry>, mut names: Names) -> GeoCache {
        let (countries, strings) = names.lens();
        names.persisted_countries = countries;
        names.persisted_strings = strings;
        GeoCache {
            entries,
            dirty: HashMap::default(),
            next_version: 0,
            names,
        }
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&Entry> {
        self.entries.get(ip)
    }

    pub fn put(&mut self, ip: IpAddr, entry: Entry) {
        self.entries.insert(ip, entry);
        self.next_version += 1;
        self.dirty.insert(ip, self.next_version);
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
    fn a_change_during_a_flush_stays_dirty() {
        let mut cache = GeoCache::new();
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
        let mut cache = GeoCache::new();
        cache.put("11.0.0.1".parse().unwrap(), entry(1));
        let _lost = cache.flush_batch();
        // No call to flushed(): the commit failed.
        assert_eq!(cache.flush_batch().rows.len(), 1);
    }
}
