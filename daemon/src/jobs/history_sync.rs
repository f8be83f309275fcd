//! `history_sync`: copies new rows of fail2ban's `bans` table into bangui's
//! archive (fail2ban purges its own copy after `dbpurgeage`).

use crate::history::History;
use crate::scheduler::{Job, JobError, JobFuture, RunContext};

pub const ID: &str = "history_sync";

pub struct HistorySync {
    pub history: History,
}

impl Job for HistorySync {
    fn run(&self, ctx: RunContext) -> JobFuture {
        let history = self.history.clone();
        Box::pin(async move { history.sync(&ctx.cancel).await.map_err(JobError) })
    }
}
