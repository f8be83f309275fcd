use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bangui_proto::messages::RunRecord;

use crate::store::{Db, StoreError, runs};

pub type LogFuture = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// Where the scheduler records its runs.
pub trait RunLog: Send + Sync + 'static {
    /// A run has started (outcome `running`).
    fn started(&self, run: RunRecord) -> LogFuture;
    /// A run has ended; keep at most `keep` runs of its job.
    fn finished(&self, run: RunRecord, keep: u32) -> LogFuture;
}

/// The production log: the `job_runs` table.
pub struct DbRunLog(pub Db);

impl RunLog for DbRunLog {
    fn started(&self, run: RunRecord) -> LogFuture {
        let db = self.0.clone();
        Box::pin(async move { db.call(move |conn| runs::insert(conn, &run)).await })
    }

    fn finished(&self, run: RunRecord, keep: u32) -> LogFuture {
        let db = self.0.clone();
        Box::pin(async move { db.call(move |conn| runs::finish(conn, &run, keep)).await })
    }
}

/// A log in memory, for scheduler tests on a paused clock (a database thread
/// would let paused time jump while a test waits on it).
#[derive(Default, Clone)]
pub struct MemoryRunLog(pub Arc<Mutex<Vec<RunRecord>>>);

impl MemoryRunLog {
    pub fn records(&self) -> Vec<RunRecord> {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl RunLog for MemoryRunLog {
    fn started(&self, run: RunRecord) -> LogFuture {
        if let Ok(mut records) = self.0.lock() {
            records.push(run);
        }
        Box::pin(async { Ok(()) })
    }

    fn finished(&self, run: RunRecord, _keep: u32) -> LogFuture {
        if let Ok(mut records) = self.0.lock()
            && let Some(slot) = records.iter_mut().find(|r| r.run_id == run.run_id)
        {
            *slot = run;
        }
        Box::pin(async { Ok(()) })
    }
}
