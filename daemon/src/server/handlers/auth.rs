use bangui_proto::messages::{Login, Logout, Setup};
use bangui_proto::{ErrorCode, Response, WireError};

use super::internal;
use crate::auth::AuthError;
use crate::context::Ctx;
use crate::server::peer::Peer;
use crate::sessions::SessionError;

fn error(e: AuthError) -> WireError {
    let code = match &e {
        AuthError::WrongPassword | AuthError::TooSoon(_) | AuthError::InProgress => {
            ErrorCode::PermissionDenied
        }
        AuthError::NotSetUp => ErrorCode::Unavailable,
        AuthError::AlreadySetUp | AuthError::BadPassword => ErrorCode::InvalidArgument,
        AuthError::Session(SessionError::UnknownToken | SessionError::Expired) => {
            ErrorCode::NotFound
        }
        AuthError::Session(SessionError::BadLabel) => ErrorCode::InvalidArgument,
        AuthError::Store(_) | AuthError::Hash(_) | AuthError::Session(_) => {
            tracing::error!(error = %e, "authentication failed inside the daemon");
            ErrorCode::Internal
        }
    };
    WireError::new(code, e.to_string())
}

pub async fn setup(ctx: &Ctx, peer: &Peer, r: Setup) -> Result<Response, WireError> {
    let state = ctx
        .auth
        .setup(peer.uid, r.password, r.force, r.old_password)
        .await
        .map_err(error)?;
    Ok(Response::SetupState(state))
}

pub async fn status(ctx: &Ctx) -> Result<Response, WireError> {
    ctx.auth
        .status()
        .await
        .map(Response::SetupState)
        .map_err(|e| match e {
            AuthError::Store(e) => internal(e),
            other => error(other),
        })
}

pub async fn login(ctx: &Ctx, peer: &Peer, r: Login) -> Result<Response, WireError> {
    let created = ctx
        .auth
        .login(peer.uid, r.password, &r.label)
        .await
        .map_err(error)?;
    Ok(Response::SessionCreated(created))
}

pub async fn logout(ctx: &Ctx, r: Logout) -> Result<Response, WireError> {
    let ended = ctx.auth.logout(&r.token).await.map_err(error)?;
    Ok(Response::SessionRevoked(ended))
}
