//! Who gets a connection: a cap per user id, slots only root, the daemon's
//! own user and administrators may take, and a small cap on connections that
//! have not finished their handshake. One reader can then neither lock
//! everyone out nor make the daemon hold hundreds of half-open connections.
//!
//! "Trusted" here is root, the daemon's own user, and a peer whose primary
//! group (from its credentials) is `daemon.admin_group`, all known at accept
//! without a lookup. An administrator by a supplementary group is found by
//! the connection after its hello (a group-database lookup, off the async
//! workers) and then admitted as trusted ([`Admission::admit`] again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections one user id (other than root and the daemon's own) may hold.
pub const PER_UID: usize = 16;
/// Of `max_connections`, the slots kept for trusted peers.
pub const RESERVED: usize = 8;
/// Connections at once from peers not trusted at accept that have not
/// finished their handshake (each may hold a buffer until then).
pub const HANDSHAKING: usize = 32;

pub struct Admission {
    general: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    handshaking: Arc<Semaphore>,
    per_uid: Arc<Mutex<HashMap<u32, usize>>>,
    max: usize,
}

/// A connection's place, given back when it is dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    uid: u32,
    per_uid: Arc<Mutex<HashMap<u32, usize>>>,
    counted: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut counts = self.per_uid.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.uid);
            }
        }
    }
}

impl Admission {
    pub fn new(max_connections: usize) -> Admission {
        let reserved = RESERVED.min(max_connections / 2);
        Admission {
            general: Arc::new(Semaphore::new(max_connections - reserved)),
            reserved: Arc::new(Semaphore::new(reserved)),
            handshaking: Arc::new(Semaphore::new(HANDSHAKING)),
            per_uid: Arc::new(Mutex::new(HashMap::new())),
            max: max_connections,
        }
    }

    /// A place before the handshake, or None: the connection is closed at
    /// once. Trusted peers are never kept out.
    pub fn handshake(&self, trusted: bool) -> Option<Option<OwnedSemaphorePermit>> {
        if trusted {
            return Some(None);
        }
        Arc::clone(&self.handshaking)
            .try_acquire_owned()
            .ok()
            .map(Some)
    }

    /// A place for a connection from `uid`, or why there is none. Trusted
    /// peers may take the reserved slots and have no per-uid cap.
    pub fn admit(&self, uid: u32, trusted: bool) -> Result<Slot, String> {
        let permit = Arc::clone(&self.general)
            .try_acquire_owned()
            .ok()
            .or_else(|| {
                trusted
                    .then(|| Arc::clone(&self.reserved).try_acquire_owned().ok())
                    .flatten()
            });
        let Some(permit) = permit else {
            return Err(format!(
                "the daemon already serves {} connections; try again shortly",
                self.max
            ));
        };
        if trusted {
            return Ok(Slot {
                _permit: permit,
                uid,
                per_uid: Arc::clone(&self.per_uid),
                counted: false,
            });
        }
        let mut counts = self.per_uid.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(uid).or_insert(0);
        if *n >= PER_UID {
            return Err(format!(
                "uid {uid} already has {PER_UID} connections open to the daemon; close some"
            ));
        }
        *n += 1;
        Ok(Slot {
            _permit: permit,
            uid,
            per_uid: Arc::clone(&self.per_uid),
            counted: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_user_cannot_take_every_slot_and_root_keeps_its_own() {
        let a = Admission::new(40);
        let mut held = Vec::new();
        for _ in 0..PER_UID {
            held.push(a.admit(1000, false).unwrap());
        }
        assert!(
            a.admit(1000, false)
                .unwrap_err()
                .contains("uid 1000 already has")
        );
        // Other readers fill the general slots...
        for uid in 2000..2100 {
            if let Ok(slot) = a.admit(uid, false) {
                held.push(slot);
            }
        }
        assert!(
            a.admit(3000, false)
                .unwrap_err()
                .contains("already serves 40")
        );
        // ...and trusted peers (root, an administrator) still get in.
        assert!(a.handshake(true).is_some());
        let root = a.admit(0, true).unwrap();
        let admin = a.admit(1500, true).unwrap();
        drop((root, admin));
        // A slot given back is free again, and the count follows.
        held.clear();
        assert!(a.admit(1000, false).is_ok());
    }
}
