//! Finding the daemon's socket and connecting to it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bangui_proto::paths::{self, SocketCandidate};
use bangui_proto::{Client, ClientError, Request, Response};

use crate::exit::{DAEMON_ERROR, Failure, Invocation};

/// Where to look: the flag or `BANGUI_SOCKET` alone, else the documented
/// search order of [`paths::socket_candidates`].
pub fn candidates(flag: Option<PathBuf>) -> Vec<SocketCandidate> {
    if let Some(path) = flag {
        return vec![SocketCandidate {
            path,
            origin: "--socket or BANGUI_SOCKET".into(),
        }];
    }
    paths::socket_candidates(
        paths::euid_is_root(),
        |k| std::env::var_os(k),
        paths::home_of_euid,
        configured_socket,
    )
}

/// `daemon.socket` from a config file, if it is readable and sets one. The ctl
/// does not validate the daemon's config; the daemon does.
fn configured_socket(config: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(config).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let socket = table.get("daemon")?.get("socket")?.as_str()?;
    Some(PathBuf::from(socket))
}

/// A connected client plus what is needed to explain failures.
pub struct Daemon {
    client: Client,
    pub socket: PathBuf,
    pub invocation: Invocation,
}

impl Daemon {
    /// Connects to the first candidate that answers. A place with no socket,
    /// or a socket nobody answers on, passes to the next; any other failure
    /// (permission denied, a version mismatch, a timeout) is the answer.
    pub async fn open(
        candidates: &[SocketCandidate],
        timeout: Option<Duration>,
        invocation: Invocation,
    ) -> Result<Daemon, Failure> {
        let name = concat!("bangui-ctl ", env!("CARGO_PKG_VERSION"));
        let mut tried: Vec<(&SocketCandidate, &'static str)> = Vec::new();
        for candidate in candidates {
            match Client::connect(&candidate.path, name, timeout).await {
                Ok(client) => {
                    return Ok(Daemon {
                        client,
                        socket: candidate.path.clone(),
                        invocation,
                    });
                }
                Err(ClientError::Connect { source, .. })
                    if matches!(
                        source.kind(),
                        ErrorKind::NotFound | ErrorKind::ConnectionRefused
                    ) && candidates.len() > 1 =>
                {
                    let why = if source.kind() == ErrorKind::NotFound {
                        "no socket"
                    } else {
                        "nothing answers (left by a daemon that stopped)"
                    };
                    tried.push((candidate, why));
                }
                Err(e) => return Err(Failure::from_client(e, &candidate.path, &invocation)),
            }
        }
        if tried.is_empty() {
            return Err(Failure::new(
                crate::exit::UNREACHABLE,
                "no socket to try".to_string(),
            ));
        }
        let list: Vec<String> = tried
            .iter()
            .map(|(c, why)| format!("  {} ({}): {why}", c.path.display(), c.origin))
            .collect();
        Err(Failure::new(
            crate::exit::UNREACHABLE,
            format!(
                "bangui is not running; tried, in order:\n{}\nstart it with `sudo systemctl start bangui` (or run `bangui` in a terminal), or point --socket at its socket",
                list.join("\n")
            ),
        ))
    }

    /// A second connection to the same daemon (for progress while a call waits).
    pub async fn another(&self, timeout: Option<Duration>) -> Option<Daemon> {
        let here = [SocketCandidate {
            path: self.socket.clone(),
            origin: String::new(),
        }];
        Daemon::open(&here, timeout, self.invocation.clone())
            .await
            .ok()
    }

    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.client.set_timeout(timeout);
    }

    pub async fn call(&mut self, request: Request) -> Result<Response, Failure> {
        self.client
            .call(request)
            .await
            .map_err(|e| Failure::from_client(e, &self.socket, &self.invocation))
    }
}

/// The error for an answer of the wrong kind.
pub fn unexpected(expected: &str, got: &Response) -> Failure {
    Failure::new(
        DAEMON_ERROR,
        format!(
            "bangui answered `{}` where `{expected}` was expected",
            got.name()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_socket_from_a_config_file() {
        let dir = std::env::temp_dir().join(format!("bangui-ctl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bangui.toml");
        std::fs::write(&file, "[daemon]\nsocket = \"/srv/b.sock\"\n").unwrap();
        assert_eq!(configured_socket(&file), Some(PathBuf::from("/srv/b.sock")));
        std::fs::write(&file, "[daemon]\nstate_dir = \"/x\"\n").unwrap();
        assert_eq!(configured_socket(&file), None);
        std::fs::write(&file, "not toml [").unwrap();
        assert_eq!(configured_socket(&file), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
