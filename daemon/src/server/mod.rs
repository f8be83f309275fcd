//! The control socket: accept loop, connection limit, per-connection tasks.

mod connection;
pub mod handlers;
pub mod peer;
pub mod socket;

use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::Semaphore;
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
    let limit = Arc::new(Semaphore::new(ctx.config.max_connections));
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
        let permit = Arc::clone(&limit).try_acquire_owned().ok();
        connections.spawn(connection::handle(
            stream,
            Arc::clone(&ctx),
            stop.clone(),
            permit,
        ));
    }
}
