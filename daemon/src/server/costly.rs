//! Reads that cost real work — history statistics and pages, a jail's whole
//! banned list, `banned` for many addresses — are rationed for peers who may
//! not change state: one at a time per user and two at a time over all of
//! them, the rest waiting their turn. So sixteen readers looping `history
//! stats` keep one query busy, not the database and fail2ban. Root and
//! administrators are never held here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bangui_proto::Request;
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// Costly reads from non-administrators running at once, over all users.
const AT_ONCE: usize = 2;
/// Users remembered before idle ones are forgotten.
const USERS_KEPT: usize = 64;

pub struct CostlyReads {
    per_uid: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
    all: Arc<Semaphore>,
}

/// Held while a costly read runs.
pub struct Turn {
    _user: OwnedMutexGuard<()>,
    _all: OwnedSemaphorePermit,
}

/// Whether a request is one of the rationed reads.
pub fn is_costly(request: &Request) -> bool {
    matches!(
        request,
        Request::HistoryList(_)
            | Request::HistoryIp(_)
            | Request::HistoryStats(_)
            | Request::HistoryTop(_)
            | Request::JailStatus(_)
            | Request::Banned(_)
            | Request::Explain(_)
    )
}

impl CostlyReads {
    pub fn new() -> CostlyReads {
        CostlyReads {
            per_uid: Mutex::new(HashMap::new()),
            all: Arc::new(Semaphore::new(AT_ONCE)),
        }
    }

    /// Waits for `uid`'s turn: its earlier costly read done, and a place among
    /// the [`AT_ONCE`].
    pub async fn turn(&self, uid: u32) -> Option<Turn> {
        let user = {
            let mut map = self.per_uid.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= USERS_KEPT {
                // Only this map holds an idle user's lock.
                map.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            Arc::clone(map.entry(uid).or_default())
        };
        let user = user.lock_owned().await;
        let all = Arc::clone(&self.all).acquire_owned().await.ok()?;
        Some(Turn {
            _user: user,
            _all: all,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_per_user_and_two_over_all() {
        let reads = CostlyReads::new();
        let first = reads.turn(1000).await.unwrap();
        // The same user waits for its first read.
        let again = tokio::time::timeout(Duration::from_millis(50), reads.turn(1000)).await;
        assert!(again.is_err(), "a second read of one user ran at once");
        // Another user goes ahead, and a third waits for one of the two.
        let other = reads.turn(1001).await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), reads.turn(1002)).await;
        assert!(third.is_err(), "a third read ran beside two");
        drop(first);
        assert!(reads.turn(1002).await.is_some());
        drop(other);
    }

    #[tokio::test]
    async fn idle_users_are_forgotten() {
        let reads = CostlyReads::new();
        for uid in 0..(USERS_KEPT as u32 * 3) {
            drop(reads.turn(uid).await);
        }
        let kept = reads.per_uid.lock().unwrap().len();
        assert!(kept <= USERS_KEPT, "{kept} users remembered");
    }
}
