//! URLs as they may be shown: in logs, run records and answers to any reader.

/// Without the user name and password (`https://ghp_TOKEN@host/` carries a
/// token as the user name) and without the query (where API keys live).
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() || !u.username().is_empty() {
                let _ = u.set_password(None);
                let _ = u.set_username("***");
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

/// A source's URL as shown: [`redacted`], and with its path hidden when the
/// source says the path holds a secret (`https://host/KEY/list.txt`).
pub fn redacted_source(url: &str, secret_path: bool) -> String {
    if !secret_path {
        return redacted(url);
    }
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_path("/***");
            u.set_fragment(None);
            redacted(u.as_str())
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
            "https://***@example.net/x?…"
        );
        assert_eq!(
            redacted("https://ghp_0123456789abcdef@example.net/list.txt"),
            "https://***@example.net/list.txt"
        );
        assert_eq!(
            redacted("file:///var/lib/list.txt"),
            "file:///var/lib/list.txt"
        );
        assert_eq!(redacted("::"), "(unparsable URL)");
    }

    #[test]
    fn secret_paths_are_hidden_when_marked() {
        let url = "https://tok@lists.example/0123abcd/drop.txt?x=1";
        assert_eq!(
            redacted_source(url, true),
            "https://***@lists.example/***?…"
        );
        assert_eq!(
            redacted_source(url, false),
            "https://***@lists.example/0123abcd/drop.txt?…"
        );
    }
}
