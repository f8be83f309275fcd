use serde::{Deserialize, Serialize};

/// Stores the master password. A second setup needs `force` and the old
/// password (root may leave it out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    pub password: String,
    pub force: bool,
    pub old_password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupState {
    pub complete: bool,
    /// Unix seconds.
    pub completed_at: Option<i64>,
}

/// A new session for whoever knows the master password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub password: String,
    /// What the session is for, e.g. "web front end".
    pub label: String,
}

/// Ends the session a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logout {
    pub token: String,
}
