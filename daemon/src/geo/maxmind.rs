//! Local MaxMind databases: a Country or City file and an optional ASN file,
//! memory-mapped, re-opened when the file on disk is replaced.
//!
//! Many addresses share one data record, so each open file memoises decoded
//! records by their offset: a lookup is a tree walk plus a hash probe.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bangui_proto::messages::MaxMindInfo;
use maxminddb::{MaxMindDbError, Mmap, PathElement, Reader};

use super::FastMap as HashMap;
use crate::config::MaxMindPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Country,
    Asn,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Country => "country",
            Role::Asn => "asn",
        }
    }
}

/// A decoded record: country (code, name) or (ASN, organisation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    Country {
        code: Arc<str>,
        name: Arc<str>,
    },
    Asn {
        asn: u32,
        org: Option<Arc<str>>,
    },
    /// The record has neither.
    Empty,
}

/// Identifies one version of a file: a rename or an in-place rewrite changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

pub struct Opened {
    reader: Reader<Mmap>,
    memo: Mutex<HashMap<usize, Hit>>,
}

/// Memoised records per open file; past this the memo is cleared, not grown.
const MEMO_MAX: usize = 1 << 20;

impl Opened {
    pub fn lookup(&self, role: Role, ip: IpAddr) -> Result<Option<Hit>, MaxMindDbError> {
        let result = self.reader.lookup(ip)?;
        let Some(offset) = result.offset() else {
            return Ok(None);
        };
        if let Ok(memo) = self.memo.lock()
            && let Some(hit) = memo.get(&offset)
        {
            return Ok(Some(hit.clone()));
        }
        let hit = match role {
            Role::Country => {
                let place =
                    |key: &'static str| -> Result<Option<(String, String)>, MaxMindDbError> {
                        let code: Option<String> = result
                            .decode_path(&[PathElement::Key(key), PathElement::Key("iso_code")])?;
                        let name: Option<String> = result.decode_path(&[
                            PathElement::Key(key),
                            PathElement::Key("names"),
                            PathElement::Key("en"),
                        ])?;
                        Ok(code.map(|c| (c, name.unwrap_or_default())))
                    };
                match place("country")?.or(place("registered_country")?) {
                    Some((code, name)) if valid_code(&code) => Hit::Country {
                        code: Arc::from(code.to_ascii_uppercase()),
                        name: Arc::from(super::clean(&name)),
                    },
                    _ => Hit::Empty,
                }
            }
            Role::Asn => {
                let asn: Option<u32> =
                    result.decode_path(&[PathElement::Key("autonomous_system_number")])?;
                let org: Option<String> =
                    result.decode_path(&[PathElement::Key("autonomous_system_organization")])?;
                match asn {
                    Some(asn) if asn != 0 => Hit::Asn {
                        asn,
                        org: org.map(|o| Arc::from(super::clean(&o))),
                    },
                    _ => Hit::Empty,
                }
            }
        };
        if let Ok(mut memo) = self.memo.lock() {
            if memo.len() >= MEMO_MAX {
                memo.clear();
            }
            memo.insert(offset, hit.clone());
        }
        Ok(Some(hit))
    }
}

pub fn valid_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Maps a database file.
#[allow(unsafe_code)]
fn map(path: &Path) -> Result<Reader<Mmap>, MaxMindDbError> {
    // SAFETY: the mapping is read-only and the reader checks every offset it
    // follows against the mapping's length. What a mapping cannot guard
    // against is the file being truncated or rewritten in place while mapped;
    // geoipupdate and `mv`/`install` replace the file by rename, which leaves
    // this mapping on the old inode, and the docs tell administrators to
    // replace the file that way. A rename is then noticed by `refresh`.
    unsafe { Reader::open_mmap(path) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Off,
    Unchecked,
    Missing,
    Loaded,
    Unreadable(String),
}

struct Slot {
    opened: Option<Arc<Opened>>,
    /// The stamp of the file last tried, loaded or not.
    tried: Option<Stamp>,
    state: State,
    database_type: Option<String>,
    build_epoch: Option<u64>,
}

/// One configured database file.
pub struct MaxMindFile {
    role: Role,
    path: Option<PathBuf>,
    explicit: bool,
    slot: RwLock<Slot>,
    /// Files loaded so far: a change tells the cache a new file arrived.
    loads: AtomicU64,
}

impl MaxMindFile {
    pub fn new(role: Role, setting: &MaxMindPath) -> MaxMindFile {
        MaxMindFile {
            role,
            path: setting.path.clone(),
            explicit: setting.explicit,
            loads: AtomicU64::new(0),
            slot: RwLock::new(Slot {
                opened: None,
                tried: None,
                state: if setting.path.is_some() {
                    State::Unchecked
                } else {
                    State::Off
                },
                database_type: None,
                build_epoch: None,
            }),
        }
    }

    /// The open file, if any.
    pub fn current(&self) -> Option<Arc<Opened>> {
        self.slot.read().ok().and_then(|s| s.opened.clone())
    }

    /// Checks the file on disk and re-opens it when it changed. A file that
    /// cannot be opened leaves the previous one in use.
    pub fn refresh(&self) {
        let Some(path) = &self.path else { return };
        let meta = std::fs::metadata(path);
        let Ok(mut slot) = self.slot.write() else {
            return;
        };
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) => {
                if slot.state != State::Missing {
                    let role = self.role.as_str();
                    if slot.opened.is_some() {
                        tracing::warn!(file = %path.display(), error = %e, "MaxMind {role} database is gone; keeping the copy already open");
                    } else if self.explicit {
                        tracing::warn!(file = %path.display(), error = %e, "MaxMind {role} database cannot be opened; carrying on without it");
                    } else {
                        tracing::info!(file = %path.display(), "no MaxMind {role} database at the default path; install geoipupdate or set it in [geo]");
                    }
                    slot.state = State::Missing;
                }
                slot.tried = None;
                return;
            }
        };
        let stamp = Stamp::of(&meta);
        if slot.tried == Some(stamp) {
            return;
        }
        slot.tried = Some(stamp);
        match map(path) {
            Ok(reader) => {
                let database_type = reader.metadata().database_type.clone();
                let build_epoch = reader.metadata().build_epoch;
                let wrong = match self.role {
                    Role::Country => database_type.contains("ASN"),
                    Role::Asn => !database_type.contains("ASN"),
                };
                if wrong {
                    tracing::warn!(file = %path.display(), database_type = %database_type, "MaxMind file looks like the wrong kind for the {} setting", self.role.as_str());
                }
                tracing::info!(file = %path.display(), database_type = %database_type, build_epoch, "MaxMind {} database loaded", self.role.as_str());
                slot.opened = Some(Arc::new(Opened {
                    reader,
                    memo: Mutex::new(HashMap::default()),
                }));
                slot.state = State::Loaded;
                self.loads.fetch_add(1, Ordering::Relaxed);
                slot.database_type = Some(database_type);
                slot.build_epoch = Some(build_epoch);
            }
            Err(e) => {
                let keep = if slot.opened.is_some() {
                    "; keeping the copy already open"
                } else {
                    "; carrying on without it"
                };
                tracing::warn!(file = %path.display(), error = %e, "MaxMind {} database cannot be read{keep}", self.role.as_str());
                slot.state = State::Unreadable(e.to_string());
            }
        }
    }

    pub fn info(&self) -> MaxMindInfo {
        let slot = self.slot.read();
        let (state, error, database_type, build_epoch) = match &slot {
            Ok(s) => {
                let (state, error) = match &s.state {
                    State::Off => ("off", None),
                    State::Unchecked | State::Missing => ("missing", None),
                    State::Loaded => ("loaded", None),
                    State::Unreadable(e) => ("unreadable", Some(e.clone())),
                };
                (state, error, s.database_type.clone(), s.build_epoch)
            }
            Err(_) => ("unreadable", None, None, None),
        };
        MaxMindInfo {
            role: self.role.as_str().to_string(),
            path: self.path.as_ref().map(|p| p.display().to_string()),
            state: state.to_string(),
            database_type,
            build_epoch,
            error,
        }
    }
}

/// Both files, looked up together.
pub struct MaxMind {
    pub country: MaxMindFile,
    pub asn: MaxMindFile,
}

/// What MaxMind knows of one address.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    pub country: Option<(Arc<str>, Arc<str>)>,
    pub asn: Option<(u32, Option<Arc<str>>)>,
}

impl MaxMind {
    pub fn new(country: &MaxMindPath, asn: &MaxMindPath) -> MaxMind {
        MaxMind {
            country: MaxMindFile::new(Role::Country, country),
            asn: MaxMindFile::new(Role::Asn, asn),
        }
    }

    pub fn refresh(&self) {
        self.country.refresh();
        self.asn.refresh();
    }

    /// Changes whenever either file is (re)loaded.
    pub fn generation(&self) -> u64 {
        self.country.loads.load(Ordering::Relaxed) + self.asn.loads.load(Ordering::Relaxed)
    }

    /// The open files, taken once for a batch of lookups.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            country: self.country.current(),
            asn: self.asn.current(),
        }
    }
}

pub struct Snapshot {
    country: Option<Arc<Opened>>,
    asn: Option<Arc<Opened>>,
}

impl Snapshot {
    pub fn is_empty(&self) -> bool {
        self.country.is_none() && self.asn.is_none()
    }

    /// Errors (a damaged file) count as "not found": the next source gets a go.
    pub fn lookup(&self, ip: IpAddr) -> Found {
        let mut found = Found::default();
        if let Some(db) = &self.country {
            match db.lookup(Role::Country, ip) {
                Ok(Some(Hit::Country { code, name })) => found.country = Some((code, name)),
                Ok(_) => {}
                Err(e) => log_damage(Role::Country, &e),
            }
        }
        if let Some(db) = &self.asn {
            match db.lookup(Role::Asn, ip) {
                Ok(Some(Hit::Asn { asn, org })) => found.asn = Some((asn, org)),
                Ok(_) => {}
                Err(e) => log_damage(Role::Asn, &e),
            }
        }
        found
    }
}

/// One line per minute at most, however many lookups hit a damaged file.
fn log_damage(role: Role, error: &MaxMindDbError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(error = %error, "MaxMind {} database lookup failed; the file may be damaged", role.as_str());
    }
}
