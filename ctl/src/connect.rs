//! Finding the daemon's socket and connecting to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bangui_proto::{Client, Request, Response};

use crate::exit::{DAEMON_ERROR, Failure};

/// The socket to use: the flag or `BANGUI_SOCKET`, else `daemon.socket` from
/// the daemon's config file, else the built-in default the daemon also uses.
pub fn socket_path(flag: Option<PathBuf>) -> PathBuf {
    if let Some(path) = flag {
        return path;
    }
    let defaults = bangui_proto::paths::defaults();
    let config = std::env::var_os("BANGUI_CONFIG")
        .map(PathBuf::from)
        .unwrap_or(defaults.config_file);
    configured_socket(&config).unwrap_or(defaults.socket)
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
}

impl Daemon {
    pub async fn open(socket: PathBuf, timeout: Option<Duration>) -> Result<Daemon, Failure> {
        let name = concat!("bangui-ctl ", env!("CARGO_PKG_VERSION"));
        match Client::connect(&socket, name, timeout).await {
            Ok(client) => Ok(Daemon { client, socket }),
            Err(e) => Err(Failure::from_client(e, &socket)),
        }
    }

    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.client.set_timeout(timeout);
    }

    pub async fn call(&mut self, request: Request) -> Result<Response, Failure> {
        self.client
            .call(request)
            .await
            .map_err(|e| Failure::from_client(e, &self.socket))
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
