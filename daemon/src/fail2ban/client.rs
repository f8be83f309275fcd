//! The fail2ban socket client: one persistent connection, one request at a
//! time, each with a timeout and a cap on the reply size.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::Mutex;

use super::pickle::{self, Value};
use super::reply::{self, JailStatus};
use crate::allowlist::Allowed;
use crate::targets::Target;

/// Ends every request and every reply on fail2ban's socket.
const END: &[u8] = b"<F2B_END_COMMAND>";

/// How to reach fail2ban.
#[derive(Debug, Clone)]
pub struct Settings {
    pub socket: PathBuf,
    /// Bound on one request: connect, write and the whole reply.
    pub timeout: Duration,
    /// Largest reply accepted, in bytes.
    pub max_reply: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum Fail2banError {
    #[error("cannot connect to fail2ban on {}: {}", socket.display(), bangui_proto::errors::io_text(source))]
    Unavailable {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("fail2ban on {} did not answer within {}", socket.display(), humantime::format_duration(*timeout))]
    Timeout { socket: PathBuf, timeout: Duration },
    #[error("the connection to fail2ban on {} broke: {}", socket.display(), bangui_proto::errors::io_text(source))]
    Broken {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("fail2ban on {} is busy: it took no new connection for {} (another client or a slow action keeps it working)", socket.display(), humantime::format_duration(Duration::from_millis(u64::try_from(waited.as_millis()).unwrap_or(u64::MAX))))]
    Busy { socket: PathBuf, waited: Duration },
    #[error("fail2ban's reply is larger than {max} bytes (fail2ban.max_reply)")]
    TooLarge { max: usize },
    #[error("fail2ban sent a reply bangui cannot read: {0}")]
    BadReply(String),
    #[error("fail2ban has no jail `{0}`")]
    UnknownJail(String),
    #[error("fail2ban refused the command: {class}: {message}")]
    Refused { class: String, message: String },
}

impl Fail2banError {
    /// fail2ban is not there or not answering, as opposed to refusing a command.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Fail2banError::Unavailable { .. }
                | Fail2banError::Timeout { .. }
                | Fail2banError::Busy { .. }
                | Fail2banError::Broken { .. }
        )
    }
}

/// A client of one fail2ban server. Requests are serialised: a long command
/// never interleaves with another on the shared connection.
pub struct Fail2ban {
    settings: Settings,
    conn: Mutex<Option<UnixStream>>,
    /// Readers' copies of jails' full status.
    shared: super::shared::Shared,
}

/// How one exchange on an open connection failed.
enum Failure {
    /// Nothing came back: the server closed the connection (it may have restarted).
    Stale(std::io::Error),
    Fatal(Fail2banError),
}

impl Fail2ban {
    pub fn new(settings: Settings) -> Fail2ban {
        Fail2ban {
            settings,
            conn: Mutex::new(None),
            shared: Default::default(),
        }
    }

    pub fn socket(&self) -> &std::path::Path {
        &self.settings.socket
    }

    /// Sends one command and returns fail2ban's answer value (code 0), or its
    /// error as a typed error.
    pub async fn request(&self, args: &[&str]) -> Result<Value, Fail2banError> {
        let mut payload = pickle::encode_command(args)
            .map_err(|e| Fail2banError::BadReply(format!("cannot encode the command: {e}")))?;
        payload.extend_from_slice(END);
        let timeout = self.settings.timeout;
        let mut conn = self.conn.lock().await;
        let deadline = tokio::time::Instant::now() + timeout;
        // A connection the server closed since the last request fails at once;
        // one retry on a fresh connection covers a fail2ban restart.
        for attempt in 0..2 {
            // Out of the shared slot for the whole exchange: if this request
            // is abandoned after sending (a caller's timeout, shutdown), the
            // stream goes with it and its reply is never read by the next one.
            let mut stream = match conn.take() {
                Some(stream) => stream,
                None => self.connect(deadline).await?,
            };
            let exchange = exchange(&mut stream, &payload, self.settings.max_reply);
            let outcome = match tokio::time::timeout_at(deadline, exchange).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Fatal(Fail2banError::Timeout {
                    socket: self.settings.socket.clone(),
                    timeout,
                })),
            };
            match outcome {
                Ok(value) => {
                    *conn = Some(stream);
                    return interpret(value);
                }
                Err(Failure::Stale(source)) => {
                    if attempt == 1 {
                        return Err(Fail2banError::Broken {
                            socket: self.settings.socket.clone(),
                            source,
                        });
                    }
                }
                Err(Failure::Fatal(error)) => return Err(error),
            }
        }
        Err(Fail2banError::Broken {
            socket: self.settings.socket.clone(),
            source: std::io::Error::other("no connection"),
        })
    }

    /// Connects, retrying while fail2ban's listen backlog (one connection)
    /// is full: a busy fail2ban answers EAGAIN, which is not fail2ban being
    /// down. Gives up at the deadline with [`Fail2banError::Busy`].
    async fn connect(&self, deadline: tokio::time::Instant) -> Result<UnixStream, Fail2banError> {
        let socket = &self.settings.socket;
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(10);
        loop {
            match tokio::time::timeout_at(deadline, UnixStream::connect(socket)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if tokio::time::Instant::now() + wait >= deadline {
                        return Err(Fail2banError::Busy {
                            socket: socket.clone(),
                            waited: started.elapsed(),
                        });
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(200));
                }
                Ok(Err(source)) => {
                    return Err(Fail2banError::Unavailable {
                        socket: socket.clone(),
                        source,
                    });
                }
                Err(_) => {
                    return Err(Fail2banError::Timeout {
                        socket: socket.clone(),
                        timeout: self.settings.timeout,
                    });
                }
            }
        }
    }

    pub async fn ping(&self) -> Result<(), Fail2banError> {
        match self.request(&["ping"]).await? {
            Value::Str(s) if s == "pong" => Ok(()),
            other => Err(reply::unexpected("ping", &other)),
        }
    }

    pub async fn version(&self) -> Result<String, Fail2banError> {
        reply::string(self.request(&["version"]).await?, "version")
    }

    /// Names of the running jails.
    pub async fn jails(&self) -> Result<Vec<String>, Fail2banError> {
        reply::jail_list(self.request(&["status"]).await?)
    }

    /// A jail's counts, and its banned list unless `short`.
    pub async fn jail_status(&self, jail: &str, short: bool) -> Result<JailStatus, Fail2banError> {
        let value = if short {
            self.request(&["status", jail, "short"]).await?
        } else {
            self.request(&["status", jail]).await?
        };
        reply::jail_status(value)
    }

    /// A jail's status with its whole banned list as readers get it: a copy
    /// at most [`super::shared::MAX_AGE`] old, shared by every reader.
    pub async fn jail_status_shared(&self, jail: &str) -> Result<Arc<JailStatus>, Fail2banError> {
        if let Some(copy) = self.shared.fresh(jail) {
            return Ok(copy);
        }
        let _one = self.shared.one_fetch().await;
        // Another reader may have fetched it meanwhile.
        if let Some(copy) = self.shared.fresh(jail) {
            return Ok(copy);
        }
        let status = Arc::new(self.jail_status(jail, false).await?);
        self.shared.store(jail, Arc::clone(&status));
        Ok(status)
    }

    /// Bans one batch; returns how many were newly banned. Only targets the
    /// allowlist let through can be given ([`Allowed`]).
    pub async fn ban(&self, jail: &str, targets: &[Allowed]) -> Result<u64, Fail2banError> {
        self.batch(jail, "banip", targets).await
    }

    /// Unbans one batch; returns how many bans were lifted.
    pub async fn unban(&self, jail: &str, targets: &[Target]) -> Result<u64, Fail2banError> {
        self.batch(jail, "unbanip", targets).await
    }

    async fn batch<T: AsRef<Target>>(
        &self,
        jail: &str,
        verb: &str,
        targets: &[T],
    ) -> Result<u64, Fail2banError> {
        let texts: Vec<String> = targets.iter().map(|t| t.as_ref().to_string()).collect();
        let mut args: Vec<&str> = vec!["set", jail, verb];
        args.extend(texts.iter().map(String::as_str));
        let count = reply::int(self.request(&args).await?, verb)?;
        u64::try_from(count).map_err(|_| Fail2banError::BadReply(format!("{verb} count {count}")))
    }

    /// For each address (or network, matched as banned), the jails that ban it.
    ///
    /// fail2ban answers `banned IP…` by building each jail's whole ban list
    /// once per address, so beyond a few addresses it is far cheaper to fetch
    /// each jail's list once and look the addresses up here. With `shared`
    /// (a reader asking), those lists are the readers' shared copies.
    pub async fn banned_in(
        &self,
        targets: &[Target],
        shared: bool,
    ) -> Result<Vec<Vec<String>>, Fail2banError> {
        const ASK_FAIL2BAN_UP_TO: usize = 8;
        let texts: Vec<String> = targets.iter().map(Target::to_string).collect();
        if texts.len() <= ASK_FAIL2BAN_UP_TO {
            let mut args = vec!["banned"];
            args.extend(texts.iter().map(String::as_str));
            let value = self.request(&args).await?;
            let per_address = reply::list(value, "banned")?;
            if per_address.len() != texts.len() {
                return Err(Fail2banError::BadReply(format!(
                    "banned: {} answers for {} addresses",
                    per_address.len(),
                    texts.len()
                )));
            }
            return per_address
                .into_iter()
                .map(|v| reply::strings(v, "banned"))
                .collect();
        }
        // Address → jails, filled from each jail's list; repeated or
        // differently written inputs (`1.2.3.4`, `1.2.3.4/32`) share an entry.
        let mut jails_of: std::collections::HashMap<&str, Vec<String>> =
            texts.iter().map(|t| (t.as_str(), Vec::new())).collect();
        for jail in self.jails().await? {
            let (copy, fetched);
            let list: &[String] = if shared {
                copy = self.jail_status_shared(&jail).await?;
                copy.banned.as_deref().unwrap_or_default()
            } else {
                fetched = self.banned_list(&jail).await?;
                &fetched
            };
            for banned in list {
                let canonical = Target::parse(banned).map(|t| t.to_string());
                let key = canonical.as_deref().unwrap_or(banned.as_str());
                if let Some(jails) = jails_of.get_mut(key) {
                    jails.push(jail.clone());
                }
            }
        }
        Ok(texts
            .iter()
            .map(|t| jails_of.get(t.as_str()).cloned().unwrap_or_default())
            .collect())
    }

    /// The names of a jail's actions.
    pub async fn jail_actions(&self, jail: &str) -> Result<Vec<String>, Fail2banError> {
        reply::strings(self.request(&["get", jail, "actions"]).await?, "actions")
    }

    /// A text property of one of a jail's actions (`actionban`, …).
    pub async fn action_text(
        &self,
        jail: &str,
        action: &str,
        property: &str,
    ) -> Result<String, Fail2banError> {
        let value = self
            .request(&["get", jail, "action", action, property])
            .await?;
        reply::string(value, property)
    }

    /// Any property of one of a jail's actions, as fail2ban pickles it.
    pub async fn action_property(
        &self,
        jail: &str,
        action: &str,
        property: &str,
    ) -> Result<Value, Fail2banError> {
        self.request(&["get", jail, "action", action, property])
            .await
    }

    /// Every address a jail bans now.
    pub async fn banned_list(&self, jail: &str) -> Result<Vec<String>, Fail2banError> {
        reply::strings(self.request(&["get", jail, "banned"]).await?, "banned list")
    }

    pub async fn ignoreip(&self, jail: &str) -> Result<Vec<String>, Fail2banError> {
        reply::strings(self.request(&["get", jail, "ignoreip"]).await?, "ignoreip")
    }

    pub async fn bantime(&self, jail: &str) -> Result<i64, Fail2banError> {
        reply::int(self.request(&["get", jail, "bantime"]).await?, "bantime")
    }

    /// fail2ban's database file; none when its database is disabled.
    pub async fn dbfile(&self) -> Result<Option<PathBuf>, Fail2banError> {
        match self.request(&["get", "dbfile"]).await? {
            Value::None => Ok(None),
            Value::Str(path) => Ok(Some(PathBuf::from(path))),
            other => Err(reply::unexpected("dbfile", &other)),
        }
    }
}

/// Writes one request and reads its reply up to the terminator. The
/// terminator can also occur inside a string of the reply, so a reply counts
/// as complete only when the pickle before the terminator decodes whole.
async fn exchange(stream: &mut UnixStream, payload: &[u8], max: usize) -> Result<Value, Failure> {
    stream.write_all(payload).await.map_err(Failure::Stale)?;
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| {
            if buf.is_empty() {
                Failure::Stale(e)
            } else {
                Failure::Fatal(Fail2banError::BadReply(format!(
                    "reading the reply failed: {e}"
                )))
            }
        })?;
        if n == 0 {
            return Err(if buf.is_empty() {
                Failure::Stale(std::io::Error::from(std::io::ErrorKind::UnexpectedEof))
            } else {
                Failure::Fatal(Fail2banError::BadReply(format!(
                    "the connection closed after {} bytes, before the reply ended",
                    buf.len()
                )))
            });
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > max.saturating_add(END.len()) {
            return Err(Failure::Fatal(Fail2banError::TooLarge { max }));
        }
        if buf.ends_with(END) {
            match pickle::decode(&buf[..buf.len() - END.len()]) {
                Ok(value) => return Ok(value),
                Err(e) if e.truncated => continue,
                Err(e) => return Err(Failure::Fatal(Fail2banError::BadReply(e.to_string()))),
            }
        }
    }
}

/// fail2ban answers `(0, value)` or `(1, exception)`.
fn interpret(value: Value) -> Result<Value, Fail2banError> {
    let Value::Tuple(mut pair) = value else {
        return Err(reply::unexpected("reply", &value));
    };
    if pair.len() != 2 {
        return Err(Fail2banError::BadReply(format!(
            "reply is a tuple of {} items, not (code, value)",
            pair.len()
        )));
    }
    let payload = pair.pop().unwrap_or(Value::None);
    match pair.pop() {
        Some(Value::Int(0)) => Ok(payload),
        Some(Value::Int(_)) => Err(reply::error(payload)),
        other => Err(Fail2banError::BadReply(format!(
            "reply code is {other:?}, not a number"
        ))),
    }
}

#[cfg(test)]
mod tests;
