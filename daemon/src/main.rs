//! `bangui`: parse arguments, load the configuration, run the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bangui_daemon::cli::Args;
use bangui_daemon::config::{Config, Overrides};
use bangui_daemon::systemd::Notifier;
use bangui_daemon::{Shutdown, jobs, logging, resolve_groups, settings};
use bangui_proto::messages::ValueSource;
use clap::parser::ValueSource as ArgSource;
use clap::{CommandFactory, FromArgMatches};
use tokio::signal::unix::{SignalKind, signal};

/// Config keys given on the command line or in the environment, and which.
fn origins(matches: &clap::ArgMatches) -> std::collections::BTreeMap<&'static str, ValueSource> {
    [
        ("state_dir", "daemon.state_dir"),
        ("socket", "daemon.socket"),
        ("socket_group", "daemon.socket_group"),
        ("admin_group", "daemon.admin_group"),
        ("log_level", "daemon.log_level"),
        ("log_format", "daemon.log_format"),
        ("log_target", "daemon.log_target"),
    ]
    .into_iter()
    .filter_map(|(arg, key)| match matches.value_source(arg) {
        Some(ArgSource::EnvVariable) => Some((key, ValueSource::Environment)),
        Some(ArgSource::CommandLine) => Some((key, ValueSource::Flag)),
        _ => None,
    })
    .collect()
}

fn main() -> ExitCode {
    // Whatever umask the daemon was started with, what it creates is its own
    // until it says otherwise (the socket, jail files and directories set
    // their modes explicitly).
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    let test_hooks =
        cfg!(feature = "test-hooks") && std::env::var("BANGUI_TEST_HOOKS").is_ok_and(|v| v == "1");
    let overrides = Overrides {
        config_file: args.config.clone(),
        state_dir: args.state_dir.clone(),
        socket: args.socket.clone(),
        socket_group: args.socket_group.clone(),
        admin_group: args.admin_group.clone(),
        log_level: args.log_level.clone(),
        log_format: args.log_format.clone(),
        log_target: args.log_target.clone(),
        origins: origins(&matches),
    };
    let defaults = bangui_proto::paths::defaults();
    let mut unread = None;
    let config = Config::load(&defaults, &overrides, &jobs::defaults(test_hooks))
        .map(|config| {
            // Persisted settings (`bangui-ctl config set`) override the file.
            match settings::store::read_before_start(&config.database_path()) {
                Ok(persisted) if persisted.is_empty() => config,
                Ok(persisted) => config.with_persisted(persisted),
                Err(e) => {
                    unread = Some(e);
                    config
                }
            }
        })
        .map_err(anyhow::Error::from)
        .and_then(|config| {
            resolve_groups(&config)?;
            Ok(config)
        });
    let notifier = Notifier::from_env();
    let mut config = match config {
        Ok(config) => config,
        Err(e) => {
            let text = bangui_proto::errors::chain(e.as_ref());
            eprintln!("bangui: {text}");
            notifier.status(&format!("failed to start: {text}"));
            return ExitCode::from(2);
        }
    };
    if test_hooks
        && let Some(ms) = std::env::var("BANGUI_TEST_GEO_WINDOW_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
    {
        // Tests shorten ip-api's one-minute window; the limiter logic is the same.
        config.geo.ip_api_window = std::time::Duration::from_millis(ms);
    }
    if args.check_config {
        print_summary(&config);
        return ExitCode::SUCCESS;
    }
    let log = match logging::init(&config.log_level, config.log_format, config.log_target) {
        Ok((log, chosen)) => {
            if let logging::Chosen::StderrInsteadOfJournald(why) = chosen {
                tracing::warn!(error = %why, "the journal is not reachable; logging to stderr");
            }
            log
        }
        Err(e) => {
            eprintln!("bangui: cannot set up logging: {e}");
            notifier.status(&format!("failed to start: cannot set up logging: {e}"));
            return ExitCode::FAILURE;
        }
    };
    if let Some(e) = unread {
        tracing::warn!(error = %e, "cannot read persisted settings; starting with the file's");
    }
    if test_hooks && std::env::var("BANGUI_TEST_PLANT_SECRETS").is_ok_and(|v| v == "1") {
        plant_secrets(&notifier);
    }
    for ignored in &config.layers.ignored {
        tracing::warn!(
            key = %ignored.key,
            value = %settings::shown(&ignored.key, &ignored.value),
            reason = %ignored.reason,
            "persisted setting ignored; `bangui-ctl config unset` removes it"
        );
    }
    match run(config, test_hooks, log, notifier.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = bangui_proto::errors::chain(e.as_ref());
            tracing::error!("{text}");
            notifier.status(&format!("failed: {text}"));
            ExitCode::FAILURE
        }
    }
}

/// Test hook: log lines and a STATUS line carrying made-up secrets, so the
/// tests can prove none of them reaches any output.
fn plant_secrets(notifier: &Notifier) {
    let url = "https://planted-user:planted-url-pw@lists.example/x.txt?key=PLANTEDKEY1";
    tracing::error!(url, "test hook: planted secret in a URL");
    tracing::info!(
        header = "Authorization: Bearer PLANTEDBEARER2",
        "test hook: planted Authorization header"
    );
    tracing::debug!(
        request = ?("Login { password: \"planted password 3\", label: \"x\" }"),
        "test hook: planted password"
    );
    tracing::trace!(
        "test hook: planted token bgt_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    );
    notifier.status(&format!("test hook: planted {url}"));
}

fn run(
    config: Config,
    test_hooks: bool,
    log: logging::LogControl,
    notifier: Notifier,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bangui-worker")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = Shutdown::default();
        watch_signals(shutdown.clone())?;
        bangui_daemon::run(config, test_hooks, shutdown, Some(log), notifier).await?;
        Ok(())
    })
}

/// First SIGTERM/SIGINT: graceful shutdown. A second one: cancel running jobs now.
fn watch_signals(shutdown: Shutdown) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            seen += 1;
            if seen == 1 {
                tracing::info!(signal = name, "stopping");
                shutdown.stop.cancel();
            } else {
                tracing::warn!(signal = name, "second signal: cancelling running jobs now");
                shutdown.force.cancel();
            }
        }
    });
    Ok(())
}

fn print_summary(config: &Config) {
    match &config.config_file {
        Some(path) => println!("configuration ok: {}", path.display()),
        None => println!("configuration ok: no config file, built-in defaults"),
    }
    println!("state_dir  {}", config.state_dir.display());
    println!("socket     {}", config.socket.display());
    println!("log_level  {}", config.log_level);
    let persisted = &config.layers.persisted;
    if !persisted.is_empty() {
        let keys: Vec<&str> = persisted.keys().map(String::as_str).collect();
        println!(
            "persisted  {} setting(s) from the database: {}",
            keys.len(),
            keys.join(", ")
        );
    }
    for ignored in &config.layers.ignored {
        println!("ignored    persisted {}: {}", ignored.key, ignored.reason);
    }
    let mmdb = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("off".to_string(), |p| p.display().to_string())
    };
    println!(
        "geo        maxmind {}, asn {}, ip-api {}",
        mmdb(&config.geo.maxmind_db.path),
        mmdb(&config.geo.maxmind_asn_db.path),
        if config.geo.offline {
            "off (offline)".to_string()
        } else if config.geo.ip_api {
            config.geo.ip_api_url.clone()
        } else {
            "on request only".to_string()
        }
    );
    for job in &config.jobs {
        println!(
            "job {:<20} every {:<10} timeout {:<8} {}",
            job.id,
            humantime::format_duration(job.interval).to_string(),
            humantime::format_duration(job.timeout).to_string(),
            if job.enabled { "enabled" } else { "disabled" }
        );
    }
}
