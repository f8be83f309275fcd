use std::time::Duration;

use bangui_proto::messages::{
    CreateSession, ListSessions, RevokeSession, SessionCreated, ShowSession, ValidateSession,
};
use bangui_proto::{ErrorCode, Response, WireError};

use super::page;
use crate::context::Ctx;
use crate::server::peer::Peer;
use crate::sessions::SessionError;

pub async fn create(ctx: &Ctx, peer: &Peer, request: CreateSession) -> Result<Response, WireError> {
    let ttl = request.ttl_secs.map(Duration::from_secs);
    let (session, token) = ctx
        .sessions
        .create(&request.label, ttl, peer.uid)
        .await
        .map_err(session_error)?;
    tracing::info!(session = %session.id, label = %session.label, peer_uid = peer.uid, "session created");
    Ok(Response::SessionCreated(SessionCreated { session, token }))
}

pub async fn validate(ctx: &Ctx, request: ValidateSession) -> Result<Response, WireError> {
    let session = ctx
        .sessions
        .validate(&request.token)
        .await
        .map_err(session_error)?;
    Ok(Response::Session(session))
}

pub async fn list(ctx: &Ctx, request: ListSessions) -> Result<Response, WireError> {
    let limit = page(request.limit)?;
    let sessions = ctx.sessions.list(limit).await.map_err(session_error)?;
    Ok(Response::Sessions(sessions))
}

pub async fn show(ctx: &Ctx, request: ShowSession) -> Result<Response, WireError> {
    let session = ctx
        .sessions
        .show(&request.id)
        .await
        .map_err(session_error)?;
    Ok(Response::Session(session))
}

pub async fn revoke(ctx: &Ctx, peer: &Peer, request: RevokeSession) -> Result<Response, WireError> {
    let session = ctx
        .sessions
        .revoke(&request.id)
        .await
        .map_err(session_error)?;
    tracing::info!(session = %session.id, peer_uid = peer.uid, "session revoked");
    Ok(Response::SessionRevoked(session))
}

fn session_error(error: SessionError) -> WireError {
    let code = match &error {
        SessionError::NotFound(_) | SessionError::UnknownToken | SessionError::Expired => {
            ErrorCode::NotFound
        }
        SessionError::BadTtl | SessionError::BadLabel => ErrorCode::InvalidArgument,
        SessionError::Store(_) | SessionError::Random(_) => {
            tracing::error!(error = %error, "session request failed");
            ErrorCode::Internal
        }
    };
    WireError::new(code, error.to_string())
}
