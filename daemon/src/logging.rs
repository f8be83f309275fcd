//! Log output: human-readable lines or JSON lines on stderr, with a filter
//! that can be swapped while running (`config set daemon.log_level`).

use std::io::IsTerminal;
use std::sync::Arc;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

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

fn filter(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(level).map_err(|e| e.to_string())
}

/// Installs the global subscriber. `level` was validated with the config.
pub fn init(level: &str, format: LogFormat) -> Result<LogControl, String> {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level)?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // The handle's type differs per format; a closure hides it.
    match format {
        LogFormat::Text => {
            let builder = builder.with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map_err(|e| e.to_string())?;
            Ok(LogControl(Arc::new(move |level: &str| {
                handle.reload(filter(level)?).map_err(|e| e.to_string())
            })))
        }
        LogFormat::Json => {
            let builder = builder.json().flatten_event(true).with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map_err(|e| e.to_string())?;
            Ok(LogControl(Arc::new(move |level: &str| {
                handle.reload(filter(level)?).map_err(|e| e.to_string())
            })))
        }
    }
}
