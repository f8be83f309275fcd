//! `bangui-ctl`: talk to the bangui daemon over its Unix socket.

mod commands;
mod connect;
mod exit;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use bangui_ctl::cli;
use clap::Parser;

use crate::cli::{BlocklistCommand, Cli, Command, GeoCommand, JobsCommand};
use crate::connect::Daemon;
use crate::exit::{Failure, INTERRUPTED, Invocation};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Err(failure) = commands::bans::read_stdin(&mut cli.command) {
        eprintln!("bangui-ctl: {}", failure.message);
        return failure.exit_code();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bangui-ctl: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let invocation = Invocation::from_args(std::env::args());
    let on_interrupt = interrupted_note(&cli.command);
    let result = runtime.block_on(async {
        tokio::select! {
            result = run(cli, invocation) => result,
            _ = tokio::signal::ctrl_c() => Err(Failure::new(INTERRUPTED, on_interrupt)),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // An answer by exit status alone ("not banned") has nothing to say.
            if !failure.message.is_empty() {
                eprintln!("bangui-ctl: {}", failure.message);
            }
            failure.exit_code()
        }
    }
}

/// What Ctrl-C leaves behind: the daemon finishes what it was asked to do.
fn interrupted_note(command: &Command) -> String {
    match command {
        Command::Blocklist(BlocklistCommand::Run { name, .. }) => format!(
            "interrupted: stopped waiting, but the import goes on in the daemon; follow it with `bangui-ctl blocklist runs{}`",
            name.as_deref().map(|n| format!(" {n}")).unwrap_or_default()
        ),
        Command::Blocklist(BlocklistCommand::Remove { name, .. }) => format!(
            "interrupted: stopped waiting, but the daemon goes on removing {name}; check with `bangui-ctl blocklist list`"
        ),
        Command::Jobs(JobsCommand::Run { id, .. }) => format!(
            "interrupted: stopped waiting, but the run goes on in the daemon; follow it with `bangui-ctl jobs runs {id}`"
        ),
        Command::Ban(_) | Command::Unban(_) => "interrupted: the daemon finishes the request it had been sent (earlier ones are done); check with `bangui-ctl banned ADDRESS` or `bangui-ctl fail2ban status --live`".into(),
        _ => "interrupted".into(),
    }
}

async fn run(cli: Cli, invocation: Invocation) -> Result<(), Failure> {
    let explicit = cli.timeout;
    let candidates = connect::candidates(cli.socket);
    let question = matches!(
        &cli.command,
        Command::Banned { .. } | Command::Status { check: true }
    );
    let mut daemon = match Daemon::open(
        &candidates,
        Some(explicit.unwrap_or(DEFAULT_TIMEOUT)),
        invocation,
    )
    .await
    {
        Ok(daemon) => daemon,
        Err(f) if question => {
            // Monitoring reads one line on standard output whatever happens.
            if matches!(&cli.command, Command::Status { check: true }) && !cli.json {
                let first = f.message.lines().next().unwrap_or("");
                println!("CRITICAL: {first}");
            }
            return Err(f.for_question());
        }
        Err(f) => return Err(f),
    };
    // A run can take as long as its job's timeout, and a big ban as long as
    // fail2ban needs; the daemon bounds each step, so only --timeout applies.
    if matches!(
        &cli.command,
        Command::Jobs(JobsCommand::Run { wait: true, .. })
            | Command::Ban(_)
            | Command::Unban(_)
            | Command::Geo(GeoCommand::Lookup { remote: true, .. })
            | Command::Blocklist(
                BlocklistCommand::Run { wait: true, .. }
                    | BlocklistCommand::Remove { unban: true, .. }
                    | BlocklistCommand::Plan { .. }
            )
    ) {
        daemon.set_timeout(explicit);
    }
    let json = cli.json;
    dispatch(&mut daemon, cli.command, json).await
}

async fn dispatch(daemon: &mut Daemon, command: Command, json: bool) -> Result<(), Failure> {
    match command {
        Command::Ping => commands::ping::run(daemon, json).await,
        Command::Status { check } => commands::status::run(daemon, check, json).await,
        Command::Jobs(command) => commands::jobs::run(daemon, command, json).await,
        Command::Sessions(command) => commands::sessions::run(daemon, command, json).await,
        Command::Fail2ban(command) => commands::fail2ban::run(daemon, command, json).await,
        Command::Ban(args) => commands::bans::ban(daemon, args, false, json).await,
        Command::Unban(args) => commands::bans::ban(daemon, args, true, json).await,
        Command::Banned { addresses, quiet } => {
            commands::bans::banned(daemon, addresses, quiet, json).await
        }
        Command::Explain { target } => commands::explain::run(daemon, target, json).await,
        Command::Geo(command) => commands::geo::run(daemon, command, json).await,
        Command::Blocklist(command) => commands::blocklist::run(daemon, command, json).await,
        Command::History(command) => commands::history::run(daemon, command, json).await,
        Command::Setup(args) => commands::auth::setup(daemon, args, json).await,
        Command::Login {
            password_stdin,
            label,
        } => commands::auth::login(daemon, password_stdin, label, json).await,
        Command::Logout => commands::auth::logout(daemon, json).await,
        Command::Config(command) => commands::config::run(daemon, command, json).await,
    }
}
