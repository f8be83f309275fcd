//! The one-line STATUS systemd shows in `systemctl status bangui`: fail2ban's
//! state, what is running (with an import's progress) and the last import's
//! result. Sent when it changes; every part from outside goes through
//! [`super::notify::status_line`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bangui_proto::messages::{Fail2banState, ImportRunInfo};
use tokio_util::sync::CancellationToken;

use super::Notifier;
use crate::blocklist::Blocklists;
use crate::fail2ban::health::Health;
use crate::scheduler::Scheduler;
use crate::store::Db;

const EVERY: Duration = Duration::from_secs(2);

/// A note that stays in the STATUS line until replaced (a failed reload).
#[derive(Clone, Default)]
pub struct Note(Arc<Mutex<Option<String>>>);

impl Note {
    pub fn set(&self, text: Option<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = text;
    }

    fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub struct StatusReporter {
    pub notifier: Notifier,
    pub health: Arc<Health>,
    pub scheduler: Scheduler,
    pub blocklists: Blocklists,
    pub db: Db,
    pub note: Note,
}

fn import_text(run: &ImportRunInfo) -> String {
    match run.status.as_str() {
        "running" => format!(
            "importing {}: {}/{} banned, {}/{} unbanned",
            run.source, run.banned, run.to_ban, run.unbanned, run.to_unban
        ),
        "failed" => format!(
            "last import {} failed: {}",
            run.source,
            run.error.as_deref().unwrap_or("no reason recorded")
        ),
        status => format!(
            "last import {} {status}: {} banned, {} unbanned",
            run.source, run.banned, run.unbanned
        ),
    }
}

impl StatusReporter {
    pub async fn compose(&self) -> String {
        let mut parts = Vec::new();
        if let Some(note) = self.note.get() {
            parts.push(note);
        }
        if self.db.disk_full() {
            let free = self.db.free_space().unwrap_or(0) / 1024;
            parts.push(format!(
                "disk full: changes fail, reads go on ({free} KiB free in the state directory)"
            ));
        }
        let health = self.health.snapshot(&[]);
        parts.push(match health.state {
            Fail2banState::Up => format!(
                "fail2ban {} up, {} jail(s)",
                health.version.as_deref().unwrap_or("?"),
                health.jails.len()
            ),
            Fail2banState::Down => "fail2ban down".to_string(),
            Fail2banState::Denied => "fail2ban's socket not accessible".to_string(),
            Fail2banState::Busy => "fail2ban busy".to_string(),
            _ => "fail2ban not checked yet".to_string(),
        });
        let running: Vec<String> = self
            .scheduler
            .jobs()
            .into_iter()
            .filter(|j| j.running.is_some())
            .map(|j| j.id)
            .collect();
        if !running.is_empty() {
            parts.push(format!("running {}", running.join(", ")));
        }
        // Newest first: a running import (one at a time) leads, then the last finished one.
        if let Ok(runs) = self.blocklists.runs(None, false, 5).await {
            if let Some(run) = runs.iter().find(|r| r.status == "running") {
                parts.push(import_text(run));
            }
            if let Some(run) = runs.iter().find(|r| r.status != "running") {
                parts.push(import_text(run));
            }
        }
        parts.join("; ")
    }

    /// Sends the line whenever it changes, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut last = String::new();
        loop {
            let line = self.compose().await;
            if line != last {
                self.notifier.status(&line);
                last = line;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(EVERY) => {}
            }
        }
    }
}
