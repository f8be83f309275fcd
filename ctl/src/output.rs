//! Rendering for people (tables, times) and for programs (JSON).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::exit::{DAEMON_ERROR, Failure};

/// Prints any answer as pretty JSON.
pub fn json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(DAEMON_ERROR, format!("cannot render JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A borderless table with a header row.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    table
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// "2026-11-22 13:41:02Z (3m ago)".
pub fn when(unix: i64) -> String {
    format!("{} ({})", timestamp(unix), relative(unix, now_unix()))
}

pub fn timestamp(unix: i64) -> String {
    let Ok(secs) = u64::try_from(unix) else {
        return unix.to_string();
    };
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs))
        .to_string()
        .replace('T', " ")
}

/// "3m ago", "in 5h 59m", "now".
pub fn relative(unix: i64, now: i64) -> String {
    let delta = unix - now;
    if delta.abs() < 1 {
        return "now".into();
    }
    let span = short(Duration::from_secs(delta.unsigned_abs()));
    if delta < 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// A duration rounded to its two largest units: "1h 5m", "3m 2s", "750ms".
pub fn short(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, name) in units {
        if rest >= size {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

pub fn millis(ms: u64) -> String {
    short(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_spans_and_times() {
        assert_eq!(short(Duration::from_secs(3900)), "1h 5m");
        assert_eq!(short(Duration::from_secs(21_600)), "6h");
        assert_eq!(short(Duration::from_millis(750)), "750ms");
        assert_eq!(relative(100, 280), "3m ago");
        assert_eq!(relative(400, 100), "in 5m");
        assert_eq!(relative(5, 5), "now");
        assert_eq!(timestamp(0), "1970-01-01 00:00:00Z");
    }
}
