//! The watchdog ping, sent from the scheduler loop's heartbeat after a round
//! trip through the database thread: a hung loop or a hung database thread
//! stops the pings, and systemd restarts the daemon.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Notifier;
use crate::scheduler::Heartbeat;
use crate::store::Db;

/// Test-only fault hooks: files in the state directory that hang the loop
/// or the database thread while they exist.
const FREEZE_LOOP: &str = "test-freeze-loop";
const FREEZE_DB: &str = "test-freeze-db";

/// The heartbeat for `every` (half of `WATCHDOG_USEC`). `hooks` is the state
/// directory when test hooks are on.
pub fn heartbeat(every: Duration, db: Db, notifier: Notifier, hooks: Option<PathBuf>) -> Heartbeat {
    Heartbeat {
        every,
        beat: Arc::new(move || {
            let (db, notifier, hooks) = (db.clone(), notifier.clone(), hooks.clone());
            Box::pin(async move {
                if let Some(dir) = &hooks {
                    if dir.join(FREEZE_LOOP).exists() {
                        tracing::warn!("test hook: the scheduler loop hangs");
                        std::future::pending::<()>().await;
                    }
                    if dir.join(FREEZE_DB).exists() {
                        let file = dir.join(FREEZE_DB);
                        tracing::warn!("test hook: the database thread hangs");
                        let _ = db
                            .call(move |_| {
                                while file.exists() {
                                    std::thread::sleep(Duration::from_millis(50));
                                }
                                Ok(())
                            })
                            .await;
                    }
                }
                match db
                    .call(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
                    .await
                {
                    Ok(()) => notifier.watchdog(),
                    Err(e) => {
                        tracing::error!(error = %e, "the database does not answer; no watchdog ping")
                    }
                }
            })
        }),
    }
}
