//! One client connection: handshake, then requests answered in order until
//! the peer leaves, idles out, misbehaves or the daemon stops.

use std::sync::Arc;

use bangui_proto::{
    ClientHello, ErrorCode, HelloReply, PROTOCOL_VERSION, RequestFrame, ResponseFrame, ServerInfo,
    WireError, decode, decode_prefix, encode, frame_codec,
};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::admission::Slot;
use super::handlers;
use super::peer::Peer;
use crate::context::Ctx;

type Conn = Framed<UnixStream, LengthDelimitedCodec>;

/// Largest frame before the handshake: a hello is a few dozen bytes, and a
/// client that announces a megabyte before saying who it is gets nothing.
const HELLO_MAX: usize = 4096;

/// What admission gave a connection: its place among those handshaking (given
/// back once the hello is read) and its slot, or why it has none.
pub struct Places {
    pub handshaking: Option<OwnedSemaphorePermit>,
    pub slot: Result<Slot, String>,
    /// Whether the slot was asked for as a trusted peer's.
    pub trusted: bool,
    /// To ask again, for an administrator found after the hello.
    pub admission: std::sync::Arc<super::admission::Admission>,
    /// Where its costly reads wait their turn, if it is not an administrator's.
    pub costly: std::sync::Arc<super::costly::CostlyReads>,
}

pub async fn handle(
    stream: UnixStream,
    peer: Peer,
    ctx: Arc<Ctx>,
    stop: CancellationToken,
    places: Places,
) {
    let span = tracing::info_span!("conn", peer_uid = peer.uid, peer_pid = peer.pid);
    let mut codec = frame_codec();
    codec.set_max_frame_length(HELLO_MAX);
    serve(Framed::new(stream, codec), peer, ctx, stop, places)
        .instrument(span)
        .await;
}

fn server_info() -> ServerInfo {
    ServerInfo {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: crate::VERSION.to_string(),
    }
}

async fn serve(mut conn: Conn, peer: Peer, ctx: Arc<Ctx>, stop: CancellationToken, places: Places) {
    // Even a connection over the limit gets its hello read before the refusal,
    // so the client's hello write never meets a closed socket.
    let Some(hello) = handshake(&mut conn, &ctx).await else {
        return;
    };
    drop(places.handshaking);
    let slot = match places.slot {
        // An administrator by a supplementary group gets a trusted place.
        Err(_) if !places.trusted && check_admin(&ctx, peer).await => {
            places.admission.admit(peer.uid, true)
        }
        other => other,
    };
    let _slot = match slot {
        Ok(slot) => slot,
        Err(why) => {
            tracing::warn!(peer_uid = peer.uid, reason = %why, "connection refused");
            refuse(&mut conn, WireError::new(ErrorCode::Busy, why)).await;
            return;
        }
    };
    if !may_connect(&ctx, peer).await {
        tracing::warn!(
            peer_uid = peer.uid,
            peer_pid = peer.pid,
            "connection refused: not in the socket's group"
        );
        let group = ctx.config.socket_group.clone().unwrap_or_default();
        let error = WireError::new(
            ErrorCode::PermissionDenied,
            format!(
                "only members of group `{group}` may use this daemon (uid {} is not one): an administrator runs `sudo usermod -aG {group} USER`, then you log in again",
                peer.uid
            ),
        );
        refuse(&mut conn, error).await;
        return;
    }
    conn.codec_mut()
        .set_max_frame_length(bangui_proto::MAX_FRAME_LEN);
    if hello.protocol_version != PROTOCOL_VERSION {
        tracing::warn!(
            client = %hello.client,
            client_protocol = hello.protocol_version,
            "client speaks another protocol version"
        );
        let error = WireError::new(
            ErrorCode::VersionMismatch,
            format!(
                "client `{}` speaks protocol {}, this daemon (bangui {}) speaks {PROTOCOL_VERSION}",
                hello.client,
                hello.protocol_version,
                crate::VERSION
            ),
        );
        refuse(&mut conn, error).await;
        return;
    }
    if send(&mut conn, &HelloReply::Accepted(server_info()))
        .await
        .is_err()
    {
        return;
    }
    tracing::debug!(client = %hello.client, "client connected");

    let mut admin: Option<bool> = None;
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break,
            next = tokio::time::timeout(ctx.config.idle_timeout, conn.next()) => next,
        };
        let bytes = match next {
            Err(_) => {
                tracing::debug!("idle connection closed");
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, "bad frame from client; closing the connection");
                break;
            }
            Ok(Some(Ok(bytes))) => bytes,
        };
        let frame: RequestFrame = match decode(&bytes) {
            Ok(frame) => frame,
            Err(e) if e.is_unknown_variant() => {
                let Ok(id) = decode_prefix::<u64>(&bytes) else {
                    break;
                };
                let error = WireError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "this daemon (bangui {}) does not know that request; is the client newer than the daemon?",
                        crate::VERSION
                    ),
                );
                if reply(&mut conn, id, Err(error)).await.is_err() {
                    break;
                }
                continue;
            }
            Err(e) if e.is_over_limit() => {
                // Well framed but too big to decode: say so and carry on.
                let Ok(id) = decode_prefix::<u64>(&bytes) else {
                    break;
                };
                tracing::warn!(bytes = bytes.len(), "request over the decode limit refused");
                let error = WireError::new(
                    ErrorCode::TooLarge,
                    format!(
                        "the request does not decode within the daemon's limit of {} MiB; send fewer or shorter items per request (bangui-ctl splits long lists by itself)",
                        bangui_proto::DECODE_LIMIT / (1024 * 1024)
                    ),
                );
                if reply(&mut conn, id, Err(error)).await.is_err() {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "malformed request; closing the connection");
                break;
            }
        };
        let is_admin = match admin {
            Some(known) => known,
            None => {
                let known = check_admin(&ctx, peer).await;
                admin = Some(known);
                known
            }
        };
        let name = frame.request.name();
        tracing::debug!(request = name, id = frame.id, "request");
        let result = if frame.request.is_mutating() && !is_admin {
            tracing::warn!(
                request = name,
                peer_uid = peer.uid,
                peer_pid = peer.pid,
                "permission denied: not an administrator"
            );
            let policy = ctx.policy.clone();
            let message = tokio::task::spawn_blocking(move || policy.denied_message(peer.uid))
                .await
                .unwrap_or_else(|_| "this changes state and needs an administrator".into());
            Err(WireError::new(ErrorCode::PermissionDenied, message))
        } else {
            let _turn = if !is_admin && super::costly::is_costly(&frame.request) {
                places.costly.turn(peer.uid).await
            } else {
                None
            };
            handlers::dispatch(&ctx, &peer, is_admin, frame.request).await
        };
        if reply(&mut conn, frame.id, result).await.is_err() {
            break;
        }
    }
}

async fn handshake(conn: &mut Conn, ctx: &Ctx) -> Option<ClientHello> {
    let first = match tokio::time::timeout(ctx.config.handshake_timeout, conn.next()).await {
        Err(_) => {
            tracing::warn!("no handshake within the timeout; closing the connection");
            return None;
        }
        Ok(None) => return None,
        Ok(Some(Err(e))) => {
            tracing::warn!(error = %e, "bad handshake frame; closing the connection");
            return None;
        }
        Ok(Some(Ok(bytes))) => bytes,
    };
    match decode::<ClientHello>(&first) {
        Ok(hello) => Some(hello),
        Err(e) => {
            tracing::warn!(error = %e, "handshake does not decode; closing the connection");
            None
        }
    }
}

async fn may_connect(ctx: &Ctx, peer: Peer) -> bool {
    let policy = ctx.policy.clone();
    tokio::task::spawn_blocking(move || policy.may_connect(&peer))
        .await
        .unwrap_or(false)
}

async fn check_admin(ctx: &Ctx, peer: Peer) -> bool {
    let policy = ctx.policy.clone();
    tokio::task::spawn_blocking(move || policy.is_admin(&peer))
        .await
        .unwrap_or(false)
}

async fn refuse(conn: &mut Conn, error: WireError) {
    let _ = send(
        conn,
        &HelloReply::Refused {
            server: server_info(),
            error,
        },
    )
    .await;
}

async fn reply(
    conn: &mut Conn,
    id: u64,
    result: Result<bangui_proto::Response, WireError>,
) -> Result<(), ()> {
    let frame = ResponseFrame { id, result };
    let bytes = match encode(&frame) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "answer does not fit in a frame");
            let error = WireError::new(
                ErrorCode::Internal,
                format!("the answer is too large to send ({e}); ask for fewer rows"),
            );
            encode(&ResponseFrame {
                id,
                result: Err(error),
            })
            .map_err(|_| ())?
        }
    };
    write(conn, bytes).await
}

async fn send<T: serde::Serialize>(conn: &mut Conn, message: &T) -> Result<(), ()> {
    let bytes = encode(message).map_err(|_| ())?;
    write(conn, bytes).await
}

/// A client that stops reading must not hold its task for ever.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn write(conn: &mut Conn, bytes: Bytes) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_TIMEOUT, conn.send(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "cannot write to client");
            Err(())
        }
        Err(_) => {
            tracing::warn!("client does not read its answers; closing the connection");
            Err(())
        }
    }
}
