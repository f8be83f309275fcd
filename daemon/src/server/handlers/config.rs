use bangui_proto::messages::{SetSetting, UnsetSetting};
use bangui_proto::{ErrorCode, Response, WireError};

use super::internal;
use crate::context::Ctx;
use crate::server::peer::Peer;
use crate::settings::SettingsError;

fn error(e: SettingsError) -> WireError {
    match e {
        SettingsError::Invalid(reason) => WireError::new(ErrorCode::InvalidArgument, reason),
        e @ SettingsError::NotPersisted(_) => WireError::new(ErrorCode::NotFound, e.to_string()),
        SettingsError::Store(e) => internal(e),
    }
}

pub async fn show(ctx: &Ctx) -> Response {
    Response::Config(ctx.settings.show().await)
}

pub async fn set(ctx: &Ctx, peer: &Peer, r: SetSetting) -> Result<Response, WireError> {
    ctx.settings
        .set(peer.uid, r.key.trim(), &r.value)
        .await
        .map(Response::SettingChanged)
        .map_err(error)
}

pub async fn unset(ctx: &Ctx, peer: &Peer, r: UnsetSetting) -> Result<Response, WireError> {
    ctx.settings
        .unset(peer.uid, r.key.trim())
        .await
        .map(Response::SettingChanged)
        .map_err(error)
}
