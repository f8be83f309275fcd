//! The daemon's command line (also read by `cargo xtask` for the man page
//! and shell completions).

use std::path::PathBuf;

use clap::Parser;

/// bangui: the background worker of a fail2ban host.
///
/// Exit status: 0 after a clean shutdown or a valid --check-config, 1 when the
/// daemon fails while starting or running, 2 for a bad command line or config.
#[derive(Debug, Parser)]
#[command(name = "bangui", version)]
pub struct Args {
    /// Config file [default: /etc/bangui/bangui.toml as root, else $XDG_CONFIG_HOME/bangui/bangui.toml; optional]
    #[arg(long, short = 'c', env = "BANGUI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory holding the database and the lock file
    #[arg(long, env = "BANGUI_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Control socket path
    #[arg(long, env = "BANGUI_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Group that owns the control socket (read access)
    #[arg(long, env = "BANGUI_SOCKET_GROUP", value_name = "GROUP")]
    pub socket_group: Option<String>,
    /// Group whose members may make changes (run jobs, manage sessions)
    #[arg(long, env = "BANGUI_ADMIN_GROUP", value_name = "GROUP")]
    pub admin_group: Option<String>,
    /// Log level or filter, e.g. "info" or "debug"
    #[arg(long, env = "BANGUI_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format on stderr: text or json
    #[arg(long, env = "BANGUI_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Where logs go: auto (the journal when stderr is connected to it), stderr or journald
    #[arg(long, env = "BANGUI_LOG_TARGET", value_name = "TARGET")]
    pub log_target: Option<String>,
    /// Validate the configuration, print a summary and exit
    #[arg(long)]
    pub check_config: bool,
}
