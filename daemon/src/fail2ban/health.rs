//! The latest fail2ban health snapshot, shared by the health_check job and
//! bangui's own bans, unbans and imports (which take it) and the status
//! requests (which read it). A change between up and down is logged once,
//! not at every check.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::RwLock;

use bangui_proto::messages::{Fail2banHealth, Fail2banState, JailCounts};

use super::{Fail2ban, Fail2banError};
use crate::clock::Clock;

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

    /// Asks fail2ban now and records the answer. `Ok` with a summary when
    /// fail2ban is up or plainly unreachable (a finding, not a failure); the
    /// error when it answered something bangui cannot read.
    pub async fn check(&self, fail2ban: &Fail2ban, clock: &Clock) -> Result<String, Fail2banError> {
        match probe(fail2ban).await {
            Ok((version, jails)) => {
                let summary = format!("fail2ban {version} is up with {} jail(s)", jails.len());
                self.record_up(clock.now_unix(), version, jails);
                Ok(summary)
            }
            Err(e) if e.is_unavailable() => {
                self.record_down(clock.now_unix(), &e);
                Ok(format!("fail2ban is down: {e}"))
            }
            Err(e) => {
                self.record_down(clock.now_unix(), &e);
                Err(e)
            }
        }
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

    /// Records a failed check; the last known version and jails are kept. A
    /// socket bangui may not open is not fail2ban being down.
    pub fn record_down(&self, now: i64, error: &Fail2banError) {
        let state = match error {
            Fail2banError::Unavailable { source, .. }
                if source.kind() == ErrorKind::PermissionDenied =>
            {
                Fail2banState::Denied
            }
            Fail2banError::Busy { .. } | Fail2banError::Timeout { .. } => Fail2banState::Busy,
            _ => Fail2banState::Down,
        };
        let previous = self.state();
        if previous != state {
            match state {
                Fail2banState::Denied => {
                    tracing::warn!(error = %error, "bangui may not open fail2ban's socket")
                }
                Fail2banState::Busy => tracing::warn!(error = %error, "fail2ban is busy"),
                _ => tracing::warn!(error = %error, "fail2ban is down"),
            }
        }
        self.write(|s| {
            if s.state != state {
                s.since = Some(now);
            }
            s.state = state;
            s.checked_at = Some(now);
            s.error = Some(error.to_string());
        });
    }

    /// The jails bangui is told to use: its own and `more_jails` (the
    /// blocklist sources').
    pub fn wanted_jails(&self, more_jails: &[String]) -> Vec<String> {
        let mut wanted: Vec<String> = self
            .expected_jails
            .iter()
            .chain(more_jails)
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        wanted
    }

    /// The snapshot, with `more_jails` (the blocklist sources' jails) counted
    /// among the jails bangui is told to use. Enforcement is left to the
    /// caller, which asks fail2ban for it.
    pub fn snapshot(&self, more_jails: &[String]) -> Fail2banHealth {
        let wanted = self.wanted_jails(more_jails);
        self.read(|s| {
            let missing_jails: Vec<String> = if s.state == Fail2banState::Up {
                wanted
                    .into_iter()
                    .filter(|j| !s.jails.iter().any(|c| &c.name == j))
                    .collect()
            } else {
                Vec::new()
            };
            let hint = match s.state {
                _ if !missing_jails.is_empty() => Some(format!(
                    "fail2ban has not loaded {}: for bangui's own jails run `fail2ban-client reload` (or `systemctl reload fail2ban`) to load the jail files bangui wrote; for others, define the jail in /etc/fail2ban/jail.d or change the setting or source that names it",
                    missing_jails.join(", ")
                )),
                Fail2banState::Down => Some(format!(
                    "start fail2ban (`systemctl start fail2ban`) or point fail2ban.socket at its socket (now {})",
                    self.socket.display()
                )),
                Fail2banState::Denied => Some(format!(
                    "fail2ban may be running, but bangui (uid {}) may not open its socket {}: run bangui as root (the packaged service does), or give it access to that socket",
                    nix::unistd::geteuid(),
                    self.socket.display()
                )),
                Fail2banState::Busy => Some(
                    "fail2ban is running but slow to answer: a slow ban action or another client (a `fail2ban-client` loop, another tool) keeps it busy; bangui keeps trying".to_string(),
                ),
                Fail2banState::Up | Fail2banState::Unknown => None,
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
                enforcement: Vec::new(),
            }
        })
    }
}

/// fail2ban's version, jails and each jail's counters.
async fn probe(fail2ban: &Fail2ban) -> Result<(String, Vec<JailCounts>), Fail2banError> {
    fail2ban.ping().await?;
    let version = fail2ban.version().await?;
    let mut jails = Vec::new();
    for name in fail2ban.jails().await? {
        match fail2ban.jail_status(&name, true).await {
            Ok(s) => jails.push(JailCounts {
                name,
                currently_failed: s.currently_failed,
                total_failed: s.total_failed,
                currently_banned: s.currently_banned,
                total_banned: s.total_banned,
            }),
            // A jail stopped between the two requests.
            Err(Fail2banError::UnknownJail(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((version, jails))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_and_missing_jails() {
        let h = Health::new("/s".into(), vec!["bangui-manual".into()]);
        assert_eq!(h.snapshot(&[]).state, Fail2banState::Unknown);
        let gone = || Fail2banError::Unavailable {
            socket: "/s".into(),
            source: std::io::Error::from(ErrorKind::NotFound),
        };
        h.record_down(10, &gone());
        h.record_down(20, &gone());
        let s = h.snapshot(&[]);
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
        let s = h.snapshot(&["sshd".into(), "web".into()]);
        assert_eq!((s.state, s.since), (Fail2banState::Up, Some(30)));
        assert_eq!(s.missing_jails, ["bangui-manual", "web"]);
        assert!(s.hint.unwrap().contains("fail2ban-client reload"));
        let denied = Fail2banError::Unavailable {
            socket: "/s".into(),
            source: std::io::Error::from(ErrorKind::PermissionDenied),
        };
        h.record_down(40, &denied);
        let s = h.snapshot(&[]);
        assert_eq!(s.state, Fail2banState::Denied);
        assert!(
            s.hint.unwrap().contains("may not open its socket /s"),
            "no hint"
        );
    }
}
