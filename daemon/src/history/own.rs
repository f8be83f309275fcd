//! Bans and unbans made through bangui, written to the archive when they
//! happen. fail2ban deletes a ban's row when the ban is lifted, so without
//! this a ban made and lifted between two syncs (or a fail2ban jail's ban
//! lifted with `bangui-ctl unban` before the next sync) would never be
//! archived. The keys are the sync's: each ban once, and the sync later
//! adopts fail2ban's exact row for a ban bangui recorded itself.

use super::History;
use super::source::Fail2banDb;
use super::{BUSY, DAY, store};
use crate::targets::Target;

impl History {
    /// Records bans fail2ban counted as new, sent by bangui at `at`.
    pub async fn record_bans(&self, jail: &str, targets: &[Target], at: i64, bantime: i64) {
        if targets.is_empty() {
            return;
        }
        let inner = &self.inner;
        let (jail, ips) = (jail.to_string(), texts(targets));
        let recorded = inner
            .db
            .call(move |conn| store::record_own_bans(conn, &jail, &ips, at, bantime))
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot record bangui's bans in the history");
        }
    }

    /// Before bangui lifts bans: archives what fail2ban holds for these
    /// addresses now, in any jail, since its rows go with the bans.
    pub async fn before_unban(&self, targets: &[Target]) {
        if targets.is_empty() {
            return;
        }
        let Ok(path) = self.dbfile().await else {
            // No database to read: nothing of fail2ban's would be lost either.
            return;
        };
        let ips = texts(targets);
        let read = tokio::task::spawn_blocking(move || {
            Fail2banDb::open(&path, BUSY).and_then(|db| db.rows_for(&ips))
        })
        .await;
        let rows = match read {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read fail2ban's rows of bans about to be lifted; the history may miss them");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading fail2ban's rows of bans about to be lifted failed");
                return;
            }
        };
        if rows.is_empty() {
            return;
        }
        let inner = &self.inner;
        let now = inner.clock.now_unix();
        let cutoff = now - i64::from(inner.retention_days) * DAY;
        let archived = inner
            .db
            .call(move |conn| store::archive_unwatermarked(conn, &rows, now, cutoff))
            .await;
        if let Err(e) = archived {
            tracing::warn!(error = %e, "cannot archive bans about to be lifted");
        }
    }

    /// Records that bangui lifted these bans in `jail` just now.
    pub async fn record_unbans(&self, jail: &str, targets: &[Target]) {
        if targets.is_empty() {
            return;
        }
        let inner = &self.inner;
        let (jail, ips, now) = (jail.to_string(), texts(targets), inner.clock.now_unix());
        let recorded = inner
            .db
            .call(move |conn| store::record_own_unbans(conn, &jail, &ips, now))
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot record bangui's unbans in the history");
        }
    }
}

fn texts(targets: &[Target]) -> Vec<String> {
    targets.iter().map(Target::to_string).collect()
}

#[cfg(test)]
#[path = "own_tests.rs"]
mod tests;
