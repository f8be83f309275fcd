//! fail2ban: the native socket client, reply decoding, the health snapshot and
//! the jail files bangui manages.

pub mod batching;
pub mod client;
pub mod enforcement;
pub mod health;
pub mod jails;
pub mod pickle;
pub mod reply;
mod shared;

pub use batching::Batching;

/// The names fail2ban's `set NAME …` and `get NAME` read as server settings
/// rather than jails (fail2ban 1.0 `transmitter.py`): as a jail name,
/// `set logtarget banip X` would move fail2ban's log to a file named `banip`.
pub const SERVER_SETTINGS: &[&str] = &[
    "loglevel",
    "logtarget",
    "syslogsocket",
    "allowipv6",
    "thread",
    "dbfile",
    "dbmaxmatches",
    "dbpurgeage",
];
pub use client::{Fail2ban, Fail2banError, Settings};
pub use reply::JailStatus;
