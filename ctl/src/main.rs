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
use crate::exit::Failure;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("bangui-ctl: {}", failure.message);
            failure.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let explicit = cli
        .timeout
        .as_deref()
        .map(humantime::parse_duration)
        .transpose()
        .map_err(|e| Failure::usage(format!("--timeout: {e}")))?;
    let socket = connect::socket_path(cli.socket);
    let mut daemon = Daemon::open(socket, Some(explicit.unwrap_or(DEFAULT_TIMEOUT))).await?;
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
    match cli.command {
        Command::Ping => commands::ping::run(&mut daemon, json).await,
        Command::Status => commands::status::run(&mut daemon, json).await,
        Command::Jobs(command) => commands::jobs::run(&mut daemon, command, json).await,
        Command::Sessions(command) => commands::sessions::run(&mut daemon, command, json).await,
        Command::Fail2ban(command) => commands::fail2ban::run(&mut daemon, command, json).await,
        Command::Ban(args) => commands::fail2ban::ban(&mut daemon, args, false, json).await,
        Command::Unban(args) => commands::fail2ban::ban(&mut daemon, args, true, json).await,
        Command::Banned { address } => commands::fail2ban::banned(&mut daemon, address, json).await,
        Command::Geo(command) => commands::geo::run(&mut daemon, command, json).await,
        Command::Blocklist(command) => commands::blocklist::run(&mut daemon, command, json).await,
        Command::History(command) => commands::history::run(&mut daemon, command, json).await,
        Command::Setup(args) => commands::auth::setup(&mut daemon, args, json).await,
        Command::Login {
            password_stdin,
            label,
        } => commands::auth::login(&mut daemon, password_stdin, label, json).await,
        Command::Logout => commands::auth::logout(&mut daemon, json).await,
        Command::Config(command) => commands::config::run(&mut daemon, command, json).await,
    }
}
