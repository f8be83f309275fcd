//! The bangui daemon as a library: [`run`] does everything `main` does after
//! the configuration is known, so tests and tools can drive it directly.

pub mod allowlist;
pub mod auth;
pub mod bans;
pub mod blocklist;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod coverage;
pub mod dirs;
pub mod fail2ban;
pub mod fault;
#[doc(hidden)]
pub mod fuzzing;
pub mod geo;
pub mod history;
pub mod http;
pub mod hygiene;
pub mod ids;
pub mod jobs;
pub mod lock;
pub mod log_level;
pub mod logging;
pub mod scheduler;
pub mod server;
pub mod sessions;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod systemd;
pub mod targets;
pub mod urls;

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Group};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::allowlist::Allowlist;
use crate::bans::Bans;
use crate::blocklist::Blocklists;
use crate::clock::Clock;
use crate::config::Config;
use crate::context::Ctx;
use crate::fail2ban::health::Health;
use crate::fail2ban::jails::{self, ManagedJail};
use crate::fail2ban::{Fail2ban, Settings};
use crate::geo::Geo;
use crate::history::History;
use crate::jobs::JobDeps;
use crate::lock::{InstanceLock, LockError};
use crate::scheduler::{DbRunLog, Scheduler};
use crate::server::peer::AdminPolicy;
use crate::server::socket::{self, SocketError};
use crate::sessions::Sessions;
use crate::settings::Live;
use crate::store::{Db, StoreError, runs};
use crate::systemd::Notifier;

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
    #[error("{0}")]
    UnsafeDirectory(String),
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
    #[error("cannot set up blocklist imports: {0}")]
    Blocklist(String),
    #[error("a start-up task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Activation(#[from] systemd::activation::ActivationError),
    #[error("cannot watch SIGHUP: {0}")]
    Signal(std::io::Error),
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

/// The jails bangui bans into, as the config names them.
pub fn managed_jails(config: &Config) -> Vec<ManagedJail> {
    let f = &config.fail2ban;
    let action = f.firewall.resolve();
    vec![
        ManagedJail {
            name: f.blocklist_jail.clone(),
            bantime: f.blocklist_bantime,
            purpose: "Addresses banned by bangui's blocklist imports.".into(),
            action,
        },
        ManagedJail {
            name: f.manual_jail.clone(),
            bantime: f.manual_bantime,
            purpose: "Addresses banned by hand with `bangui-ctl ban`.".into(),
            action,
        },
    ]
}

fn log_jail_files(config: &Config, outcomes: &[(String, jails::FileOutcome)]) {
    for (jail, outcome) in outcomes {
        let file = jails::path(&config.fail2ban.config_dir, jail);
        match outcome {
            jails::FileOutcome::Unchanged => {
                tracing::debug!(jail = %jail, file = %file.display(), "jail file is current")
            }
            jails::FileOutcome::LeftAlone => tracing::info!(
                jail = %jail,
                file = %file.display(),
                "jail file has no bangui header: an administrator's file, left alone"
            ),
            jails::FileOutcome::Written | jails::FileOutcome::Updated => tracing::info!(
                jail = %jail,
                file = %file.display(),
                outcome = outcome.as_str(),
                "jail file {}; run `fail2ban-client reload` to load it",
                outcome.as_str()
            ),
        }
    }
}

/// Runs the daemon until `shutdown.stop` is cancelled, then shuts down cleanly.
///
/// Start-up order: lock the state directory, open and migrate the database,
/// bind the socket (or take the one systemd passed), start the scheduler,
/// serve; READY=1 only then. `log` lets `config set` and SIGHUP change the
/// log level while running.
pub async fn run(
    config: Config,
    test_hooks: bool,
    shutdown: Shutdown,
    log: Option<logging::LogControl>,
    notifier: Notifier,
) -> Result<(), DaemonError> {
    let groups = resolve_groups(&config)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&config.state_dir)
        .map_err(|source| DaemonError::StateDir {
            path: config.state_dir.clone(),
            source,
        })?;
    dirs::check_own("state directory", &config.state_dir).map_err(DaemonError::UnsafeDirectory)?;
    if let Some(dir) = config.socket.parent().filter(|d| d.exists()) {
        dirs::check_own("socket directory", dir).map_err(DaemonError::UnsafeDirectory)?;
    }
    let _lock = InstanceLock::acquire(&config.lock_path())?;

    let db_path = config.database_path();
    let (db, opened) = tokio::task::spawn_blocking(move || Db::open(&db_path)).await??;
    let (interrupted, last_runs, streaks) = db
        .call(|conn| {
            Ok((
                runs::mark_interrupted(conn)?,
                runs::last_finished(conn)?,
                runs::failure_streaks(conn)?,
            ))
        })
        .await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "runs left unfinished by the previous daemon marked interrupted"
        );
    }

    // The jails bangui bans into: written to jail.d and expected in fail2ban.
    let managed: Vec<ManagedJail> = if config.fail2ban.manage_jails {
        managed_jails(&config)
    } else {
        Vec::new()
    };
    if !managed.is_empty() {
        let dir = config.fail2ban.config_dir.clone();
        let wanted = managed.clone();
        match tokio::task::spawn_blocking(move || jails::ensure(&dir, &wanted)).await? {
            Ok(outcomes) => log_jail_files(&config, &outcomes),
            Err(e) => tracing::warn!(
                error = %e,
                config_dir = %config.fail2ban.config_dir.display(),
                "cannot write bangui's jail files; bans need the jails to exist in fail2ban"
            ),
        }
    }

    let clock = Clock::System;
    let fail2ban = Arc::new(Fail2ban::new(Settings {
        socket: config.fail2ban.socket.clone(),
        timeout: config.fail2ban.request_timeout,
        max_reply: config.fail2ban.max_reply,
    }));
    // Whether bangui writes their files or not, these are the jails it bans into.
    let expected_jails = vec![
        config.fail2ban.manual_jail.clone(),
        config.fail2ban.blocklist_jail.clone(),
    ];
    let health = Arc::new(Health::new(config.fail2ban.socket.clone(), expected_jails));
    let a = &config.allowlist;
    let bans = Bans::new(
        Arc::clone(&fail2ban),
        Arc::clone(&health),
        clock.clone(),
        Allowlist::new(
            a.networks.clone(),
            a.private_ranges,
            a.reserved_ranges,
            a.own_addresses,
        ),
        fail2ban::Batching {
            first: config.fail2ban.ban_chunk,
            max: config.fail2ban.ban_chunk_max,
            target: config.fail2ban.ban_request_time,
        },
        config.fail2ban.manual_jail.clone(),
    );
    let geo = Geo::load(&config.geo, db.clone(), clock.clone()).await?;
    let blocklists = Blocklists::new(blocklist::Deps {
        db: db.clone(),
        bans: bans.clone(),
        geo: geo.clone(),
        clock: clock.clone(),
        config: config.blocklist.clone(),
        default_jail: config.fail2ban.blocklist_jail.clone(),
        stop: shutdown.stop.clone(),
    })
    .await
    .map_err(DaemonError::Blocklist)?;
    let history = History::new(history::Deps {
        db: db.clone(),
        fail2ban: Arc::clone(&fail2ban),
        geo: geo.clone(),
        clock: clock.clone(),
        database: config.fail2ban.database.clone(),
        retention_days: config.history_retention_days,
        default_jail: config.fail2ban.blocklist_jail.clone(),
    });
    let scheduler = Scheduler::new(
        Arc::new(DbRunLog(db.clone())),
        clock.clone(),
        config.job_runs_keep,
    );
    let sessions = Sessions::new(db.clone(), clock.clone(), config.session_ttl);
    let deps = JobDeps {
        sessions: sessions.clone(),
        fail2ban: Arc::clone(&fail2ban),
        health: Arc::clone(&health),
        geo: geo.clone(),
        blocklists: blocklists.clone(),
        history: history.clone(),
        clock: clock.clone(),
        test_hooks,
    };
    for spec in &config.jobs {
        match jobs::build(&spec.id, &deps) {
            Some(job) => scheduler.register(spec.clone(), job),
            None => tracing::error!(job = %spec.id, "no implementation for job; not scheduled"),
        }
    }
    scheduler.restore_last(last_runs, streaks);

    if let Some(every) = notifier.watchdog_interval() {
        let hooks = test_hooks.then(|| config.state_dir.clone());
        scheduler.set_heartbeat(systemd::watchdog::heartbeat(
            every,
            db.clone(),
            notifier.clone(),
            hooks,
        ));
    }
    let hup = systemd::reload::watch().map_err(DaemonError::Signal)?;

    // A socket passed by systemd (bangui.socket) belongs to systemd: never unlinked.
    let (listener, socket_file, activated) = match systemd::activation::passed_listener()? {
        Some(passed) => (socket::adopt(passed)?, None, true),
        None => {
            let (listener, file) = socket::bind(&config.socket, groups.socket)?;
            (listener, Some(file), false)
        }
    };

    let ctx = Arc::new(Ctx {
        db: db.clone(),
        scheduler: scheduler.clone(),
        auth: Arc::new(auth::Auth::new(db.clone(), sessions.clone(), clock.clone())),
        sessions: sessions.clone(),
        fail2ban,
        health,
        bans: bans.clone(),
        geo: geo.clone(),
        blocklists: blocklists.clone(),
        history,
        settings: settings::Settings::new(
            db.clone(),
            clock.clone(),
            &config,
            Live {
                scheduler: scheduler.clone(),
                sessions: sessions.clone(),
                bans: bans.clone(),
                blocklists: blocklists.clone(),
                log,
            },
        ),
        clock: clock.clone(),
        policy: AdminPolicy {
            own_uid: nix::unistd::geteuid().as_raw(),
            admin_gid: groups.admin.map(Gid::as_raw),
            admin_group: groups.admin.and(config.admin_group.clone()),
            socket_gid: groups.socket.map(Gid::as_raw),
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
    let queue_task = tokio::spawn({
        let geo = geo.clone();
        let stop = shutdown.stop.clone();
        async move { geo.run_queue(stop).await }
    });
    let connections = TaskTracker::new();
    let server_task = tokio::spawn(server::serve(
        listener,
        Arc::clone(&ctx),
        shutdown.stop.clone(),
        connections.clone(),
    ));
    let note = systemd::status::Note::default();
    let reload_task = tokio::spawn(systemd::reload::run(
        hup,
        Arc::clone(&ctx),
        notifier.clone(),
        note.clone(),
        shutdown.stop.clone(),
    ));
    let reporter = systemd::status::StatusReporter {
        notifier: notifier.clone(),
        health: Arc::clone(&ctx.health),
        scheduler: scheduler.clone(),
        blocklists: blocklists.clone(),
        db: db.clone(),
        note,
    };
    // Without a service manager there is nobody to tell: no status queries at all.
    let status_task = if notifier.enabled() {
        notifier.ready(&reporter.compose().await);
        Some(tokio::spawn(reporter.run(shutdown.stop.clone())))
    } else {
        None
    };
    tracing::info!(
        version = VERSION,
        socket = %ctx.config.socket.display(),
        socket_activated = activated,
        state_dir = %ctx.config.state_dir.display(),
        schema_version = opened.schema_version,
        jobs = ctx.config.jobs.len(),
        "bangui is ready"
    );

    shutdown.stop.cancelled().await;
    notifier.stopping("stopping: finishing running jobs");
    tracing::info!("shutting down: no new connections or runs");
    let _ = server_task.await;
    let _ = loop_task.await;
    let _ = reload_task.await;
    if let Some(task) = status_task {
        let _ = task.await;
    }
    let forced = tokio::spawn({
        let scheduler = scheduler.clone();
        let force = shutdown.force.clone();
        async move {
            force.cancelled().await;
            scheduler.cancel_all();
        }
    });
    let grace = ctx.config.shutdown_grace;
    shutdown::step(
        &notifier,
        "running jobs",
        grace + Duration::from_secs(5),
        scheduler.shutdown(grace),
    )
    .await;
    forced.abort();
    connections.close();
    if tokio::time::timeout(CONNECTION_DRAIN, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy at shutdown");
    }
    shutdown::step(
        &notifier,
        "blocklist imports",
        grace,
        blocklists.wait(grace),
    )
    .await;
    let _ = queue_task.await;
    // Nothing resolved is lost on a graceful stop.
    let flushed = shutdown::step(
        &notifier,
        "geo cache flush",
        Duration::from_secs(60),
        geo.flush(),
    )
    .await;
    match flushed {
        Ok(f) if f.written > 0 => {
            tracing::info!(written = f.written, "geo cache flushed at shutdown")
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "final geo cache flush failed; the newest answers are lost")
        }
    }
    db.close().await;
    if let Some(file) = socket_file {
        file.remove();
    }
    tracing::info!("bangui stopped");
    Ok(())
}
