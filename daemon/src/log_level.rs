//! The log level, checked wherever it can be given (file, `BANGUI_LOG_LEVEL`,
//! `--log-level`, `config set`, reload). tracing reads a bare word as a target
//! name, so `verbose` would switch every line off: only level names pass,
//! alone or as the level of a `target=level` directive. The names fail2ban
//! users type are taken as their nearest level.

/// The levels, quietest first.
pub const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// `text` as tracing's filter syntax, or why it is refused.
pub fn normalize(text: &str) -> Result<String, String> {
    let mut directives = Vec::new();
    for raw in text.split(',') {
        let directive = raw.trim();
        if directive.is_empty() {
            continue;
        }
        directives.push(match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => {
                format!("{}={}", target.trim(), level_name(level.trim(), text)?)
            }
            _ => level_name(directive, text)?.to_string(),
        });
    }
    if directives.is_empty() {
        return Err(refusal(text));
    }
    let filter = directives.join(",");
    tracing_subscriber::EnvFilter::builder()
        .parse(&filter)
        .map_err(|e| format!("`{text}` is not a log filter ({e}); {}", accepted()))?;
    Ok(filter)
}

fn level_name<'a>(word: &str, whole: &str) -> Result<&'a str, String> {
    let lower = word.to_ascii_lowercase();
    if let Some(level) = LEVELS.iter().find(|l| **l == lower) {
        return Ok(level);
    }
    match lower.as_str() {
        "off" => Ok("off"),
        "warning" => Ok("warn"),
        "notice" => Ok("info"),
        "critical" | "fatal" => Ok("error"),
        "tracedebug" | "heavydebug" => Ok("trace"),
        _ => Err(refusal(whole)),
    }
}

fn refusal(text: &str) -> String {
    format!("`{text}` is not a log level; {}", accepted())
}

fn accepted() -> String {
    format!(
        "use one of {} (fail2ban's warning, notice and critical are taken as warn, info and error), or a filter such as `info,bangui_daemon=debug`",
        LEVELS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_aliases_and_filters() {
        assert_eq!(normalize("debug").unwrap(), "debug");
        assert_eq!(normalize(" INFO ").unwrap(), "info");
        assert_eq!(normalize("warning").unwrap(), "warn");
        assert_eq!(normalize("notice").unwrap(), "info");
        assert_eq!(normalize("CRITICAL").unwrap(), "error");
        assert_eq!(
            normalize("info,bangui_daemon=debug").unwrap(),
            "info,bangui_daemon=debug"
        );
        assert_eq!(
            normalize("hyper=Warning,debug").unwrap(),
            "hyper=warn,debug"
        );
        for bad in [
            "verbose",
            "",
            " , ",
            "bangui_daemon",
            "info,loud",
            "x=loud",
            "=info",
        ] {
            let e = normalize(bad).unwrap_err();
            assert!(e.contains("error, warn, info, debug, trace"), "{bad}: {e}");
        }
    }
}
