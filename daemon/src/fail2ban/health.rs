//! The latest fail2ban health snapshot, shared by the health_check job (which
//! writes it) and the status requests (which read it). A change between up
//! and down is logged once, not at every check.

use std::path::PathBuf;
use std::sync::RwLock;

use bangui_proto::messages::{Fail2banHealth, Fail2banState, JailCounts};

pub struct Health {
    socket: PathBuf,
    /// Jails bangui bans into; status says when fail2ban has not loaded one.
    expected_jails: Vec<String>,
    snapshot: RwLock<Snapshot>,
}

struct Snapshot {
    state: Fail2banState,
    checked_at: Option<i64>,
    since: Option<i64>,
    version: Option<String>,
    jails: Vec<JailCounts>,
    error: Option<String>,
}

impl Health {
    pub fn new(socket: PathBuf, expected_jails: Vec<String>) -> Health {
        Health {
            socket,
            expected_jails,
            snapshot: RwLock::new(Snapshot {
                state: Fail2banState::Unknown,
                checked_at: None,
                since: None,
                version: None,
                jails: Vec::new(),
                error: None,
            }),
        }
    }

    pub fn state(&self) -> Fail2banState {
        self.read(|s| s.state)
    }

    fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        let guard = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    fn write(&self, f: impl FnOnce(&mut Snapshot)) {
        let mut guard = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard);
    }

    /// Records a successful check.
    pub fn record_up(&self, now: i64, version: String, jails: Vec<JailCounts>) {
        let previous = self.state();
        if previous != Fail2banState::Up {
            tracing::info!(version = %version, socket = %self.socket.display(), "fail2ban is up");
        }
        self.write(|s| {
            if s.state != Fail2banState::Up {
                s.since = Some(now);
            }
            s.state = Fail2banState::Up;
            s.checked_at = Some(now);
            s.version = Some(version);
            s.jails = jails;
            s.error = None;
        });
    }

    /// Records a failed check; the last known version and jails are kept.
    pub fn record_down(&self, now: i64, error: String) {
        let previous = self.state();
        if previous != Fail2banState::Down {
            tracing::warn!(error = %error, "fail2ban is down");
        }
        self.write(|s| {
            if s.state != Fail2banState::Down {
                s.since = Some(now);
            }
            s.state = Fail2banState::Down;
            s.checked_at = Some(now);
            s.error = Some(error);
        });
    }

    pub fn snapshot(&self) -> Fail2banHealth {
        self.read(|s| {
            let missing_jails: Vec<String> = if s.state == Fail2banState::Up {
                self.expected_jails
                    .iter()
                    .filter(|j| !s.jails.iter().any(|c| &c.name == *j))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            let hint = if !missing_jails.is_empty() {
                Some(format!(
                    "fail2ban has not loaded {}; run `fail2ban-client reload` (or `systemctl reload fail2ban`) to load the jail files bangui wrote",
                    missing_jails.join(", ")
                ))
            } else if s.state == Fail2banState::Down {
                Some(format!(
                    "start fail2ban (`systemctl start fail2ban`) or point fail2ban.socket at its socket (now {})",
                    self.socket.display()
                ))
            } else {
                None
            };
            Fail2banHealth {
                state: s.state,
                socket: self.socket.display().to_string(),
                checked_at: s.checked_at,
                since: s.since,
                version: s.version.clone(),
                jails: s.jails.clone(),
                error: s.error.clone(),
                missing_jails,
                hint,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_and_missing_jails() {
        let h = Health::new("/s".into(), vec!["bangui-manual".into()]);
        assert_eq!(h.snapshot().state, Fail2banState::Unknown);
        h.record_down(10, "no socket".into());
        h.record_down(20, "no socket".into());
        let s = h.snapshot();
        assert_eq!(
            (s.state, s.since, s.checked_at),
            (Fail2banState::Down, Some(10), Some(20))
        );
        assert!(s.hint.unwrap().contains("/s"));
        let sshd = JailCounts {
            name: "sshd".into(),
            currently_failed: 0,
            total_failed: 0,
            currently_banned: 0,
            total_banned: 0,
        };
        h.record_up(30, "1.0.2".into(), vec![sshd]);
        let s = h.snapshot();
        assert_eq!((s.state, s.since), (Fail2banState::Up, Some(30)));
        assert_eq!(s.missing_jails, ["bangui-manual"]);
        assert!(s.hint.unwrap().contains("fail2ban-client reload"));
    }
}
