use bangui_proto::messages::{
    AddSource, EnableSource, Enforcement, ImportRunInfo, ListImportRuns, RemoveSource, RunImport,
    SourceInfo, SourceName,
};
use bangui_proto::{ErrorCode, Response, WireError};

use super::{internal, page};
use crate::blocklist::BlocklistError;
use crate::context::Ctx;
use crate::server::peer::Peer;

fn error(e: BlocklistError) -> WireError {
    match e {
        BlocklistError::NotFound(_) => WireError::new(ErrorCode::NotFound, e.to_string()),
        BlocklistError::Exists(_) | BlocklistError::Invalid(_) | BlocklistError::FromConfig(_) => {
            WireError::new(ErrorCode::InvalidArgument, e.to_string())
        }
        BlocklistError::Store(e) => internal(e),
    }
}

pub async fn add(ctx: &Ctx, peer: &Peer, r: AddSource) -> Result<Response, WireError> {
    let info = ctx.blocklists.add(r).await.map_err(error)?;
    tracing::info!(source = %info.name, peer_uid = peer.uid, "source added on request");
    Ok(Response::Source(info))
}

/// Refused lines quote what a download held; only administrators see them.
fn for_reader(mut run: ImportRunInfo, admin: bool) -> ImportRunInfo {
    if !admin {
        run.samples.clear();
    }
    run
}

fn source_for_reader(mut s: SourceInfo, admin: bool) -> SourceInfo {
    s.last_run = s.last_run.map(|r| for_reader(r, admin));
    s
}

pub async fn list(ctx: &Ctx, admin: bool) -> Result<Response, WireError> {
    let sources = ctx.blocklists.list().await.map_err(error)?;
    Ok(Response::Sources(
        sources
            .into_iter()
            .map(|s| source_for_reader(s, admin))
            .collect(),
    ))
}

pub async fn show(ctx: &Ctx, r: SourceName, admin: bool) -> Result<Response, WireError> {
    let mut source = ctx.blocklists.show(&r.name).await.map_err(error)?;
    source.enforcement = enforcement(ctx, &source.jail, admin).await;
    Ok(Response::Source(source_for_reader(source, admin)))
}

pub async fn enable(ctx: &Ctx, r: EnableSource) -> Result<Response, WireError> {
    Ok(Response::Source(
        ctx.blocklists
            .enable(&r.name, r.enabled)
            .await
            .map_err(error)?,
    ))
}

pub async fn remove(ctx: &Ctx, peer: &Peer, r: RemoveSource) -> Result<Response, WireError> {
    let removed = ctx
        .blocklists
        .remove(&r.name, r.unban)
        .await
        .map_err(error)?;
    tracing::info!(source = %r.name, unban = r.unban, peer_uid = peer.uid, "source removal requested");
    Ok(Response::SourceRemoved(removed))
}

pub async fn run(ctx: &Ctx, r: RunImport) -> Result<Response, WireError> {
    if r.wait {
        let stop = ctx.blocklists.stop_token();
        let runs = ctx
            .blocklists
            .run_now(r.name.as_deref(), "manual", &stop)
            .await
            .map_err(error)?;
        return Ok(Response::ImportRuns(runs));
    }
    ctx.blocklists
        .spawn(r.name.as_deref())
        .await
        .map_err(error)?;
    Ok(Response::ImportRuns(Vec::new()))
}

pub async fn runs(ctx: &Ctx, r: ListImportRuns, admin: bool) -> Result<Response, WireError> {
    let limit = page(r.limit)?;
    let runs = ctx
        .blocklists
        .runs(r.source, r.running, limit)
        .await
        .map_err(error)?;
    Ok(Response::ImportRuns(
        runs.into_iter().map(|r| for_reader(r, admin)).collect(),
    ))
}

pub async fn plan(ctx: &Ctx, r: SourceName, admin: bool) -> Result<Response, WireError> {
    let mut plan = ctx.blocklists.plan(&r.name).await.map_err(error)?;
    plan.enforcement = enforcement(ctx, &plan.jail, admin).await;
    Ok(Response::ImportPlan(plan))
}

async fn enforcement(ctx: &Ctx, jail: &str, admin: bool) -> Option<Enforcement> {
    let age = super::fail2ban::report_age(admin);
    ctx.bans.enforcement(jail, age).await.map(|r| r.wire)
}
