//! The one duration syntax of bangui, for the config file, runtime settings
//! and every command-line option: whole seconds (`300`) or text (`"30s"`,
//! `"10m"`, `"6h"`, `"1h 30m"`, `"7d"`).

use std::time::Duration;

/// Parses `"90s"`, `"10m"`, `"1h 30m"` or a bare number of seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!(
            "`{text}` is not a duration ({e}); write seconds (300) or e.g. 30s, 10m, 6h, 1h 30m"
        )
    })
}

/// The shortest form [`parse`] reads back: `"90s"`, `"10m"`, `"6h"`, `"7d"`, `"250ms"`.
pub fn format(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs > 0 && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_units() {
        assert_eq!(parse("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse(" 300 ").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        for d in [0, 1, 59, 60, 90, 3600, 5400, 86_400, 7 * 86_400] {
            let d = Duration::from_secs(d);
            assert_eq!(parse(&format(d)).unwrap(), d, "{}", format(d));
        }
        assert_eq!(format(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(
            parse(&format(Duration::from_millis(1500))).unwrap(),
            Duration::from_millis(1500)
        );
        let err = parse("soon").unwrap_err();
        assert!(
            err.contains("not a duration") && err.contains("300"),
            "{err}"
        );
        assert!(parse("-5").is_err());
    }
}
