//! How failures become messages and exit codes.

use std::io::ErrorKind;
use std::path::Path;
use std::process::ExitCode;

use bangui_proto::{ClientError, ErrorCode};

pub const DAEMON_ERROR: u8 = 1;
pub const USAGE: u8 = 2;
pub const UNREACHABLE: u8 = 3;
pub const PERMISSION_DENIED: u8 = 4;
pub const NOT_FOUND: u8 = 5;
pub const VERSION_MISMATCH: u8 = 6;
pub const RUN_FAILED: u8 = 7;

/// A failure with the message to print and the status to exit with.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }

    /// Turns a client error into advice for the person at the terminal.
    pub fn from_client(error: ClientError, socket: &Path) -> Failure {
        let start = "start it with `systemctl start bangui` or run `bangui` in a terminal";
        match error {
            ClientError::Connect { source, .. } => match source.kind() {
                ErrorKind::NotFound => Failure::new(
                    UNREACHABLE,
                    format!(
                        "bangui is not running: no socket at {}; {start}, or point --socket at its socket",
                        socket.display()
                    ),
                ),
                ErrorKind::ConnectionRefused => Failure::new(
                    UNREACHABLE,
                    format!(
                        "bangui is not running: nothing answers on {} (the socket is left from a daemon that stopped); {start}",
                        socket.display()
                    ),
                ),
                ErrorKind::PermissionDenied => Failure::new(
                    PERMISSION_DENIED,
                    format!(
                        "permission denied on {}: run as root, or ask an administrator to add you to the socket's group (daemon.socket_group)",
                        socket.display()
                    ),
                ),
                _ => Failure::new(
                    UNREACHABLE,
                    format!("cannot connect to {}: {source}", socket.display()),
                ),
            },
            ClientError::Timeout(limit) => Failure::new(
                UNREACHABLE,
                format!(
                    "bangui did not answer on {} within {}; it may be overloaded or hung (raise --timeout to wait longer)",
                    socket.display(),
                    humantime::format_duration(limit)
                ),
            ),
            ClientError::VersionMismatch {
                client,
                daemon,
                daemon_version,
            } => Failure::new(
                VERSION_MISMATCH,
                format!(
                    "bangui-ctl {} speaks protocol {client} but the daemon (bangui {daemon_version}) speaks protocol {daemon}; use the bangui-ctl that came with the daemon",
                    env!("CARGO_PKG_VERSION")
                ),
            ),
            ClientError::Daemon(wire) => {
                let code = match wire.code {
                    ErrorCode::PermissionDenied => PERMISSION_DENIED,
                    ErrorCode::NotFound => NOT_FOUND,
                    ErrorCode::VersionMismatch => VERSION_MISMATCH,
                    ErrorCode::InvalidArgument
                    | ErrorCode::Busy
                    | ErrorCode::Unavailable
                    | ErrorCode::Internal => DAEMON_ERROR,
                };
                Failure::new(code, wire.message)
            }
            ClientError::Closed | ClientError::Io(_) => Failure::new(
                UNREACHABLE,
                format!(
                    "the connection to bangui on {} broke: {error}",
                    socket.display()
                ),
            ),
            ClientError::Codec(_) | ClientError::WrongId { .. } | ClientError::Unusable => {
                Failure::new(DAEMON_ERROR, format!("bad answer from bangui: {error}"))
            }
        }
    }
}
