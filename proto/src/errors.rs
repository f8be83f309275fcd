//! Error text for people, shared by the daemon and the ctl: one line, each
//! cause once.

/// `error` and its causes as one line. A cause whose text the line already
/// holds is left out, so an error that embeds its source (`"…: {source}"`)
/// and also exposes it as `source()` reads once, not twice.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let part = without_os_error(e.to_string());
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = e.source();
    }
    text
}

/// An I/O error without the "(os error N)" tail people do not need.
pub fn io_text(e: &std::io::Error) -> String {
    without_os_error(e.to_string())
}

fn without_os_error(text: String) -> String {
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open /x: {source}")]
    struct Embeds {
        #[source]
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open /x: {}", io_text(source))]
    struct Plain {
        #[source]
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open /x")]
    struct Hides {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn each_cause_once() {
        let denied = || std::io::Error::from_raw_os_error(13);
        let once = chain(&Embeds { source: denied() });
        assert_eq!(once.matches("Permission denied").count(), 1, "{once}");
        let added = chain(&Hides { source: denied() });
        assert!(
            added.starts_with("cannot open /x: Permission denied"),
            "{added}"
        );
        assert_eq!(io_text(&denied()), "Permission denied");
        // A message that shows its cause without the os error number is not repeated.
        assert_eq!(
            chain(&Plain { source: denied() }),
            "cannot open /x: Permission denied"
        );
    }
}
