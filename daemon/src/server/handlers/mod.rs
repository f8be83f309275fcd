//! Request handlers, one file per command group, and the one `match` that
//! routes a request to its handler.

mod auth;
mod blocklist;
mod config;
mod explain;
mod fail2ban;
mod geo;
mod history;
mod jobs;
mod sessions;
mod status;

use bangui_proto::{ErrorCode, Request, Response, WireError};

use super::peer::Peer;
use crate::context::Ctx;
use crate::store::StoreError;

pub async fn dispatch(
    ctx: &Ctx,
    peer: &Peer,
    admin: bool,
    request: Request,
) -> Result<Response, WireError> {
    match request {
        Request::Ping => Ok(status::ping()),
        Request::Status => status::status(ctx, peer, admin),
        Request::ListJobs => Ok(jobs::list(ctx)),
        Request::RunJob(r) => jobs::run(ctx, r).await,
        Request::ListRuns(r) => jobs::runs(ctx, r).await,
        Request::ShowRun(r) => jobs::show_run(ctx, r).await,
        Request::CreateSession(r) => sessions::create(ctx, peer, r).await,
        Request::ValidateSession(r) => sessions::validate(ctx, r).await,
        Request::ListSessions(r) => sessions::list(ctx, r).await,
        Request::ShowSession(r) => sessions::show(ctx, r).await,
        Request::RevokeSession(r) => sessions::revoke(ctx, peer, r).await,
        Request::Fail2banHealth(q) => Ok(fail2ban::health(ctx, q, admin).await),
        Request::JailStatus(r) => fail2ban::jail_status(ctx, r, admin).await,
        Request::Ban(r) => fail2ban::ban(ctx, r).await,
        Request::Unban(r) => fail2ban::unban(ctx, r).await,
        Request::Banned(r) => fail2ban::banned(ctx, r, admin).await,
        Request::GeoLookup(r) => geo::lookup(ctx, r).await,
        Request::GeoStats => Ok(geo::stats(ctx)),
        Request::GeoUnresolved(r) => geo::unresolved(ctx, r),
        Request::GeoFlush => geo::flush(ctx, peer).await,
        Request::GeoForget(r) => geo::forget(ctx, peer, r).await,
        Request::AddSource(r) => blocklist::add(ctx, peer, r).await,
        Request::ListSources => blocklist::list(ctx, admin).await,
        Request::ShowSource(r) => blocklist::show(ctx, r, admin).await,
        Request::EnableSource(r) => blocklist::enable(ctx, r).await,
        Request::RemoveSource(r) => blocklist::remove(ctx, peer, r).await,
        Request::RunImport(r) => blocklist::run(ctx, r).await,
        Request::ListImportRuns(r) => blocklist::runs(ctx, r, admin).await,
        Request::PlanImport(r) => blocklist::plan(ctx, r, admin).await,
        Request::HistoryList(q) => history::list(ctx, q).await,
        Request::HistoryIp(q) => history::ip(ctx, q).await,
        Request::HistoryStats(q) => history::stats(ctx, q, false).await,
        Request::HistoryTop(q) => history::stats(ctx, q, true).await,
        Request::Setup(r) => auth::setup(ctx, peer, r).await,
        Request::SetupStatus => auth::status(ctx).await,
        Request::Login(r) => auth::login(ctx, peer, r).await,
        Request::Logout(r) => auth::logout(ctx, r).await,
        Request::ConfigShow => Ok(config::show(ctx).await),
        Request::ConfigSet(r) => config::set(ctx, peer, r).await,
        Request::ConfigUnset(r) => config::unset(ctx, peer, r).await,
        Request::Explain(q) => explain::explain(ctx, q, admin).await,
    }
}

/// A store failure as the client sees it; the detail goes to the log.
fn internal(error: StoreError) -> WireError {
    tracing::error!(error = %error, "request failed in the store");
    WireError::new(
        ErrorCode::Internal,
        format!("the daemon's database failed: {error}"),
    )
}

/// Checks a page size from a list request.
fn page(limit: u32) -> Result<u32, WireError> {
    let max = bangui_proto::messages::MAX_PAGE;
    if limit == 0 || limit > max {
        return Err(WireError::new(
            ErrorCode::InvalidArgument,
            format!("limit must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}
