//! How many addresses go into each `banip`/`unbanip` request.
//!
//! fail2ban answers no one else while it works through a request, and each
//! request costs it a fixed overhead besides. Batches are therefore sized by
//! time: start small, measure how fast fail2ban takes addresses, and size the
//! next request to take about `target`, so other clients wait at most about
//! that long while bans run near fail2ban's own ceiling, on any machine.

use std::time::Duration;

/// The smallest request: with a real firewall action fail2ban may spend
/// 4–20 ms on each address, and a request of 100 then blocks it for seconds.
pub const FLOOR: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// The first request's size.
    pub first: usize,
    /// The largest request.
    pub max: usize,
    /// How long one request should keep fail2ban busy; zero means fixed
    /// requests of `first` addresses.
    pub target: Duration,
}

impl Batching {
    /// The size after a request of `last` addresses that took `took`.
    pub fn next(&self, last: usize, took: Duration) -> usize {
        if self.target.is_zero() || last == 0 {
            return self.first;
        }
        let rate = last as f64 / took.as_secs_f64().max(1e-4);
        let wanted = (rate * self.target.as_secs_f64()) as usize;
        // Grow at most fourfold per step, so one lucky request cannot overshoot.
        let ceiling = last.saturating_mul(4).min(self.max).max(self.first);
        wanted.clamp(FLOOR.min(self.first), ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Batching = Batching {
        first: 100,
        max: 5000,
        target: Duration::from_millis(50),
    };

    #[test]
    fn sizes_follow_the_measured_rate() {
        // 20,000 addresses/s: 50 ms is 1,000, reached in steps of at most 4x.
        assert_eq!(B.next(100, Duration::from_millis(5)), 400);
        assert_eq!(B.next(400, Duration::from_millis(20)), 1000);
        assert_eq!(B.next(1000, Duration::from_millis(50)), 1000);
        // A slow fail2ban (2,000/s) gets smaller requests; one that spends
        // 10 ms on an address (a real firewall action), a few at a time.
        assert_eq!(B.next(1000, Duration::from_millis(500)), 100);
        assert_eq!(B.next(100, Duration::from_secs(1)), FLOOR);
        assert_eq!(B.next(FLOOR, Duration::from_millis(50)), FLOOR);
        // It grows back when fail2ban speeds up.
        assert_eq!(B.next(FLOOR, Duration::from_millis(1)), 100);
        // Never above `max`, whatever the speed.
        assert_eq!(B.next(4000, Duration::from_millis(1)), 5000);
    }

    #[test]
    fn zero_target_means_fixed_requests() {
        let fixed = Batching {
            target: Duration::ZERO,
            ..B
        };
        assert_eq!(fixed.next(100, Duration::from_millis(1)), 100);
    }
}
