//! How failures become messages and exit codes: the one place that renders
//! an error for the person at the terminal.

use std::io::ErrorKind;
use std::path::Path;
use std::process::ExitCode;

use bangui_proto::errors::io_text;
use bangui_proto::{ClientError, ErrorCode};

pub const DAEMON_ERROR: u8 = 1;
/// `banned` and `status --check`: the answer is no.
pub const NO: u8 = 1;
pub const USAGE: u8 = 2;
pub const UNREACHABLE: u8 = 3;
pub const PERMISSION_DENIED: u8 = 4;
pub const NOT_FOUND: u8 = 5;
pub const VERSION_MISMATCH: u8 = 6;
pub const RUN_FAILED: u8 = 7;
/// `ban`/`unban`: some or all targets were refused or invalid.
pub const REFUSED: u8 = 8;
/// `banned` and `status --check`: the daemon answered with an error, so the
/// question has no answer (1 means "no" there).
pub const COULD_NOT_TELL: u8 = 9;
/// Interrupted by Ctrl-C (128 + SIGINT), as shells report it.
pub const INTERRUPTED: u8 = 130;

/// The command line as typed, shortened, for messages.
#[derive(Debug, Clone)]
pub struct Invocation(pub String);

impl Invocation {
    /// `bangui-ctl` and its arguments; a long list of addresses is cut.
    pub fn from_args(args: impl Iterator<Item = String>) -> Invocation {
        let args: Vec<String> = args.skip(1).collect();
        let mut shown = vec!["bangui-ctl".to_string()];
        for arg in args.iter().take(6) {
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'') {
                shown.push(format!("'{}'", arg.replace('\'', "'\\''")));
            } else {
                shown.push(arg.clone());
            }
        }
        if args.len() > 6 {
            shown.push(format!("… ({} arguments)", args.len()));
        }
        Invocation(shown.join(" "))
    }
}

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
    pub fn from_client(error: ClientError, socket: &Path, invocation: &Invocation) -> Failure {
        let start = "start it with `sudo systemctl start bangui` (or run `bangui` in a terminal)";
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
                        "permission denied on {}: run as root, or ask an administrator to add you to the socket's group (daemon.socket_group, `bangui` as packaged): `sudo usermod -aG bangui $USER`, then log in again",
                        socket.display()
                    ),
                ),
                _ => Failure::new(
                    UNREACHABLE,
                    format!(
                        "cannot connect to {}: {}",
                        socket.display(),
                        io_text(&source)
                    ),
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
                    ErrorCode::InvalidArgument | ErrorCode::TooLarge => USAGE,
                    ErrorCode::Busy => UNREACHABLE,
                    ErrorCode::Unavailable | ErrorCode::Internal => DAEMON_ERROR,
                };
                let message = if wire.code == ErrorCode::PermissionDenied {
                    format!("`{}`: {}", invocation.0, wire.message)
                } else {
                    wire.message
                };
                Failure::new(code, message)
            }
            ClientError::Closed | ClientError::Io(_) => Failure::new(
                UNREACHABLE,
                format!(
                    "the connection to bangui on {} broke: {}",
                    socket.display(),
                    match &error {
                        ClientError::Io(e) => io_text(e),
                        _ => "the daemon closed it".into(),
                    }
                ),
            ),
            ClientError::Codec(_) | ClientError::WrongId { .. } | ClientError::Unusable => {
                Failure::new(DAEMON_ERROR, format!("bad answer from bangui: {error}"))
            }
        }
    }

    /// For commands whose status 1 means "no": an error the daemon answered
    /// with cannot also be 1.
    pub fn for_question(self) -> Failure {
        if self.code == DAEMON_ERROR {
            Failure::new(COULD_NOT_TELL, self.message)
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_are_shown_as_typed_and_short() {
        let args = ["/usr/bin/bangui-ctl", "jobs", "run", "health_check"].map(String::from);
        assert_eq!(
            Invocation::from_args(args.into_iter()).0,
            "bangui-ctl jobs run health_check"
        );
        let mut many = vec!["x".to_string(), "ban".into()];
        many.extend((0..50_000).map(|i| format!("11.0.{}.{}", i / 250, i % 250)));
        let shown = Invocation::from_args(many.into_iter()).0;
        assert!(shown.ends_with("(50001 arguments)"), "{shown}");
        assert!(shown.len() < 120);
        let quoted = ["b", "sessions", "create", "--label", "web front end"].map(String::from);
        assert!(
            Invocation::from_args(quoted.into_iter())
                .0
                .ends_with("'web front end'")
        );
    }

    #[test]
    fn daemon_side_usage_errors_are_usage_errors() {
        let wire = bangui_proto::WireError::new(ErrorCode::InvalidArgument, "limit must be …");
        let f = Failure::from_client(
            ClientError::Daemon(wire),
            Path::new("/s"),
            &Invocation("bangui-ctl x".into()),
        );
        assert_eq!(f.code, USAGE);
        let denied = bangui_proto::WireError::new(ErrorCode::PermissionDenied, "only admins");
        let f = Failure::from_client(
            ClientError::Daemon(denied),
            Path::new("/s"),
            &Invocation("bangui-ctl jobs run health_check".into()),
        );
        assert_eq!(f.code, PERMISSION_DENIED);
        assert!(
            f.message
                .starts_with("`bangui-ctl jobs run health_check`: ")
        );
        assert_eq!(
            Failure::new(DAEMON_ERROR, "x").for_question().code,
            COULD_NOT_TELL
        );
        assert_eq!(
            Failure::new(UNREACHABLE, "x").for_question().code,
            UNREACHABLE
        );
    }
}
