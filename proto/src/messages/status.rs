use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub daemon_version: String,
}

/// The connected peer as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
    /// Whether this peer may make mutating requests.
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    pub daemon_version: String,
    pub protocol_version: u32,
    pub pid: u32,
    /// Unix seconds, UTC.
    pub started_at: i64,
    pub uptime_secs: u64,
    pub state_dir: String,
    pub socket: String,
    pub database: String,
    /// Size of the database file plus its write-ahead log.
    pub database_bytes: u64,
    pub schema_version: u32,
    pub jobs_total: u32,
    pub jobs_running: u32,
    /// Jobs whose newest run did not end ok.
    pub jobs_failing: u32,
    /// Jobs whose newest runs all failed or timed out, at least
    /// [`FAILING_RUNS`] in a row.
    pub failing_jobs: Vec<FailingJob>,
    /// The last write to the database failed for lack of space.
    pub disk_full: bool,
    pub peer: PeerInfo,
}

/// Failed runs in a row after which a job counts as failing for `status --check`.
pub const FAILING_RUNS: u32 = 3;

/// A job that keeps failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingJob {
    pub id: String,
    pub failures_in_a_row: u32,
    /// The newest run's error.
    pub error: Option<String>,
}
