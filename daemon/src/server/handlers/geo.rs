use bangui_proto::messages::{GeoForget, GeoForgotten, GeoLookup, GeoUnresolvedQuery, MAX_PAGE};
use bangui_proto::{ErrorCode, Response, WireError};

use super::{internal, page};
use crate::context::Ctx;
use crate::geo::GeoError;
use crate::server::peer::Peer;

fn geo_error(e: GeoError) -> WireError {
    match e {
        GeoError::Invalid(_) => WireError::new(ErrorCode::InvalidArgument, e.to_string()),
        GeoError::Offline => WireError::new(ErrorCode::Unavailable, e.to_string()),
        GeoError::Store(e) => internal(e),
    }
}

fn bounded(addresses: &[String]) -> Result<(), WireError> {
    if addresses.is_empty() || addresses.len() > MAX_PAGE as usize {
        return Err(WireError::new(
            ErrorCode::InvalidArgument,
            format!("give between 1 and {MAX_PAGE} addresses"),
        ));
    }
    Ok(())
}

pub async fn lookup(ctx: &Ctx, request: GeoLookup) -> Result<Response, WireError> {
    bounded(&request.addresses)?;
    let records = ctx
        .geo
        .lookup(&request.addresses, request.remote)
        .await
        .map_err(geo_error)?;
    Ok(Response::GeoRecords(records))
}

pub fn stats(ctx: &Ctx) -> Response {
    Response::GeoStats(ctx.geo.stats())
}

pub fn unresolved(ctx: &Ctx, request: GeoUnresolvedQuery) -> Result<Response, WireError> {
    let limit = page(request.limit)?;
    Ok(Response::GeoRecords(ctx.geo.unresolved(limit as usize)))
}

pub async fn flush(ctx: &Ctx, peer: &Peer) -> Result<Response, WireError> {
    let flushed = ctx.geo.flush().await.map_err(internal)?;
    tracing::info!(
        written = flushed.written,
        peer_uid = peer.uid,
        "geo cache flushed on request"
    );
    Ok(Response::GeoFlushed(flushed))
}

pub async fn forget(ctx: &Ctx, peer: &Peer, request: GeoForget) -> Result<Response, WireError> {
    bounded(&request.addresses)?;
    let forgotten = ctx
        .geo
        .forget(&request.addresses)
        .await
        .map_err(geo_error)?;
    tracing::info!(
        forgotten,
        peer_uid = peer.uid,
        "geo entries forgotten on request"
    );
    Ok(Response::GeoForgotten(GeoForgotten { forgotten }))
}
