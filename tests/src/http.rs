//! Loopback HTTP servers for the stand-ins (list hosts, ip-api): an axum app
//! on a free port, served by its own small runtime until dropped.

use std::net::SocketAddr;
use std::sync::Arc;

pub struct Served {
    pub addr: SocketAddr,
    pub runtime: Arc<tokio::runtime::Runtime>,
}

pub fn serve(app: axum::Router) -> Served {
    serve_on(app, std::net::Ipv4Addr::LOCALHOST.into())
}

/// [`serve`] on `ip`, bound from the calling thread (so in its network
/// namespace).
pub fn serve_on(app: axum::Router, ip: std::net::IpAddr) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind((ip, 0)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Served {
        addr,
        runtime: Arc::new(runtime),
    }
}
