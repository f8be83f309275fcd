//! ip-api.com's rate limit, obeyed strictly: the service bans clients that go
//! over it. Two guards, the stricter wins:
//! - bangui's own count: at most `max` requests in any sliding `window`,
//!   timed from when each answer arrived (the server saw the request before that);
//! - the server's word: `X-Rl` requests left until `X-Ttl` seconds from now,
//!   and a 429 pauses everything until the window resets.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Added to every reset time the server gives: `X-Ttl` is whole seconds.
const MARGIN: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct RateLimit {
    max: u32,
    window: Duration,
    sent: VecDeque<Instant>,
    /// Requests the server said are left, and when its window resets.
    server: Option<(u32, Instant)>,
    /// After a 429: nothing until then.
    paused_until: Option<Instant>,
    /// The server's count already includes the request being recorded.
    observed: bool,
}

impl RateLimit {
    pub fn new(max: u32, window: Duration) -> RateLimit {
        RateLimit {
            max: max.max(1),
            window,
            sent: VecDeque::new(),
            server: None,
            paused_until: None,
            observed: false,
        }
    }

    fn forget_old(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.server.is_some_and(|(_, reset)| reset <= now) {
            self.server = None;
        }
        if self.paused_until.is_some_and(|p| p <= now) {
            self.paused_until = None;
        }
    }

    /// How long until the next request may go; zero means now.
    pub fn delay(&mut self, now: Instant) -> Duration {
        self.forget_old(now);
        let mut until = now;
        if let Some(p) = self.paused_until {
            until = until.max(p);
        }
        if let Some((0, reset)) = self.server {
            until = until.max(reset);
        }
        if self.sent.len() >= self.max as usize
            && let Some(oldest) = self.sent.front()
        {
            until = until.max(*oldest + self.window);
        }
        until.saturating_duration_since(now)
    }

    /// A request finished (answered or not) at `now`.
    pub fn record(&mut self, now: Instant) {
        self.sent.push_back(now);
        if !std::mem::take(&mut self.observed)
            && let Some((left, _)) = &mut self.server
        {
            *left = left.saturating_sub(1);
        }
    }

    /// What the answer's headers said. `too_many` is a 429.
    pub fn observe(
        &mut self,
        now: Instant,
        left: Option<u32>,
        ttl_secs: Option<u64>,
        too_many: bool,
        retry_after_secs: Option<u64>,
    ) {
        self.observed = true;
        let ttl = ttl_secs.map(|s| Duration::from_secs(s.min(3600)) + MARGIN);
        if let (Some(left), Some(ttl)) = (left, ttl) {
            self.server = Some((left, now + ttl));
        }
        if too_many {
            let wait = retry_after_secs
                .map(|s| Duration::from_secs(s.min(3600)) + MARGIN)
                .or(ttl)
                .unwrap_or(self.window);
            self.paused_until = Some(now + wait);
        }
    }

    /// Requests that may go now without waiting, and how long until more may.
    pub fn budget(&mut self, now: Instant) -> (u32, Duration) {
        let delay = self.delay(now);
        if !delay.is_zero() {
            return (0, delay);
        }
        let local = self.max.saturating_sub(self.sent.len() as u32);
        let left = match self.server {
            Some((server, _)) => local.min(server),
            None => local,
        };
        let next = self
            .sent
            .front()
            .map(|t| (*t + self.window).saturating_duration_since(now))
            .unwrap_or_default();
        (left, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn never_more_than_max_in_any_window() {
        let start = Instant::now();
        let mut limit = RateLimit::new(15, MINUTE);
        let mut now = start;
        let mut sent = Vec::new();
        while sent.len() < 100 {
            now += limit.delay(now);
            limit.record(now);
            sent.push(now);
            now += Duration::from_millis(300);
        }
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().filter(|u| **u - *t < MINUTE).count();
            assert!(in_window <= 15, "{in_window} requests within a minute");
        }
    }

    #[test]
    fn zero_left_waits_for_the_reset() {
        let now = Instant::now();
        let mut limit = RateLimit::new(15, MINUTE);
        limit.record(now);
        limit.observe(now, Some(0), Some(20), false, None);
        assert_eq!(limit.delay(now), Duration::from_secs(21));
        assert_eq!(limit.budget(now).0, 0);
        assert_eq!(limit.delay(now + Duration::from_secs(21)), Duration::ZERO);
    }

    #[test]
    fn a_429_pauses_even_when_headers_say_otherwise() {
        let now = Instant::now();
        let mut limit = RateLimit::new(15, MINUTE);
        limit.observe(now, Some(5), Some(30), true, None);
        assert_eq!(limit.delay(now), Duration::from_secs(31));
        let mut limit = RateLimit::new(15, MINUTE);
        limit.observe(now, None, None, true, Some(7));
        assert_eq!(limit.delay(now), Duration::from_secs(8));
        let mut limit = RateLimit::new(15, MINUTE);
        limit.observe(now, None, None, true, None);
        assert_eq!(limit.delay(now), MINUTE);
    }

    #[test]
    fn server_count_lowers_the_budget() {
        let now = Instant::now();
        let mut limit = RateLimit::new(15, MINUTE);
        limit.observe(now, Some(3), Some(40), false, None);
        limit.record(now);
        assert_eq!(limit.budget(now).0, 3, "the answer's count includes itself");
        limit.record(now);
        assert_eq!(limit.budget(now).0, 2, "a request without an answer counts");
    }
}
