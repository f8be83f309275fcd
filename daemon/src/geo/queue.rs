//! The background resolution queue: imports and history sync hand addresses
//! here and go on; one task resolves them within the rate limits.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

pub struct Queue {
    items: Mutex<Pending>,
    notify: Notify,
    capacity: usize,
    overflowed: AtomicU64,
}

#[derive(Default)]
struct Pending {
    order: VecDeque<IpAddr>,
    /// The same address queued twice is resolved once.
    members: HashSet<IpAddr>,
}

impl Queue {
    pub fn new(capacity: usize) -> Queue {
        Queue {
            items: Mutex::new(Pending::default()),
            notify: Notify::new(),
            capacity,
            overflowed: AtomicU64::new(0),
        }
    }

    /// Queues what fits; returns the addresses that did not.
    pub fn push(&self, ips: impl IntoIterator<Item = IpAddr>) -> Vec<IpAddr> {
        let mut overflow = Vec::new();
        let mut added = false;
        if let Ok(mut pending) = self.items.lock() {
            for ip in ips {
                let ip = ip.to_canonical();
                if pending.members.contains(&ip) {
                    continue;
                }
                if pending.order.len() >= self.capacity {
                    overflow.push(ip);
                    continue;
                }
                pending.members.insert(ip);
                pending.order.push_back(ip);
                added = true;
            }
        }
        if added {
            self.notify.notify_one();
        }
        self.overflowed
            .fetch_add(overflow.len() as u64, Ordering::Relaxed);
        overflow
    }

    /// Waits for at least one address and takes up to `max`.
    pub async fn take(&self, max: usize) -> Vec<IpAddr> {
        loop {
            let notified = self.notify.notified();
            if let Ok(mut pending) = self.items.lock()
                && !pending.order.is_empty()
            {
                let n = pending.order.len().min(max);
                let batch: Vec<IpAddr> = pending.order.drain(..n).collect();
                for ip in &batch {
                    pending.members.remove(ip);
                }
                return batch;
            }
            notified.await;
        }
    }

    pub fn len(&self) -> usize {
        self.items.lock().map(|p| p.order.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_and_deduplicated() {
        let q = Queue::new(3);
        let ip = |n: u8| IpAddr::from([11, 0, 0, n]);
        let over = q.push([ip(1), ip(1), ip(2), ip(3), ip(4)]);
        assert_eq!(over, vec![ip(4)]);
        assert_eq!(q.overflowed(), 1);
        assert_eq!(q.take(2).await, vec![ip(1), ip(2)]);
        assert_eq!(q.take(10).await, vec![ip(3)]);
        assert!(q.is_empty());
    }
}
