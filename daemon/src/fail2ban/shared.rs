//! Readers' copy of each jail's status with its whole banned list. fail2ban
//! builds and pickles the full list for every `status JAIL` (tens of
//! milliseconds for 30,000 bans) while every other command waits, its own
//! jails' bans included; readers looping it would stall fail2ban. So readers
//! share one copy per jail, at most [`MAX_AGE`] old, and one fetch at a time
//! refreshes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::reply::JailStatus;

/// Oldest copy a reader is given.
pub const MAX_AGE: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Shared {
    /// Held by the one fetch that refreshes a copy.
    fetching: tokio::sync::Mutex<()>,
    /// Only jails fail2ban answered for, so a reader naming made-up jails
    /// adds nothing; copies past their age are dropped when one is stored.
    copies: Mutex<HashMap<String, (Instant, Arc<JailStatus>)>>,
}

impl Shared {
    pub fn fresh(&self, jail: &str) -> Option<Arc<JailStatus>> {
        let copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
        copies
            .get(jail)
            .filter(|(at, _)| at.elapsed() < MAX_AGE)
            .map(|(_, s)| Arc::clone(s))
    }

    pub fn store(&self, jail: &str, status: Arc<JailStatus>) {
        let mut copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
        copies.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
        copies.insert(jail.to_string(), (Instant::now(), status));
    }

    /// Waits until no other fetch runs.
    pub async fn one_fetch(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.fetching.lock().await
    }
}
