use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::codec::{decode, encode, frame_codec};
use crate::{
    ClientHello, CodecError, HelloReply, PROTOCOL_VERSION, Request, RequestFrame, Response,
    ResponseFrame, ServerInfo, WireError,
};

/// Why a call to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("connection to the daemon failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame from the daemon: {0}")]
    Codec(#[from] CodecError),
    #[error("the daemon closed the connection")]
    Closed,
    #[error("no answer from the daemon within {0:?}")]
    Timeout(Duration),
    #[error(
        "protocol version mismatch: this client speaks {client}, the daemon (bangui {daemon_version}) speaks {daemon}"
    )]
    VersionMismatch {
        client: u32,
        daemon: u32,
        daemon_version: String,
    },
    #[error("{0}")]
    Daemon(WireError),
    #[error("the daemon answered request {got} while {expected} was awaited")]
    WrongId { expected: u64, got: u64 },
    #[error("this connection failed earlier (a timeout or a broken frame); connect again")]
    Unusable,
}

/// A connection to the daemon, handshake done.
pub struct Client {
    framed: Framed<UnixStream, LengthDelimitedCodec>,
    server: ServerInfo,
    next_id: u64,
    timeout: Option<Duration>,
    /// Set after a failure that may leave an answer in flight: the next
    /// answer read could belong to the earlier request.
    unusable: bool,
}

impl Client {
    /// Connects and performs the handshake. `timeout` bounds the connect, the
    /// handshake and, later, every call; `None` waits for ever.
    pub async fn connect(
        path: &Path,
        client_name: &str,
        timeout: Option<Duration>,
    ) -> Result<Client, ClientError> {
        let stream = within(timeout, connect_patiently(path))
            .await?
            .map_err(|source| ClientError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let mut framed = Framed::new(stream, frame_codec());
        let hello = ClientHello {
            protocol_version: PROTOCOL_VERSION,
            client: client_name.to_string(),
        };
        let reply: HelloReply = within(timeout, async {
            // A daemon that refuses us may close before our hello lands; its
            // answer can still be waiting to be read, so read before failing.
            let sent = framed.send(encode(&hello)?).await;
            let frame = match framed.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(sent.err().unwrap_or(e).into()),
                None => return Err(sent.err().map_or(ClientError::Closed, ClientError::Io)),
            };
            Ok::<_, ClientError>(decode(&frame)?)
        })
        .await??;
        let server = match reply {
            HelloReply::Accepted(server) => server,
            HelloReply::Refused { server, error } => {
                return Err(if server.protocol_version != PROTOCOL_VERSION {
                    ClientError::VersionMismatch {
                        client: PROTOCOL_VERSION,
                        daemon: server.protocol_version,
                        daemon_version: server.daemon_version,
                    }
                } else {
                    ClientError::Daemon(error)
                });
            }
        };
        Ok(Client {
            framed,
            server,
            next_id: 1,
            timeout,
            unusable: false,
        })
    }

    /// The daemon's versions, as told in the handshake.
    pub fn server(&self) -> &ServerInfo {
        &self.server
    }

    /// Changes the bound on later calls.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Sends one request and waits for its answer. An error answer from the
    /// daemon comes back as [`ClientError::Daemon`].
    pub async fn call(&mut self, request: Request) -> Result<Response, ClientError> {
        if self.unusable {
            return Err(ClientError::Unusable);
        }
        let result = self.exchange(request).await;
        if matches!(&result, Err(e) if !matches!(e, ClientError::Daemon(_))) {
            self.unusable = true;
        }
        result
    }

    async fn exchange(&mut self, request: Request) -> Result<Response, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let frame = encode(&RequestFrame { id, request })?;
        let framed = &mut self.framed;
        let reply: ResponseFrame = within(self.timeout, async {
            framed.send(frame).await?;
            let bytes = framed.next().await.ok_or(ClientError::Closed)??;
            Ok::<_, ClientError>(decode(&bytes)?)
        })
        .await??;
        if reply.id != id {
            return Err(ClientError::WrongId {
                expected: id,
                got: reply.id,
            });
        }
        reply.result.map_err(ClientError::Daemon)
    }
}

/// Connects, trying again while the daemon's listen backlog is full (a
/// burst of connections answers EAGAIN): a busy daemon is not a missing one.
/// Bounded by the caller's timeout; without one, by about 10 s of tries.
async fn connect_patiently(path: &Path) -> std::io::Result<UnixStream> {
    let mut wait = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    loop {
        match UnixStream::connect(path).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    && waited < Duration::from_secs(10) =>
            {
                tokio::time::sleep(wait).await;
                waited += wait;
                wait = (wait * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

async fn within<F: std::future::Future>(
    timeout: Option<Duration>,
    future: F,
) -> Result<F::Output, ClientError> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .map_err(|_| ClientError::Timeout(limit)),
        None => Ok(future.await),
    }
}
