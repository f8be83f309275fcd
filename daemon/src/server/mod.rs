//! The control socket: accept loop, connection limit, per-connection tasks.

mod admission;
mod connection;
mod costly;
pub mod handlers;
pub mod peer;
pub mod socket;

use std::sync::Arc;

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::Ctx;

/// Accepts connections until `stop` is cancelled. Each connection runs in its
/// own task, tracked by `connections` so shutdown can wait for them.
pub async fn serve(
    listener: UnixListener,
    ctx: Arc<Ctx>,
    stop: CancellationToken,
    connections: TaskTracker,
) {
    let admission = Arc::new(admission::Admission::new(ctx.config.max_connections));
    let costly = Arc::new(costly::CostlyReads::new());
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = match peer::Peer::of(&stream) {
            Ok(peer) => peer,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read peer credentials; closing the connection");
                continue;
            }
        };
        // Half-open connections are capped: one that cannot even start
        // its handshake is closed at once.
        let trusted = ctx.policy.trusted_at_accept(&peer);
        let Some(handshaking) = admission.handshake(trusted) else {
            tracing::debug!(
                peer_uid = peer.uid,
                "too many connections in their handshake; closing a new one"
            );
            continue;
        };
        let slot = admission.admit(peer.uid, trusted);
        connections.spawn(connection::handle(
            stream,
            peer,
            Arc::clone(&ctx),
            stop.clone(),
            connection::Places {
                handshaking,
                slot,
                trusted,
                admission: Arc::clone(&admission),
                costly: Arc::clone(&costly),
            },
        ));
    }
}
