//! Requests, responses and their payloads, one file per command group.
//!
//! Append-only: new variants of [`Request`] and [`Response`] go at the end.

mod auth;
mod bans;
mod blocklist;
mod config;
mod fail2ban;
mod geo;
mod history;
mod jobs;
mod sessions;
mod status;

use serde::{Deserialize, Serialize};

pub use auth::{Login, Logout, Setup, SetupState};
pub use bans::{
    BanReport, BanRequest, BannedIn, BannedQuery, Covering, ExplainQuery, ExplainedBan,
    Explanation, JailChange, Listing, MAX_BANNED_QUERY, Refused, UnbanRequest,
};
pub use blocklist::{
    AddSource, EnableSource, ImportPlan, ImportRunInfo, ListFormat, ListImportRuns, ReasonCount,
    RemoveSource, RunImport, SourceInfo, SourceName, SourceRemoved,
};
pub use config::{
    Applies, ConfigEntry, ConfigView, IgnoredSetting, PendingValue, SetSetting, SettingChanged,
    UnsetSetting, ValueSource,
};
pub use fail2ban::{
    Enforcement, Fail2banHealth, Fail2banState, HealthQuery, JailCounts, JailStatusInfo,
    JailStatusQuery, KernelSets, NetworkSupport,
};
pub use geo::{
    GeoFlushed, GeoForget, GeoForgotten, GeoInfo, GeoLookup, GeoStatsInfo, GeoUnresolvedQuery,
    IpApiInfo, MaxMindInfo,
};
pub use history::{
    HistoryGroup, HistoryGroupQuery, HistoryIpInfo, HistoryIpQuery, HistoryPage, HistoryQuery,
    HistoryRow, HistoryStatsInfo, HistorySyncInfo,
};
pub use jobs::{JobInfo, JobTriggered, ListRuns, Outcome, RunJob, RunRecord, ShowRun, Trigger};
pub use sessions::{
    CreateSession, ListSessions, RevokeSession, SessionCreated, SessionInfo, ShowSession,
    ValidateSession,
};
pub use status::{FAILING_RUNS, FailingJob, PeerInfo, Pong, StatusInfo};

use crate::WireError;

/// Most rows a list request may ask for in one frame.
pub const MAX_PAGE: u32 = 1000;

/// Every request a client can make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Ping,
    Status,
    ListJobs,
    RunJob(RunJob),
    ListRuns(ListRuns),
    ShowRun(ShowRun),
    CreateSession(CreateSession),
    ValidateSession(ValidateSession),
    ListSessions(ListSessions),
    ShowSession(ShowSession),
    RevokeSession(RevokeSession),
    Fail2banHealth(HealthQuery),
    JailStatus(JailStatusQuery),
    Ban(BanRequest),
    Unban(UnbanRequest),
    Banned(BannedQuery),
    GeoLookup(GeoLookup),
    GeoStats,
    GeoUnresolved(GeoUnresolvedQuery),
    GeoFlush,
    GeoForget(GeoForget),
    AddSource(AddSource),
    ListSources,
    ShowSource(SourceName),
    EnableSource(EnableSource),
    RemoveSource(RemoveSource),
    RunImport(RunImport),
    ListImportRuns(ListImportRuns),
    PlanImport(SourceName),
    HistoryList(HistoryQuery),
    HistoryIp(HistoryIpQuery),
    HistoryStats(HistoryGroupQuery),
    HistoryTop(HistoryGroupQuery),
    Setup(Setup),
    SetupStatus,
    Login(Login),
    Logout(Logout),
    ConfigShow,
    ConfigSet(SetSetting),
    ConfigUnset(UnsetSetting),
    Explain(ExplainQuery),
}

impl Request {
    /// Requests that change state; the daemon serves them only to administrators.
    pub fn is_mutating(&self) -> bool {
        match self {
            Request::RunJob(_)
            | Request::CreateSession(_)
            | Request::RevokeSession(_)
            | Request::Ban(_)
            | Request::Unban(_)
            | Request::GeoFlush
            | Request::GeoForget(_)
            | Request::AddSource(_)
            | Request::EnableSource(_)
            | Request::RemoveSource(_)
            | Request::RunImport(_) => true,
            // A remote lookup spends the shared ip-api budget.
            Request::GeoLookup(r) => r.remote,
            Request::Ping
            | Request::Status
            | Request::ListJobs
            | Request::ListRuns(_)
            | Request::ShowRun(_)
            | Request::ValidateSession(_)
            | Request::ListSessions(_)
            | Request::ShowSession(_)
            | Request::Fail2banHealth(_)
            | Request::JailStatus(_)
            | Request::Banned(_)
            | Request::GeoStats
            | Request::GeoUnresolved(_)
            | Request::ListSources
            | Request::ShowSource(_)
            | Request::ListImportRuns(_)
            | Request::HistoryList(_)
            | Request::HistoryIp(_)
            | Request::HistoryStats(_)
            | Request::HistoryTop(_)
            | Request::SetupStatus
            | Request::ConfigShow
            // The password or the token is the credential here.
            | Request::Login(_)
            | Request::Logout(_)
            | Request::Explain(_) => false,
            Request::Setup(_) | Request::ConfigSet(_) | Request::ConfigUnset(_) => true,
            // A plan downloads the list and asks fail2ban: an administrator's call.
            Request::PlanImport(_) => true,
        }
    }

    /// A short stable name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Status => "status",
            Request::ListJobs => "list_jobs",
            Request::RunJob(_) => "run_job",
            Request::ListRuns(_) => "list_runs",
            Request::ShowRun(_) => "show_run",
            Request::CreateSession(_) => "create_session",
            Request::ValidateSession(_) => "validate_session",
            Request::ListSessions(_) => "list_sessions",
            Request::ShowSession(_) => "show_session",
            Request::RevokeSession(_) => "revoke_session",
            Request::Fail2banHealth(_) => "fail2ban_health",
            Request::JailStatus(_) => "jail_status",
            Request::Ban(_) => "ban",
            Request::Unban(_) => "unban",
            Request::Banned(_) => "banned",
            Request::GeoLookup(_) => "geo_lookup",
            Request::GeoStats => "geo_stats",
            Request::GeoUnresolved(_) => "geo_unresolved",
            Request::GeoFlush => "geo_flush",
            Request::GeoForget(_) => "geo_forget",
            Request::AddSource(_) => "add_source",
            Request::ListSources => "list_sources",
            Request::ShowSource(_) => "show_source",
            Request::EnableSource(_) => "enable_source",
            Request::RemoveSource(_) => "remove_source",
            Request::RunImport(_) => "run_import",
            Request::ListImportRuns(_) => "list_import_runs",
            Request::PlanImport(_) => "plan_import",
            Request::HistoryList(_) => "history_list",
            Request::HistoryIp(_) => "history_ip",
            Request::HistoryStats(_) => "history_stats",
            Request::HistoryTop(_) => "history_top",
            Request::Setup(_) => "setup",
            Request::SetupStatus => "setup_status",
            Request::Login(_) => "login",
            Request::Logout(_) => "logout",
            Request::ConfigShow => "config_show",
            Request::ConfigSet(_) => "config_set",
            Request::ConfigUnset(_) => "config_unset",
            Request::Explain(_) => "explain",
        }
    }
}

/// Every successful answer the daemon can give.
// One answer is built per request and moved once; boxing the big ones buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Pong(Pong),
    Status(StatusInfo),
    Jobs(Vec<JobInfo>),
    JobTriggered(JobTriggered),
    Runs(Vec<RunRecord>),
    Run(RunRecord),
    SessionCreated(SessionCreated),
    Session(SessionInfo),
    Sessions(Vec<SessionInfo>),
    SessionRevoked(SessionInfo),
    Fail2banHealth(Fail2banHealth),
    JailStatus(JailStatusInfo),
    BanReport(BanReport),
    BannedIn(Vec<BannedIn>),
    GeoRecords(Vec<GeoInfo>),
    GeoStats(GeoStatsInfo),
    GeoFlushed(GeoFlushed),
    GeoForgotten(GeoForgotten),
    Source(SourceInfo),
    Sources(Vec<SourceInfo>),
    SourceRemoved(SourceRemoved),
    ImportRuns(Vec<ImportRunInfo>),
    ImportPlan(ImportPlan),
    HistoryPage(HistoryPage),
    HistoryIp(HistoryIpInfo),
    HistoryStats(HistoryStatsInfo),
    SetupState(SetupState),
    Config(ConfigView),
    SettingChanged(SettingChanged),
    Explanation(Explanation),
}

impl Response {
    /// A short stable name, for "expected X, got Y" errors.
    pub fn name(&self) -> &'static str {
        match self {
            Response::Pong(_) => "pong",
            Response::Status(_) => "status",
            Response::Jobs(_) => "jobs",
            Response::JobTriggered(_) => "job_triggered",
            Response::Runs(_) => "runs",
            Response::Run(_) => "run",
            Response::SessionCreated(_) => "session_created",
            Response::Session(_) => "session",
            Response::Sessions(_) => "sessions",
            Response::SessionRevoked(_) => "session_revoked",
            Response::Fail2banHealth(_) => "fail2ban_health",
            Response::JailStatus(_) => "jail_status",
            Response::BanReport(_) => "ban_report",
            Response::BannedIn(_) => "banned_in",
            Response::GeoRecords(_) => "geo_records",
            Response::GeoStats(_) => "geo_stats",
            Response::GeoFlushed(_) => "geo_flushed",
            Response::GeoForgotten(_) => "geo_forgotten",
            Response::Source(_) => "source",
            Response::Sources(_) => "sources",
            Response::SourceRemoved(_) => "source_removed",
            Response::ImportRuns(_) => "import_runs",
            Response::ImportPlan(_) => "import_plan",
            Response::HistoryPage(_) => "history_page",
            Response::HistoryIp(_) => "history_ip",
            Response::HistoryStats(_) => "history_stats",
            Response::SetupState(_) => "setup_state",
            Response::Config(_) => "config",
            Response::SettingChanged(_) => "setting_changed",
            Response::Explanation(_) => "explanation",
        }
    }
}

/// A request with the id its response will carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFrame {
    pub id: u64,
    pub request: Request,
}

/// The answer to the request with the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseFrame {
    pub id: u64,
    pub result: Result<Response, WireError>,
}
