use serde::{Deserialize, Serialize};

/// What kind of failure a [`WireError`] reports. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    NotFound,
    InvalidArgument,
    PermissionDenied,
    Busy,
    Unavailable,
    VersionMismatch,
    Internal,
    /// A request too large to decode within the daemon's limits; split it.
    TooLarge,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not-found",
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::PermissionDenied => "permission-denied",
            ErrorCode::Busy => "busy",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::VersionMismatch => "version-mismatch",
            ErrorCode::Internal => "internal",
            ErrorCode::TooLarge => "too-large",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it travels on the wire: a code a program can act on and a
/// message written for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }
}
