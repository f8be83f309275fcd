use serde::{Deserialize, Serialize};

/// What started a run. Append-only.
///
/// The serde names are for JSON output only; bincode encodes the variant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Schedule,
    Manual,
    #[serde(rename = "start-up")]
    Startup,
}

impl Trigger {
    pub const ALL: [Trigger; 3] = [Trigger::Schedule, Trigger::Manual, Trigger::Startup];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Startup => "start-up",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// How a run ended, or that it has not yet. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Running,
    Ok,
    Failed,
    TimedOut,
    Cancelled,
    /// The daemon stopped (crashed or was killed) while the run was going.
    Interrupted,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Running,
        Outcome::Ok,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Cancelled,
        Outcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed-out",
            Outcome::Cancelled => "cancelled",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One run of one job, as recorded in the daemon's `job_runs` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub job_id: String,
    pub trigger: Trigger,
    /// Unix seconds, UTC.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// Wall time the run took, in milliseconds, once it has finished.
    pub duration_ms: Option<u64>,
    pub outcome: Outcome,
    pub summary: String,
    pub error: Option<String>,
}

/// A registered job and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    pub id: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub first_delay_ms: u64,
    pub enabled: bool,
    /// The run in progress, if any.
    pub running: Option<RunRecord>,
    /// The newest finished run.
    pub last: Option<RunRecord>,
    /// Unix seconds of the next scheduled run; none while disabled.
    pub next_run_at: Option<i64>,
    /// Runs in a row, newest first, that failed or timed out.
    pub failures_in_a_row: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunJob {
    pub job_id: String,
    /// Answer only once the run has finished.
    pub wait: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTriggered {
    pub run: RunRecord,
    /// True when the job was already running: `run` is that run, no new one started.
    pub already_running: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRuns {
    pub job_id: Option<String>,
    /// Newest first, at most [`crate::messages::MAX_PAGE`].
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowRun {
    pub run_id: String,
}
