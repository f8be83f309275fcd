//! `sd_notify` messages. Every call is a no-op without `NOTIFY_SOCKET`, so
//! the daemon behaves the same when started by hand.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::hygiene;

/// Longest STATUS line sent; systemctl shows one line anyway.
const MAX_STATUS: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct Notifier {
    enabled: bool,
}

/// `text` as one STATUS line: secrets scrubbed, control characters (a
/// newline would start a new assignment, such as READY=1) turned into
/// spaces, runs of spaces collapsed, at most [`MAX_STATUS`] characters.
pub fn status_line(text: &str) -> String {
    let scrubbed = hygiene::scrub(text);
    let mut line = String::with_capacity(scrubbed.len().min(MAX_STATUS));
    let mut count = 0;
    let mut space = false;
    for c in scrubbed.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space || line.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count == MAX_STATUS {
            line.pop();
            line.push('…');
            break;
        }
        line.push(c);
        count += 1;
    }
    line.trim_end().to_string()
}

impl Notifier {
    /// Enabled when the service manager gave a notification socket.
    pub fn from_env() -> Notifier {
        Notifier {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            tracing::debug!(error = %e, "cannot notify the service manager");
        }
    }

    pub fn ready(&self, status: &str) {
        let line = status_line(status);
        self.send(&[NotifyState::Ready, NotifyState::Status(&line)]);
    }

    pub fn status(&self, status: &str) {
        let line = status_line(status);
        self.send(&[NotifyState::Status(&line)]);
    }

    pub fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    pub fn stopping(&self, status: &str) {
        let line = status_line(status);
        self.send(&[NotifyState::Stopping, NotifyState::Status(&line)]);
    }

    /// Asks for `by` more time before the stop timeout, from now.
    pub fn extend_timeout(&self, by: Duration, status: &str) {
        let usec = u32::try_from(by.as_micros()).unwrap_or(u32::MAX);
        let line = status_line(status);
        self.send(&[
            NotifyState::ExtendTimeoutUsec(usec),
            NotifyState::Status(&line),
        ]);
    }

    /// RELOADING=1 with the monotonic time systemd wants beside it.
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    /// The watchdog ping interval: half of `WATCHDOG_USEC`, if one is set for us.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        sd_notify::watchdog_enabled()
            .filter(|d| !d.is_zero())
            .map(|d| d / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_one_clean_line() {
        assert_eq!(
            status_line("fail2ban 1.0.2\nREADY=1"),
            "fail2ban 1.0.2 READY=1"
        );
        assert_eq!(status_line("a\r\n\t\x1b[31mb  c "), "a [31mb c");
        let long = "x".repeat(500);
        assert_eq!(status_line(&long).chars().count(), MAX_STATUS);
        assert!(status_line(&long).ends_with('…'));
        assert_eq!(
            status_line("source https://u:pw@h/x?key=abc"),
            "source https://***@h/x?key=***"
        );
    }
}
