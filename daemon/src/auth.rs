//! Setup and login: the master password (kept as an Argon2id hash) and the
//! sessions a correct password opens. Wrong passwords are slowed down per
//! peer uid; no password ever reaches a log line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use bangui_proto::messages::{SessionCreated, SessionInfo, SetupState};
use rusqlite::{OptionalExtension, params};

use crate::clock::Clock;
use crate::sessions::{SessionError, Sessions};
use crate::store::{Db, StoreError};

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 1024;
/// The wait after the first wrong password; it doubles with each further one.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("setup is not complete: run `bangui-ctl setup` (as root or an administrator) first")]
    NotSetUp,
    #[error(
        "setup is complete already; `bangui-ctl setup --force` changes the master password (it asks for the old one unless you are root)"
    )]
    AlreadySetUp,
    #[error("wrong password")]
    WrongPassword,
    #[error("too many wrong passwords; try again in {} s", .0.as_secs().max(1))]
    TooSoon(Duration),
    #[error("another password check for your user is running; try again when it has answered")]
    InProgress,
    #[error("the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")]
    BadPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Argon2 checks (and hashes) running at once, whoever asks: each takes
/// about 19 MiB and a core for a moment.
const ARGON2_AT_ONCE: usize = 2;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    until: Instant,
    /// A check for this uid is running: a second one is refused, not run,
    /// so parallel guesses cannot pass the throttle before it is written.
    in_flight: bool,
}

pub struct Auth {
    db: Db,
    sessions: Sessions,
    clock: Clock,
    failures: Mutex<HashMap<u32, Failures>>,
    argon2: tokio::sync::Semaphore,
}

/// `uid`'s record, a clean one (free from `now`) if it has none.
fn failures_of(f: &mut HashMap<u32, Failures>, uid: u32, now: Instant) -> &mut Failures {
    f.entry(uid).or_insert(Failures {
        count: 0,
        until: now,
        in_flight: false,
    })
}

/// A password check reserved for one uid; dropping it ends the reservation.
struct Attempt<'a> {
    auth: &'a Auth,
    uid: u32,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut f = self
            .auth
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = f.get_mut(&self.uid) {
            entry.in_flight = false;
        }
    }
}

fn hash(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Auth {
    pub fn new(db: Db, sessions: Sessions, clock: Clock) -> Auth {
        Auth {
            db,
            sessions,
            clock,
            failures: Mutex::new(HashMap::new()),
            argon2: tokio::sync::Semaphore::new(ARGON2_AT_ONCE),
        }
    }

    async fn stored(&self) -> Result<Option<(String, i64)>, AuthError> {
        Ok(self
            .db
            .call(|conn| {
                Ok(conn
                    .query_row(
                        "SELECT password_hash, completed_at FROM setup WHERE id = 1",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?)
            })
            .await?)
    }

    pub async fn status(&self) -> Result<SetupState, AuthError> {
        let stored = self.stored().await?;
        Ok(SetupState {
            complete: stored.is_some(),
            completed_at: stored.map(|(_, at)| at),
        })
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Failures>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves one password check for `uid`, in one step under the lock:
    /// refused while the peer must wait after wrong passwords, or while
    /// another check of its is running.
    fn reserve(&self, uid: u32) -> Result<Attempt<'_>, AuthError> {
        let now = Instant::now();
        let mut f = self.failures();
        let entry = failures_of(&mut f, uid, now);
        if entry.until > now {
            return Err(AuthError::TooSoon(entry.until - now));
        }
        if entry.in_flight {
            return Err(AuthError::InProgress);
        }
        entry.in_flight = true;
        Ok(Attempt { auth: self, uid })
    }

    /// A wrong password: the next attempt must wait, and this answer waits too.
    async fn failed(&self, uid: u32, what: &str) -> AuthError {
        let delay = {
            let mut f = self.failures();
            let entry = failures_of(&mut f, uid, Instant::now());
            entry.count += 1;
            let delay = FIRST_DELAY
                .saturating_mul(1 << (entry.count - 1).min(10))
                .min(MAX_DELAY);
            // The answer itself waits `delay`; further attempts wait as long again.
            entry.until = Instant::now() + delay * 2;
            (delay, entry.count)
        };
        tracing::warn!(
            peer_uid = uid,
            failures = delay.1,
            wait_secs = delay.0.as_secs(),
            "{what}: wrong password"
        );
        tokio::time::sleep(delay.0).await;
        AuthError::WrongPassword
    }

    fn succeeded(&self, uid: u32) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(&uid);
        }
    }

    async fn password_matches(&self, password: String, stored: String) -> bool {
        let Ok(_slot) = self.argon2.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || verify(&password, &stored))
            .await
            .unwrap_or(false)
    }

    pub async fn setup(
        &self,
        uid: u32,
        password: String,
        force: bool,
        old_password: Option<String>,
    ) -> Result<SetupState, AuthError> {
        let length = password.chars().count();
        if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
            return Err(AuthError::BadPassword);
        }
        if let Some((stored, _)) = self.stored().await? {
            if !force {
                return Err(AuthError::AlreadySetUp);
            }
            if uid != 0 {
                let attempt = self.reserve(uid)?;
                let old = old_password.unwrap_or_default();
                if !self.password_matches(old, stored).await {
                    let error = self.failed(uid, "setup --force").await;
                    drop(attempt);
                    return Err(error);
                }
                drop(attempt);
                self.succeeded(uid);
            }
        }
        let hashed = {
            let _slot = self
                .argon2
                .acquire()
                .await
                .map_err(|e| AuthError::Hash(e.to_string()))?;
            tokio::task::spawn_blocking(move || hash(&password))
                .await
                .map_err(|e| AuthError::Hash(e.to_string()))??
        };
        let now = self.clock.now_unix();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO setup (id, password_hash, completed_at, completed_by_uid)
                     VALUES (1, ?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,
                        completed_at = excluded.completed_at, completed_by_uid = excluded.completed_by_uid",
                    params![hashed, now, uid],
                )?;
                Ok(())
            })
            .await?;
        tracing::info!(peer_uid = uid, "master password set; setup complete");
        self.status().await
    }

    pub async fn login(
        &self,
        uid: u32,
        password: String,
        label: &str,
    ) -> Result<SessionCreated, AuthError> {
        let Some((stored, _)) = self.stored().await? else {
            return Err(AuthError::NotSetUp);
        };
        let attempt = self.reserve(uid)?;
        if !self.password_matches(password, stored).await {
            // Still reserved while the answer waits: no guess slips in meanwhile.
            let error = self.failed(uid, "login").await;
            drop(attempt);
            return Err(error);
        }
        drop(attempt);
        self.succeeded(uid);
        let (session, token) = self.sessions.create(label, None, uid).await?;
        tracing::info!(peer_uid = uid, session = %session.id, "login");
        Ok(SessionCreated { session, token })
    }

    pub async fn logout(&self, token: &str) -> Result<SessionInfo, AuthError> {
        let session = self.sessions.validate(token).await?;
        let ended = self.sessions.revoke(&session.id).await?;
        tracing::info!(session = %ended.id, "logout");
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("wrong horse battery", &a));
        assert!(!verify("anything", "not a hash"));
    }
}
