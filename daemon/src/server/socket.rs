//! Binding the control socket: stale-socket clean-up, mode, group, and removal
//! of exactly the socket we created.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::Gid;
use tokio::net::UnixListener;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(
        "another bangui is already answering on {}; stop it, or give this daemon another --socket",
        .0.display()
    )]
    InUse(PathBuf),
    #[error("{} exists and is not a socket; refusing to replace it", .0.display())]
    NotASocket(PathBuf),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The socket file we bound, remembered so that only it is ever removed.
pub struct SocketFile {
    pub path: PathBuf,
    identity: (u64, u64),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SocketError {
    let path = path.to_path_buf();
    move |source| SocketError::Io {
        action,
        path,
        source,
    }
}

/// Binds `path` with mode 0660 (group `group` if given). A socket file left by
/// a dead daemon is removed; one that answers means another daemon is running.
pub fn bind(path: &Path, group: Option<Gid>) -> Result<(UnixListener, SocketFile), SocketError> {
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(io("create directory", dir))?;
        // The umask (077) narrowed it; the socket's own mode decides access.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .map_err(io("set the mode of", dir))?;
    }
    remove_if_stale(path)?;
    // Bound under umask 077, the socket starts as the daemon's alone; its
    // group is set before the group may connect, so nobody else ever can.
    let listener = UnixListener::bind(path).map_err(io("bind", path))?;
    if let Some(gid) = group {
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| io("set the group of", path)(std::io::Error::from(e)))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(io("set the mode of", path))?;
    let meta = std::fs::metadata(path).map_err(io("inspect", path))?;
    let file = SocketFile {
        path: path.to_path_buf(),
        identity: (meta.dev(), meta.ino()),
    };
    Ok((listener, file))
}

/// Serves a listening socket passed by the service manager; its path, mode
/// and group are the socket unit's business.
pub fn adopt(listener: std::os::unix::net::UnixListener) -> Result<UnixListener, SocketError> {
    let path = Path::new("(passed by the service manager)");
    listener
        .set_nonblocking(true)
        .map_err(io("use the socket", path))?;
    UnixListener::from_std(listener).map_err(io("use the socket", path))
}

fn remove_if_stale(path: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("inspect", path)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket(path.to_path_buf()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(SocketError::InUse(path.to_path_buf())),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).map_err(io("remove stale socket", path))?;
            tracing::info!(socket = %path.display(), "removed a stale socket left by a daemon that is gone");
            Ok(())
        }
        Err(e) => Err(io("probe existing socket", path)(e)),
    }
}

impl SocketFile {
    /// Unlinks the socket file if it is still the one we bound (another daemon
    /// may have replaced it since, and its socket is not ours to remove).
    pub fn remove(&self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.identity => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(socket = %self.path.display(), error = %e, "cannot remove the socket");
                }
            }
            _ => {}
        }
    }
}
