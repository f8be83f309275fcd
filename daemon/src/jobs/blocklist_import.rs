//! `blocklist_import`: imports every enabled blocklist source whose interval
//! (or, after failures, whose back-off) has passed.

use crate::blocklist::Blocklists;
use crate::scheduler::{Job, JobError, JobFuture, RunContext};

pub const ID: &str = "blocklist_import";

pub struct BlocklistImport {
    pub blocklists: Blocklists,
}

impl Job for BlocklistImport {
    fn run(&self, ctx: RunContext) -> JobFuture {
        let blocklists = self.blocklists.clone();
        Box::pin(async move {
            let (summary, failed) = blocklists
                .run_due(&ctx.cancel)
                .await
                .map_err(|e| JobError::from_error(&e))?;
            if failed {
                return Err(JobError(summary));
            }
            Ok(summary)
        })
    }
}
