//! URLs as they may be shown: in logs, run records and answers to any reader.

/// Without a password and without the query (where API keys live).
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            let had_query = u.query().is_some();
            u.set_query(None);
            let mut shown = u.to_string().trim_end_matches('/').to_string();
            if had_query {
                shown.push_str("?…");
            }
            shown
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden() {
        assert_eq!(redacted("http://ip-api.com"), "http://ip-api.com");
        assert_eq!(
            redacted("https://user:secret@example.net/x?key=abc"),
            "https://user:***@example.net/x?…"
        );
        assert_eq!(
            redacted("file:///var/lib/list.txt"),
            "file:///var/lib/list.txt"
        );
        assert_eq!(redacted("::"), "(unparsable URL)");
    }
}
