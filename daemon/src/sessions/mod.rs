//! Login sessions: tokens are shown once at creation and only their SHA-256
//! is kept, so neither the database nor a log line can leak one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bangui_proto::messages::SessionInfo;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::ids::{self, RandomError};
use crate::store::{Db, StoreError, sessions as table};

/// Prefix that makes a token recognisable (and greppable) as bangui's.
const TOKEN_PREFIX: &str = "bgt_";
/// Longest lifetime a session may be given.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);
/// `last_seen_at` is refreshed at most this often, to spare a write per request.
const TOUCH_EVERY_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session `{0}`")]
    NotFound(String),
    #[error("the token matches no session (it may have been revoked)")]
    UnknownToken,
    #[error("the session expired")]
    Expired,
    #[error(
        "session lifetime must be between 1 s and {}",
        humantime::format_duration(MAX_TTL)
    )]
    BadTtl,
    #[error("session label must be 1 to 200 printable characters")]
    BadLabel,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// The session operations, over the store and a clock.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    clock: Clock,
    /// Seconds; `config set sessions.default_ttl` changes it while running.
    default_ttl: Arc<AtomicU64>,
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl Sessions {
    pub fn new(db: Db, clock: Clock, default_ttl: Duration) -> Sessions {
        Sessions {
            db,
            clock,
            default_ttl: Arc::new(AtomicU64::new(default_ttl.as_secs())),
        }
    }

    /// The lifetime of sessions created without one from now on.
    pub fn set_default_ttl(&self, ttl: Duration) {
        self.default_ttl.store(ttl.as_secs(), Ordering::Relaxed);
    }

    /// Creates a session; the returned token is never seen again.
    pub async fn create(
        &self,
        label: &str,
        ttl: Option<Duration>,
        uid: u32,
    ) -> Result<(SessionInfo, String), SessionError> {
        let ttl = ttl.unwrap_or(Duration::from_secs(
            self.default_ttl.load(Ordering::Relaxed),
        ));
        if ttl.is_zero() || ttl > MAX_TTL {
            return Err(SessionError::BadTtl);
        }
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 200 || label.chars().any(char::is_control) {
            return Err(SessionError::BadLabel);
        }
        let token = format!("{TOKEN_PREFIX}{}", ids::random_hex(32)?);
        let now = self.clock.now_unix();
        let session = SessionInfo {
            id: ids::random_hex(8)?,
            label: label.to_string(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            created_by_uid: uid,
        };
        let hash = token_hash(&token);
        let stored = session.clone();
        self.db
            .call(move |conn| table::insert(conn, &stored, &hash))
            .await?;
        Ok((session, token))
    }

    /// The session a token belongs to, if it is live; refreshes its last-seen time.
    pub async fn validate(&self, token: &str) -> Result<SessionInfo, SessionError> {
        let hash = token_hash(token);
        let now = self.clock.now_unix();
        self.db
            .call(move |conn| {
                let Some(mut session) = table::by_token(conn, &hash)? else {
                    return Ok(Err(SessionError::UnknownToken));
                };
                if session.expires_at <= now {
                    table::delete(conn, &session.id)?;
                    return Ok(Err(SessionError::Expired));
                }
                if now - session.last_seen_at >= TOUCH_EVERY_SECS {
                    table::touch(conn, &session.id, now)?;
                    session.last_seen_at = now;
                }
                Ok(Ok(session))
            })
            .await?
    }

    pub async fn list(&self, limit: u32) -> Result<Vec<SessionInfo>, SessionError> {
        Ok(self.db.call(move |conn| table::list(conn, limit)).await?)
    }

    pub async fn show(&self, id: &str) -> Result<SessionInfo, SessionError> {
        let key = id.to_string();
        self.db
            .call(move |conn| table::get(conn, &key))
            .await?
            .ok_or_else(|| SessionError::NotFound(id.to_string()))
    }

    /// Deletes a session and returns what it was.
    pub async fn revoke(&self, id: &str) -> Result<SessionInfo, SessionError> {
        let key = id.to_string();
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                let found = table::get(&tx, &key)?;
                if found.is_some() {
                    table::delete(&tx, &key)?;
                }
                tx.commit()?;
                Ok(found)
            })
            .await?
            .ok_or_else(|| SessionError::NotFound(id.to_string()))
    }

    /// Deletes every expired session; returns how many.
    pub async fn delete_expired(&self) -> Result<usize, SessionError> {
        let now = self.clock.now_unix();
        Ok(self
            .db
            .call(move |conn| table::delete_expired(conn, now))
            .await?)
    }
}

#[cfg(test)]
mod tests;
