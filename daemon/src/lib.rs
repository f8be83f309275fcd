//! The bangui daemon as a library: [`run`] does everything `main` does after
//! the configuration is known, so tests and tools can drive it directly.

pub mod clock;
pub mod config;
pub mod context;
pub mod ids;
pub mod jobs;
pub mod lock;
pub mod logging;
pub mod scheduler;
pub mod server;
pub mod sessions;
pub mod store;

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Group};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Config;
use crate::context::Ctx;
use crate::jobs::JobDeps;
use crate::lock::{InstanceLock, LockError};
use crate::scheduler::{DbRunLog, Scheduler};
use crate::server::peer::AdminPolicy;
use crate::server::socket::{self, SocketError};
use crate::sessions::Sessions;
use crate::store::{Db, StoreError, runs};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long open connections get to finish their current request at shutdown.
const CONNECTION_DRAIN: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot create state directory {}: {source}", path.display())]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{key}`: group `{name}` does not exist")]
    NoSuchGroup { key: &'static str, name: String },
    #[error("`{key}`: cannot look up group `{name}`: {source}")]
    GroupLookup {
        key: &'static str,
        name: String,
        #[source]
        source: nix::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("a start-up task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Tells a running daemon to stop: `stop` starts a graceful shutdown, `force`
/// (a second signal) cancels running jobs without waiting out the grace period.
#[derive(Clone, Default)]
pub struct Shutdown {
    pub stop: CancellationToken,
    pub force: CancellationToken,
}

/// Groups named in the config, resolved to ids.
#[derive(Debug, Clone, Copy)]
pub struct Groups {
    pub socket: Option<Gid>,
    pub admin: Option<Gid>,
}

/// Looks up the groups the config names; part of validating a config.
pub fn resolve_groups(config: &Config) -> Result<Groups, DaemonError> {
    let lookup = |key: &'static str, name: &Option<String>| -> Result<Option<Gid>, DaemonError> {
        let Some(name) = name else { return Ok(None) };
        match Group::from_name(name) {
            Ok(Some(group)) => Ok(Some(group.gid)),
            Ok(None) => Err(DaemonError::NoSuchGroup {
                key,
                name: name.clone(),
            }),
            Err(source) => Err(DaemonError::GroupLookup {
                key,
                name: name.clone(),
                source,
            }),
        }
    };
    Ok(Groups {
        socket: lookup("daemon.socket_group", &config.socket_group)?,
        admin: lookup("daemon.admin_group", &config.admin_group)?,
    })
}

/// Runs the daemon until `shutdown.stop` is cancelled, then shuts down cleanly.
///
/// Start-up order: lock the state directory, open and migrate the database,
/// bind the socket, start the scheduler, serve.
pub async fn run(config: Config, test_hooks: bool, shutdown: Shutdown) -> Result<(), DaemonError> {
    let groups = resolve_groups(&config)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&config.state_dir)
        .map_err(|source| DaemonError::StateDir {
            path: config.state_dir.clone(),
            source,
        })?;
    let _lock = InstanceLock::acquire(&config.lock_path())?;

    let db_path = config.database_path();
    let (db, opened) = tokio::task::spawn_blocking(move || Db::open(&db_path)).await??;
    let (interrupted, last_runs) = db
        .call(|conn| Ok((runs::mark_interrupted(conn)?, runs::last_finished(conn)?)))
        .await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "runs left unfinished by the previous daemon marked interrupted"
        );
    }

    let clock = Clock::System;
    let scheduler = Scheduler::new(
        Arc::new(DbRunLog(db.clone())),
        clock.clone(),
        config.job_runs_keep,
    );
    let sessions = Sessions::new(db.clone(), clock.clone(), config.session_ttl);
    let deps = JobDeps {
        sessions: sessions.clone(),
        test_hooks,
    };
    for spec in &config.jobs {
        match jobs::build(&spec.id, &deps) {
            Some(job) => scheduler.register(spec.clone(), job),
            None => tracing::error!(job = %spec.id, "no implementation for job; not scheduled"),
        }
    }
    scheduler.restore_last(last_runs);

    let (listener, socket_file) = socket::bind(&config.socket, groups.socket)?;

    let ctx = Arc::new(Ctx {
        db: db.clone(),
        scheduler: scheduler.clone(),
        sessions,
        clock: clock.clone(),
        policy: AdminPolicy {
            own_uid: nix::unistd::geteuid().as_raw(),
            admin_gid: groups.admin.map(Gid::as_raw),
        },
        started_at: clock.now_unix(),
        started: Instant::now(),
        schema_version: opened.schema_version,
        config,
    });

    let loop_task = tokio::spawn({
        let scheduler = scheduler.clone();
        let stop = shutdown.stop.clone();
        async move { scheduler.run(stop).await }
    });
    let connections = TaskTracker::new();
    let server_task = tokio::spawn(server::serve(
        listener,
        Arc::clone(&ctx),
        shutdown.stop.clone(),
        connections.clone(),
    ));
    tracing::info!(
        version = VERSION,
        socket = %ctx.config.socket.display(),
        state_dir = %ctx.config.state_dir.display(),
        schema_version = opened.schema_version,
        jobs = ctx.config.jobs.len(),
        "bangui is ready"
    );

    shutdown.stop.cancelled().await;
    tracing::info!("shutting down: no new connections or runs");
    let _ = server_task.await;
    let _ = loop_task.await;
    let forced = tokio::spawn({
        let scheduler = scheduler.clone();
        let force = shutdown.force.clone();
        async move {
            force.cancelled().await;
            scheduler.cancel_all();
        }
    });
    scheduler.shutdown(ctx.config.shutdown_grace).await;
    forced.abort();
    connections.close();
    if tokio::time::timeout(CONNECTION_DRAIN, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy at shutdown");
    }
    db.close().await;
    socket_file.remove();
    tracing::info!("bangui stopped");
    Ok(())
}
