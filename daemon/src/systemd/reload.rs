//! SIGHUP: re-read the config file and apply what can change while running.
//! An invalid file keeps the running configuration and says why.

use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::Notifier;
use super::status::Note;
use crate::context::Ctx;

/// Registers for SIGHUP now (its default action would end the process).
pub fn watch() -> std::io::Result<Signal> {
    signal(SignalKind::hangup())
}

pub async fn run(
    mut hup: Signal,
    ctx: Arc<Ctx>,
    notifier: Notifier,
    note: Note,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            got = hup.recv() => if got.is_none() { return },
        }
        notifier.reloading();
        tracing::info!("SIGHUP: reloading the configuration file");
        let line = match ctx.settings.reload().await {
            Ok(r) => {
                note.set(None);
                tracing::info!(
                    applied = %r.applied.join(", "),
                    at_next_start = %r.pending.join(", "),
                    sources_synced = r.sources_synced,
                    "configuration reloaded"
                );
                let mut line = format!("reloaded: {} setting(s) applied", r.applied.len());
                if !r.pending.is_empty() {
                    line.push_str(&format!(", {} at the next start", r.pending.len()));
                }
                line
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; the running configuration stays");
                let line = format!("reload failed, running configuration kept: {e}");
                note.set(Some(line.clone()));
                line
            }
        };
        notifier.ready(&line);
    }
}
