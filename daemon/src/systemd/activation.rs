//! Socket activation: a listening socket passed by the service manager
//! (`LISTEN_FDS`, a `bangui.socket` unit).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, SockType, SockaddrLike, SockaddrStorage, getsockname, getsockopt, sockopt,
};

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("cannot read the sockets passed by the service manager: {0}")]
    Env(std::io::Error),
    #[error("the service manager passed {0} sockets; bangui takes exactly one")]
    Count(usize),
    #[error("the socket passed by the service manager is not a listening Unix stream socket")]
    Kind,
}

/// The passed socket, if the service manager passed one to this process.
/// Taken once: the environment variables are for this process only, and
/// child processes never see them (the daemon starts none).
pub fn passed_listener() -> Result<Option<std::os::unix::net::UnixListener>, ActivationError> {
    let fds: Vec<RawFd> = sd_notify::listen_fds()
        .map_err(ActivationError::Env)?
        .collect();
    match fds.as_slice() {
        [] => Ok(None),
        [fd] => {
            // SAFETY: LISTEN_FDS/LISTEN_PID name descriptors the service
            // manager opened for this very process (sd_notify checks the pid),
            // starting at 3; nothing else in the daemon owns or closes them,
            // and this function runs once, before any other use.
            #[allow(unsafe_code)]
            let owned = unsafe { OwnedFd::from_raw_fd(*fd) };
            check(&owned)?;
            let listener = std::os::unix::net::UnixListener::from(owned);
            Ok(Some(listener))
        }
        more => Err(ActivationError::Count(more.len())),
    }
}

fn check(fd: &OwnedFd) -> Result<(), ActivationError> {
    let stream = getsockopt(fd, sockopt::SockType).is_ok_and(|t| t == SockType::Stream);
    let listening = getsockopt(fd, sockopt::AcceptConn).unwrap_or(false);
    let unix = getsockname::<SockaddrStorage>(std::os::fd::AsRawFd::as_raw_fd(fd))
        .is_ok_and(|a| a.family() == Some(AddressFamily::Unix));
    if stream && listening && unix {
        Ok(())
    } else {
        Err(ActivationError::Kind)
    }
}
