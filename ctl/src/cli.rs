//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub const EXIT_CODES: &str = "\
Exit status:
  0  success; `banned`: every address is banned; `status --check`: healthy
  1  the daemon answered with an error; `banned`: an address is not banned;
     `status --check`: something is wrong (the output says what)
  2  usage error: bad arguments, whether bangui-ctl or the daemon found them
  3  the daemon is unreachable (not running, no socket, busy, timed out)
  4  permission denied (socket access, or a change that needs an administrator)
  5  not found (no such job, run, session, source or jail)
  6  protocol version mismatch between bangui-ctl and the daemon
  7  a run finished but did not succeed (`jobs run --wait`, `blocklist run
     --wait`); fail2ban failed part-way (`ban`, `unban`, `blocklist remove
     --unban`); `blocklist plan`: the import would fail
  8  `ban`/`unban`: some or all targets were refused or invalid (the rest
     were done; the report lists each refusal)
  9  `banned`, `status --check`: no answer, the daemon answered with an error
     (fail2ban unavailable, for instance)
130  interrupted (Ctrl-C)";

/// One duration syntax everywhere: whole seconds or text.
fn duration(text: &str) -> Result<std::time::Duration, String> {
    bangui_proto::duration::parse(text)
}

/// Control the bangui daemon.
#[derive(Debug, Parser)]
#[command(name = "bangui-ctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Daemon socket [default: the first that answers of daemon.socket in
    /// $BANGUI_CONFIG, ~/.config/bangui/bangui.toml and /etc/bangui/bangui.toml,
    /// then $XDG_RUNTIME_DIR/bangui/bangui.sock (not as root), then /run/bangui/bangui.sock]
    #[arg(long, global = true, env = "BANGUI_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print stable JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for each answer: seconds or e.g. "10s", "2m" [default: 10s;
    /// none for `ban`, `unban`, `jobs run --wait`, `blocklist run --wait`,
    /// `blocklist remove --unban`, `blocklist plan` and `geo lookup --remote`,
    /// whose work the daemon bounds]
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that the daemon answers, and how fast
    Ping,
    /// Versions, uptime, state and a summary of the jobs
    Status {
        /// For monitoring: print one line and exit 0 only when the daemon and
        /// fail2ban are up, bangui's jails are loaded and no job keeps failing
        #[arg(long)]
        check: bool,
    },
    /// Background jobs and their runs
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Login sessions
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// fail2ban as bangui sees it
    #[command(subcommand)]
    Fail2ban(Fail2banCommand),
    /// Ban addresses or networks in fail2ban (after the allowlist)
    Ban(BanArgs),
    /// Lift bans: from every jail that holds them, or from --jail only
    Unban(BanArgs),
    /// Which jails ban these addresses, themselves or by a network that holds
    /// them; exits 0 when every one is banned, 1 when not
    Banned {
        /// IPv4 or IPv6 addresses or networks; `-` reads them from standard input
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Print nothing; answer by exit status only
        #[arg(long, short)]
        quiet: bool,
    },
    /// Why an address is blocked, or why not: the jails that ban it (itself
    /// or by a network), the sources that list it and since when, the
    /// allowlist rule that refuses it, when its bans end, where it is
    Explain {
        /// An IPv4 or IPv6 address or network
        target: String,
    },
    /// Where addresses come from: country, AS number, organisation
    #[command(subcommand)]
    Geo(GeoCommand),
    /// IP blocklists bangui downloads and bans in fail2ban
    #[command(subcommand)]
    Blocklist(BlocklistCommand),
    /// Every ban fail2ban made, kept past its purge age
    #[command(subcommand)]
    History(HistoryCommand),
    /// Store the master password (asked twice on the terminal) and complete setup
    Setup(SetupArgs),
    /// Open a session with the master password; prints the token, once
    Login {
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        /// What the session is for
        #[arg(long, default_value = "bangui-ctl login")]
        label: String,
    },
    /// End the session whose token is read from standard input
    Logout,
    /// The effective configuration, and runtime settings that override the file
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting with its value and where it comes from
    /// (default, file, persisted, environment, flag)
    Show {
        /// Only keys starting with this, e.g. "geo" or "jobs.history_sync"
        prefix: Option<String>,
    },
    /// Persist a setting in the daemon's database; it overrides the file
    /// from now on (administrators only)
    Set {
        /// Dotted key as `config show` lists it, e.g. sessions.default_ttl
        key: String,
        /// TOML value or plain text: 2h, 30, true, debug, '["10.0.0.0/8"]'
        value: String,
    },
    /// Forget a persisted setting; the file or the default applies again
    Unset { key: String },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SetupArgs {
    #[command(subcommand)]
    pub command: Option<SetupCommand>,
    /// Read the password from standard input instead of the terminal (with
    /// --force: the old password on the first line, the new on the second;
    /// root gives only the new one)
    #[arg(long)]
    pub password_stdin: bool,
    /// Change the master password of a completed setup
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum SetupCommand {
    /// Whether setup is complete, and since when
    Status,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Archived bans, newest first
    List {
        #[arg(long)]
        ip: Option<String>,
        #[arg(long)]
        jail: Option<String>,
        /// ISO country code, e.g. DE
        #[arg(long)]
        country: Option<String>,
        /// A time ("2026-11-01", "2026-11-01 12:00:00") or an age ("7d")
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue from a previous page (its "next" id)
        #[arg(long, value_name = "ID")]
        before: Option<u64>,
    },
    /// One address or network: its bans across jails, blocklists that list
    /// it, the listed or banned networks that hold it, where it is
    Ip { ip: String },
    /// Counts grouped by jail, country, asn or day
    Stats {
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        #[arg(long, default_value = "jail")]
        by: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// The most banned addresses, countries or networks
    Top {
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        #[arg(long, default_value = "ip")]
        by: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlocklistCommand {
    /// Subscribe to a list (http://, https:// or file:// URL)
    Add {
        name: String,
        url: String,
        /// How often to download it: seconds or e.g. "6h" [default: the daemon's
        /// blocklist.default_interval, 24h]
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        interval: Option<std::time::Duration>,
        /// Jail to ban into [default: the daemon's fail2ban.blocklist_jail]
        #[arg(long)]
        jail: Option<String>,
        /// Most entries taken from the list [default: blocklist.default_max_entries]
        #[arg(long, value_name = "N")]
        max_entries: Option<u64>,
        /// The list is on this host or the local network: let downloads reach
        /// loopback and private addresses (refused otherwise, redirects included)
        #[arg(long)]
        local: bool,
        /// The URL's path holds a key: never show or log it
        #[arg(long)]
        secret_path: bool,
        /// JSON lists: the field holding the address or network [default: the
        /// first of cidr, ip, network, address, prefix]
        #[arg(long, value_name = "FIELD")]
        json_field: Option<String>,
        /// Scored lists (such as ipsum): keep lines whose second column is at
        /// least N
        #[arg(long, value_name = "N")]
        min_score: Option<u64>,
        /// Refuse IPv4 networks broader than /N [default and broadest: 8]
        #[arg(long, value_name = "N")]
        min_prefix_v4: Option<u8>,
        /// Refuse IPv6 networks broader than /N [default and broadest: 16]
        #[arg(long, value_name = "N")]
        min_prefix_v6: Option<u8>,
    },
    /// Every source with its schedule and last import
    List,
    /// One source in full, with its last import
    Show { name: String },
    /// Import this source again on its schedule
    Enable { name: String },
    /// Stop importing this source (its bans stay until they expire)
    Disable { name: String },
    /// Remove a source
    Remove {
        name: String,
        /// Also lift the bans that no other enabled source asks for
        #[arg(long)]
        unban: bool,
    },
    /// Import now: one source, or every enabled one
    Run {
        name: Option<String>,
        /// Wait for the imports to finish (a progress bar on a terminal)
        #[arg(long)]
        wait: bool,
    },
    /// Recent imports, newest first
    Runs {
        name: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// What an import would do now: download and compare, send nothing
    Plan { name: String },
}

#[derive(Debug, Subcommand)]
pub enum GeoCommand {
    /// Look addresses up in the cache and the MaxMind files
    Lookup {
        /// IPv4 or IPv6 addresses; `-` reads them from standard input
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Also ask ip-api.com about what MaxMind does not place (administrators;
        /// waits for the rate limit if needed)
        #[arg(long)]
        remote: bool,
    },
    /// Cache size, hit counts, ip-api budget and the MaxMind files
    Stats,
    /// Addresses whose country is still unknown, oldest attempt first
    Unresolved {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Write new answers to the database now
    Flush,
    /// Drop addresses from the cache so they are looked up afresh
    Forget {
        #[arg(required = true)]
        addresses: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Fail2banCommand {
    /// The latest health check, or one jail's counters and banned list asked of fail2ban
    /// (for readers: a copy shared by all readers, at most 10 s old)
    Status {
        jail: Option<String>,
        /// Ask fail2ban now instead of showing the latest snapshot
        #[arg(long)]
        live: bool,
        /// Most banned addresses to list for a jail
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct BanArgs {
    /// Addresses or networks (192.0.2.7, 2001:db8::1, 198.51.100.0/24); `-` reads them from standard input
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Jail to use [default for ban: the daemon's fail2ban.manual_jail; for
    /// unban: every jail that holds the address]
    #[arg(long)]
    pub jail: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Every job with its schedule, state and last run
    List,
    /// Run a job now (if it is running already, show that run instead)
    Run {
        /// Job id, e.g. session_cleanup
        id: String,
        /// Wait for the run to finish and show how it ended
        #[arg(long)]
        wait: bool,
    },
    /// Recent runs, newest first
    Runs {
        /// Only runs of this job
        id: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run in full
    Show { run_id: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Live sessions, newest first
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One session
    Show { id: String },
    /// Create a session and print its token (shown this once only)
    Create(CreateArgs),
    /// Check a token read from standard input; prints its session
    Validate,
    /// Delete a session; its token stops working at once
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// What the session is for, e.g. "web front end"
    #[arg(long)]
    pub label: String,
    /// Lifetime: seconds or e.g. "12h" [default: the daemon's sessions.default_ttl]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub ttl: Option<std::time::Duration>,
}
