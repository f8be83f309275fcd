//! A loopback HTTP server standing in for blocklist hosts: serves what a test
//! sets per path, with ETag / 304, gzip, error statuses and bodies that never
//! end; counts requests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub enum Serve {
    /// 200 with this body; an ETag when `etag` (a matching If-None-Match gets 304).
    Text {
        body: Vec<u8>,
        etag: bool,
        gzip: bool,
    },
    Status(u16),
    /// 200, then a line every 100 ms, forever.
    Endless,
    /// 302 to this location (itself, for a loop).
    Redirect(String),
    /// 429 with `Retry-After: secs`.
    TooMany {
        retry_after: u64,
    },
    /// A gzip body of `decompressed` bytes of comment lines (tiny on the wire).
    GzipBomb {
        decompressed: usize,
    },
}

#[derive(Default)]
struct Inner {
    paths: HashMap<String, Serve>,
    requests: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct ListServer {
    inner: Arc<Mutex<Inner>>,
    pub addr: SocketAddr,
    _runtime: Arc<tokio::runtime::Runtime>,
}

impl ListServer {
    pub fn start() -> ListServer {
        ListServer::start_on(std::net::Ipv4Addr::LOCALHOST.into())
    }

    /// A list server on `ip` (one the calling thread's network namespace has).
    pub fn start_on(ip: std::net::IpAddr) -> ListServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(serve))
            .with_state(Arc::clone(&inner));
        let served = crate::http::serve_on(app, ip);
        ListServer {
            inner,
            addr: served.addr,
            _runtime: served.runtime,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    pub fn set(&self, path: &str, serve: Serve) {
        self.inner
            .lock()
            .unwrap()
            .paths
            .insert(path.to_string(), serve);
    }

    /// Serves `lines` joined by newlines, with an ETag.
    pub fn set_lines(&self, path: &str, lines: &[String]) {
        self.set(
            path,
            Serve::Text {
                body: lines.join("\n").into_bytes(),
                etag: true,
                gzip: false,
            },
        );
    }

    pub fn requests(&self, path: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .requests
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

fn etag_of(body: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

async fn serve(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let serve = {
        let mut s = inner.lock().unwrap();
        *s.requests.entry(path.clone()).or_default() += 1;
        s.paths.get(&path).cloned()
    };
    match serve {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Serve::Status(code)) => {
            (StatusCode::from_u16(code).unwrap(), "server trouble").into_response()
        }
        Some(Serve::Endless) => (StatusCode::OK, Body::from_stream(endless())).into_response(),
        Some(Serve::Redirect(to)) => (
            StatusCode::FOUND,
            [("location", HeaderValue::from_str(&to).unwrap())],
        )
            .into_response(),
        Some(Serve::TooMany { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", HeaderValue::from(retry_after))],
            "slow down",
        )
            .into_response(),
        Some(Serve::GzipBomb { decompressed }) => {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let block = b"# padding\n".repeat(1 << 16);
            for _ in 0..decompressed.div_ceil(block.len()) {
                enc.write_all(&block).unwrap();
            }
            (
                StatusCode::OK,
                [("content-encoding", HeaderValue::from_static("gzip"))],
                enc.finish().unwrap(),
            )
                .into_response()
        }
        Some(Serve::Text { body, etag, gzip }) => {
            let mut out = HeaderMap::new();
            if etag {
                let tag = etag_of(&body);
                if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(tag.as_str())
                {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                out.insert("etag", HeaderValue::from_str(&tag).unwrap());
            }
            let wants_gzip = headers
                .get("accept-encoding")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("gzip"));
            if gzip && wants_gzip {
                use std::io::Write;
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&body).unwrap();
                out.insert("content-encoding", HeaderValue::from_static("gzip"));
                return (StatusCode::OK, out, enc.finish().unwrap()).into_response();
            }
            (StatusCode::OK, out, body).into_response()
        }
    }
}

/// A body that sends one line every 100 ms and never ends.
fn endless()
-> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(0u64, |n| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let line = format!("11.250.{}.{}\n", n / 250 % 250, n % 250 + 1);
        Some((Ok(axum::body::Bytes::from(line)), n + 1))
    })
}
