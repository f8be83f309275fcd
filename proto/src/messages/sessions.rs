use serde::{Deserialize, Serialize};

/// A login session. The token itself is never stored; only its SHA-256 is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub label: String,
    /// Unix seconds, UTC.
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// uid of the peer that created the session.
    pub created_by_uid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSession {
    pub label: String,
    /// Lifetime in seconds; the daemon's default when absent.
    pub ttl_secs: Option<u64>,
}

/// The answer to [`CreateSession`]: the only time the token is ever shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCreated {
    pub session: SessionInfo,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateSession {
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSessions {
    /// Newest first, at most [`crate::messages::MAX_PAGE`].
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowSession {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeSession {
    pub id: String,
}
