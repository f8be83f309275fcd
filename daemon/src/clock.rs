//! Wall-clock time for records (unix seconds, UTC). Scheduling uses tokio's
//! monotonic clock instead, which tests pause and advance.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub enum Clock {
    System,
    /// A clock that moves only when told to, for tests.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start)))
    }

    pub fn now_unix(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            Clock::Manual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; a system clock ignores this.
    pub fn advance(&self, secs: i64) {
        if let Clock::Manual(now) = self {
            now.fetch_add(secs, Ordering::SeqCst);
        }
    }
}
