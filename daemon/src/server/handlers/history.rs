use bangui_proto::messages::{HistoryGroupQuery, HistoryIpQuery, HistoryQuery};
use bangui_proto::{ErrorCode, Response, WireError};

use super::internal;
use crate::context::Ctx;
use crate::history::HistoryError;

fn error(e: HistoryError) -> WireError {
    match e {
        HistoryError::Invalid(m) => WireError::new(ErrorCode::InvalidArgument, m),
        HistoryError::Store(e) => internal(e),
    }
}

pub async fn list(ctx: &Ctx, q: HistoryQuery) -> Result<Response, WireError> {
    Ok(Response::HistoryPage(
        ctx.history.list(q).await.map_err(error)?,
    ))
}

pub async fn ip(ctx: &Ctx, q: HistoryIpQuery) -> Result<Response, WireError> {
    Ok(Response::HistoryIp(
        ctx.history.ip(&q.ip).await.map_err(error)?,
    ))
}

pub async fn stats(ctx: &Ctx, q: HistoryGroupQuery, top: bool) -> Result<Response, WireError> {
    Ok(Response::HistoryStats(
        ctx.history.groups(q, top).await.map_err(error)?,
    ))
}
