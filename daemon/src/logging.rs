//! Log output: the journal under systemd (structured fields), otherwise
//! human-readable lines or JSON lines on stderr. Every output goes through
//! [`Scrubbed`], and the filter can be swapped while running.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::{LogFormat, LogTarget};
use crate::hygiene::Scrubbed;

type Reload = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// Changes the running log level or filter.
#[derive(Clone)]
pub struct LogControl(Arc<Reload>);

impl LogControl {
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        (self.0)(level)
    }
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogControl")
    }
}

/// Where the lines went, and why, for the first log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    Stderr,
    Journald,
    /// Journald was wanted but its socket could not be reached.
    StderrInsteadOfJournald(String),
}

fn filter(level: &str) -> Result<EnvFilter, String> {
    let level = crate::log_level::normalize(level)?;
    EnvFilter::try_new(level).map_err(|e| e.to_string())
}

/// Is stderr the journal? systemd sets `JOURNAL_STREAM` to the device and
/// inode of the stream it connected; a child with redirected stderr inherits
/// the variable but not the stream, so both must match.
pub fn stderr_is_journal() -> bool {
    let Some(wanted) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stat) = nix::sys::stat::fstat(std::io::stderr().as_fd()) else {
        return false;
    };
    wanted.to_string_lossy() == format!("{}:{}", stat.st_dev, stat.st_ino)
}

type Output = Box<
    dyn Layer<tracing_subscriber::layer::Layered<reload::Layer<EnvFilter, Registry>, Registry>>
        + Send
        + Sync,
>;

/// Installs the global subscriber. `level` was validated with the config.
pub fn init(
    level: &str,
    format: LogFormat,
    target: LogTarget,
) -> Result<(LogControl, Chosen), String> {
    let (filter_layer, handle) = reload::Layer::new(filter(level)?);
    let journald = match target {
        LogTarget::Journald => true,
        LogTarget::Stderr => false,
        LogTarget::Auto => stderr_is_journal(),
    };
    let mut chosen = Chosen::Stderr;
    let mut output: Option<Output> = None;
    if journald {
        match tracing_journald::layer() {
            Ok(layer) => {
                // Fields become BANGUI_RUN_ID, BANGUI_JOB, …: `journalctl BANGUI_RUN_ID=…`.
                let layer = layer
                    .with_field_prefix(Some("BANGUI".into()))
                    .with_syslog_identifier("bangui".into());
                output = Some(Box::new(Scrubbed::new(layer)));
                chosen = Chosen::Journald;
            }
            Err(e) => chosen = Chosen::StderrInsteadOfJournald(e.to_string()),
        }
    }
    let output = match output {
        Some(output) => output,
        None => {
            let fmt = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false);
            let output: Output = match format {
                LogFormat::Text => Box::new(Scrubbed::new(fmt)),
                LogFormat::Json => Box::new(Scrubbed::new(fmt.json().flatten_event(true))),
            };
            output
        }
    };
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(output)
        .try_init()
        .map_err(|e| e.to_string())?;
    let control = LogControl(Arc::new(move |level: &str| {
        handle.reload(filter(level)?).map_err(|e| e.to_string())
    }));
    Ok((control, chosen))
}
