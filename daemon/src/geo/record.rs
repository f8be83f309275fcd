//! One cache entry, packed small, and the shared string tables it points into.
//!
//! A million entries repeat a few hundred country names and some tens of
//! thousands of organisations; entries hold small ids into [`Names`] instead.

use std::net::IpAddr;
use std::sync::Arc;

use bangui_proto::messages::GeoInfo;

use super::FastMap as HashMap;

/// Where an entry's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Source {
    /// Nothing answered yet.
    None = 0,
    MaxMind = 1,
    IpApi = 2,
    /// A private or reserved range: never sent anywhere, never retried.
    Local = 3,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::None => "none",
            Source::MaxMind => "maxmind",
            Source::IpApi => "ip-api",
            Source::Local => "local",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Some(match s {
            "none" => Source::None,
            "maxmind" => Source::MaxMind,
            "ip-api" => Source::IpApi,
            "local" => Source::Local,
            _ => return None,
        })
    }
}

/// An id into [`Names`]; 0 means "none".
pub type Sym = u32;
pub type CountryId = u16;

/// What is known about one address: 20 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub org: Sym,
    pub asn: u32,
    /// Why the country is unknown; 0 once resolved.
    pub reason: Sym,
    /// Unix seconds of the last answer or attempt.
    pub updated_at: u32,
    pub country: CountryId,
    pub source: Source,
    /// Failed attempts since the last success; drives the retry back-off.
    pub attempts: u8,
}

/// Longest wait before an unresolved address is tried again on its own
/// (geo_re_resolve retries regardless).
const MAX_BACKOFF_SECS: u32 = 6 * 3600;

impl Entry {
    pub fn resolved(&self) -> bool {
        self.country != 0
    }

    pub fn status(&self) -> &'static str {
        if self.resolved() {
            "resolved"
        } else if self.source == Source::Local {
            "not-routable"
        } else {
            "unresolved"
        }
    }

    /// Whether a retry is worth it: unresolved, routable, and its back-off
    /// (a minute, doubling per failed attempt, at most six hours) has passed.
    pub fn retry_due(&self, now: u32) -> bool {
        if self.resolved() || self.source == Source::Local {
            return false;
        }
        let shift = u32::from(self.attempts.saturating_sub(1)).min(16);
        let backoff = (60u32 << shift).min(MAX_BACKOFF_SECS);
        self.attempts == 0 || now >= self.updated_at.saturating_add(backoff)
    }
}

/// A country not yet in the database: id, code, name.
pub type NewCountry = (CountryId, Arc<str>, Arc<str>);
/// A string not yet in the database.
pub type NewString = (Sym, Arc<str>);

/// Country (code, name) pairs and other repeated strings, each stored once.
/// Ids only grow, so ids below the persisted marks are in the database.
#[derive(Debug, Default)]
pub struct Names {
    /// Index = id; index 0 is the "none" placeholder.
    countries: Vec<(Arc<str>, Arc<str>)>,
    country_ids: HashMap<Arc<str>, Vec<(Arc<str>, CountryId)>>,
    strings: Vec<Arc<str>>,
    string_ids: HashMap<Arc<str>, Sym>,
    pub persisted_countries: usize,
    pub persisted_strings: usize,
}

/// Country ids are u16; more distinct (code, name) pairs than this is not a real database.
const MAX_COUNTRIES: usize = u16::MAX as usize;

impl Names {
    pub fn new() -> Names {
        let empty: Arc<str> = Arc::from("");
        Names {
            countries: vec![(empty.clone(), empty.clone())],
            country_ids: HashMap::default(),
            strings: vec![empty],
            string_ids: HashMap::default(),
            persisted_countries: 1,
            persisted_strings: 1,
        }
    }

    pub fn country(&mut self, code: &str, name: &str) -> CountryId {
        if let Some(names) = self.country_ids.get(code)
            && let Some((_, id)) = names.iter().find(|(n, _)| &**n == name)
        {
            return *id;
        }
        if self.countries.len() > MAX_COUNTRIES {
            return 0;
        }
        let id = self.countries.len() as CountryId;
        self.put_country(id, code, name);
        id
    }

    /// Places a country under a known id (loading from the database).
    pub fn put_country(&mut self, id: CountryId, code: &str, name: &str) {
        let (code, name): (Arc<str>, Arc<str>) = (Arc::from(code), Arc::from(name));
        let index = usize::from(id);
        if self.countries.len() <= index {
            let empty: Arc<str> = Arc::from("");
            self.countries.resize(index + 1, (empty.clone(), empty));
        }
        self.countries[index] = (code.clone(), name.clone());
        self.country_ids.entry(code).or_default().push((name, id));
    }

    pub fn string(&mut self, s: &str) -> Sym {
        if s.is_empty() {
            return 0;
        }
        if let Some(id) = self.string_ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as Sym;
        self.put_string(id, s);
        id
    }

    pub fn put_string(&mut self, id: Sym, s: &str) {
        let s: Arc<str> = Arc::from(s);
        let index = id as usize;
        if self.strings.len() <= index {
            self.strings.resize(index + 1, Arc::from(""));
        }
        self.strings[index] = s.clone();
        self.string_ids.insert(s, id);
    }

    pub fn country_of(&self, id: CountryId) -> Option<(&str, &str)> {
        if id == 0 {
            return None;
        }
        self.countries
            .get(usize::from(id))
            .map(|(c, n)| (&**c, &**n))
    }

    pub fn string_of(&self, id: Sym) -> Option<&str> {
        if id == 0 {
            return None;
        }
        self.strings.get(id as usize).map(|s| &**s)
    }

    /// Countries and strings added since the last successful flush.
    pub fn unsaved(&self) -> (Vec<NewCountry>, Vec<NewString>) {
        let countries = (self.persisted_countries..self.countries.len())
            .map(|i| {
                let (c, n) = &self.countries[i];
                (i as CountryId, c.clone(), n.clone())
            })
            .collect();
        let strings = (self.persisted_strings..self.strings.len())
            .map(|i| (i as Sym, self.strings[i].clone()))
            .collect();
        (countries, strings)
    }

    pub fn lens(&self) -> (usize, usize) {
        (self.countries.len(), self.strings.len())
    }

    /// Renders an entry for the wire.
    pub fn info(&self, address: IpAddr, e: &Entry) -> GeoInfo {
        let country = self.country_of(e.country);
        GeoInfo {
            address: address.to_string(),
            country_code: country.map(|(c, _)| c.to_string()),
            country: country
                .map(|(_, n)| n.to_string())
                .filter(|n| !n.is_empty()),
            asn: (e.asn != 0).then_some(e.asn),
            org: self.string_of(e.org).map(str::to_string),
            source: e.source.as_str().to_string(),
            status: e.status().to_string(),
            reason: self.string_of(e.reason).map(str::to_string),
            updated_at: i64::from(e.updated_at),
            attempts: u32::from(e.attempts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small() {
        assert_eq!(std::mem::size_of::<Entry>(), 20);
    }

    #[test]
    fn names_are_stored_once() {
        let mut names = Names::new();
        let de = names.country("DE", "Germany");
        assert_eq!(names.country("DE", "Germany"), de);
        assert_ne!(names.country("DE", "Deutschland"), de);
        assert_eq!(names.country_of(de), Some(("DE", "Germany")));
        let org = names.string("Example GmbH");
        assert_eq!(names.string("Example GmbH"), org);
        assert_eq!(names.string(""), 0);
        let (countries, strings) = names.unsaved();
        assert_eq!(countries.len(), 2);
        assert_eq!(strings.len(), 1);
    }

    #[test]
    fn back_off_doubles_and_caps() {
        let e = |attempts, updated_at| Entry {
            org: 0,
            asn: 0,
            reason: 1,
            updated_at,
            country: 0,
            source: Source::None,
            attempts,
        };
        assert!(e(0, 1000).retry_due(1000));
        assert!(!e(1, 1000).retry_due(1059));
        assert!(e(1, 1000).retry_due(1060));
        assert!(!e(3, 1000).retry_due(1239));
        assert!(e(3, 1000).retry_due(1240));
        assert!(e(200, 1000).retry_due(1000 + MAX_BACKOFF_SECS));
        let local = Entry {
            source: Source::Local,
            ..e(0, 0)
        };
        assert!(!local.retry_due(u32::MAX));
    }
}
