//! `session_cleanup`: deletes expired sessions so the table cannot grow without
//! bound (validation also drops an expired session it meets, but only that one).

use crate::scheduler::{Job, JobError, JobFuture, RunContext};
use crate::sessions::Sessions;

pub const ID: &str = "session_cleanup";

pub struct SessionCleanup {
    sessions: Sessions,
}

impl SessionCleanup {
    pub fn new(sessions: Sessions) -> SessionCleanup {
        SessionCleanup { sessions }
    }
}

impl Job for SessionCleanup {
    fn run(&self, _ctx: RunContext) -> JobFuture {
        let sessions = self.sessions.clone();
        Box::pin(async move {
            let deleted = sessions
                .delete_expired()
                .await
                .map_err(|e| JobError::from_error(&e))?;
            tracing::info!(deleted, "expired sessions deleted");
            Ok(format!("deleted {deleted} expired session(s)"))
        })
    }
}
