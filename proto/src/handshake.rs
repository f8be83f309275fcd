use serde::{Deserialize, Serialize};

use crate::WireError;

// These three types are frozen: every past and future version must be able to
// decode them, so that a version mismatch can always be reported.

/// The first frame a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHello {
    pub protocol_version: u32,
    /// Name and version of the client program, for the daemon's log.
    pub client: String,
}

/// Who answered: the daemon's protocol and program versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub protocol_version: u32,
    pub daemon_version: String,
}

/// The daemon's answer to a [`ClientHello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    Accepted(ServerInfo),
    Refused {
        server: ServerInfo,
        error: WireError,
    },
}
