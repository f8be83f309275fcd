//! The ip-api.com batch client: `POST /batch` with at most 100 addresses,
//! one request at a time, never faster than [`RateLimit`] allows.

use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limit::RateLimit;

/// The service's limits for its free batch endpoint.
pub const MAX_BATCH: usize = 100;
pub const REQUESTS_PER_WINDOW: u32 = 15;
/// An answer for 100 addresses is about 15 KiB; anything this big is wrong.
const MAX_BODY: usize = 1024 * 1024;
const FIELDS: &str = "status,message,country,countryCode,as,org,query";

/// One address's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Found {
        code: String,
        country: String,
        asn: Option<u32>,
        org: Option<String>,
    },
    /// `"status": "fail"`: the service will not resolve this address.
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpApiError {
    #[error("ip-api did not answer within {0:?}")]
    Timeout(Duration),
    #[error("ip-api answered HTTP {0}")]
    Status(u16),
    #[error("ip-api is rate-limiting bangui (HTTP 429)")]
    TooMany,
    #[error("cannot reach ip-api: {0}")]
    Transport(String),
    #[error("ip-api's answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("ip-api's answer is not the expected JSON: {0}")]
    Malformed(String),
    #[error("ip-api answered {got} entries for {asked} addresses")]
    WrongCount { asked: usize, got: usize },
    #[error("cancelled")]
    Cancelled,
}

#[derive(Deserialize)]
struct Item {
    status: String,
    message: Option<String>,
    country: Option<String>,
    #[serde(rename = "countryCode")]
    country_code: Option<String>,
    #[serde(rename = "as")]
    as_name: Option<String>,
    org: Option<String>,
    query: Option<String>,
}

/// Parses a batch answer for `asked`, in order. Pure, so it can be fuzzed.
pub fn parse_batch(body: &[u8], asked: &[IpAddr]) -> Result<Vec<Answer>, IpApiError> {
    let items: Vec<Item> =
        serde_json::from_slice(body).map_err(|e| IpApiError::Malformed(e.to_string()))?;
    if items.len() != asked.len() {
        return Err(IpApiError::WrongCount {
            asked: asked.len(),
            got: items.len(),
        });
    }
    let mut answers = Vec::with_capacity(items.len());
    for (item, ip) in items.into_iter().zip(asked) {
        if let Some(query) = &item.query
            && query.parse::<IpAddr>().map(|q| q.to_canonical()) != Ok(*ip)
        {
            return Err(IpApiError::Malformed(format!(
                "answer for {} where {ip} was asked",
                super::clean(query)
            )));
        }
        let answer = match item.status.as_str() {
            "success" => match item.country_code.as_deref() {
                Some(code) if super::maxmind::valid_code(code) => Answer::Found {
                    code: code.to_ascii_uppercase(),
                    country: super::clean(item.country.as_deref().unwrap_or_default()),
                    asn: item.as_name.as_deref().and_then(parse_asn),
                    org: item
                        .org
                        .as_deref()
                        .filter(|o| !o.trim().is_empty())
                        .or(item.as_name.as_deref().map(strip_asn))
                        .map(super::clean)
                        .filter(|o| !o.is_empty()),
                },
                _ => Answer::Failed {
                    reason: "ip-api: no country in the answer".into(),
                },
            },
            "fail" => Answer::Failed {
                reason: format!(
                    "ip-api: {}",
                    super::clean(item.message.as_deref().unwrap_or("failed"))
                ),
            },
            other => {
                return Err(IpApiError::Malformed(format!(
                    "unknown status `{}`",
                    super::clean(other)
                )));
            }
        };
        answers.push(answer);
    }
    Ok(answers)
}

/// `<base>/batch?fields=…`, keeping any query the base has (a pro key).
fn batch_url(base: &str) -> Result<String, IpApiError> {
    let bad = |e: String| IpApiError::Transport(format!("ip_api_url: {e}"));
    let mut url = reqwest::Url::parse(base).map_err(|e| bad(e.to_string()))?;
    url.path_segments_mut()
        .map_err(|_| bad("not a base URL".into()))?
        .pop_if_empty()
        .push("batch");
    url.query_pairs_mut().append_pair("fields", FIELDS);
    Ok(url.to_string())
}

/// "AS15169 Google LLC" → 15169.
fn parse_asn(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("AS")?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok().filter(|n| *n != 0)
}

fn strip_asn(s: &str) -> &str {
    match s.split_once(' ') {
        Some((first, rest)) if first.starts_with("AS") => rest,
        _ => s,
    }
}

pub struct IpApi {
    http: reqwest::Client,
    url: String,
    batch_url: String,
    timeout: Duration,
    limit: Mutex<RateLimit>,
    /// Held across a request: one in flight at a time keeps the count exact.
    turn: tokio::sync::Mutex<()>,
    pub requests: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl IpApi {
    pub fn new(url: &str, timeout: Duration, window: Duration) -> Result<IpApi, IpApiError> {
        let http = crate::http::client_builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| IpApiError::Transport(e.to_string()))?;
        Ok(IpApi {
            http,
            url: crate::urls::redacted(url),
            batch_url: batch_url(url)?,
            timeout,
            limit: Mutex::new(RateLimit::new(REQUESTS_PER_WINDOW, window)),
            turn: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
            last_error: Mutex::new(None),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests that may go now, and seconds until more may.
    pub fn budget(&self) -> (u32, Duration) {
        match self.limit.lock() {
            Ok(mut l) => l.budget(Instant::now()),
            Err(_) => (0, Duration::ZERO),
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn delay(&self) -> Duration {
        match self.limit.lock() {
            Ok(mut l) => l.delay(Instant::now()),
            // A poisoned limiter: wait a full window rather than risk a ban.
            Err(_) => Duration::from_secs(60),
        }
    }

    /// Resolves up to [`MAX_BATCH`] addresses, waiting for rate-limit budget first.
    pub async fn batch(
        &self,
        addresses: &[IpAddr],
        cancel: &CancellationToken,
    ) -> Result<Vec<Answer>, IpApiError> {
        let asked = &addresses[..addresses.len().min(MAX_BATCH)];
        let _turn = tokio::select! {
            turn = self.turn.lock() => turn,
            _ = cancel.cancelled() => return Err(IpApiError::Cancelled),
        };
        loop {
            let wait = self.delay();
            if wait.is_zero() {
                break;
            }
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "waiting for ip-api rate-limit budget"
            );
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => return Err(IpApiError::Cancelled),
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let result = tokio::select! {
            r = self.send(asked) => r,
            _ = cancel.cancelled() => Err(IpApiError::Cancelled),
        };
        // Counted when it ends: the server saw the request before then.
        if let Ok(mut l) = self.limit.lock() {
            l.record(Instant::now());
        }
        if let Ok(mut last) = self.last_error.lock() {
            match &result {
                Ok(_) => *last = None,
                Err(IpApiError::Cancelled) => {}
                Err(e) => *last = Some(e.to_string()),
            }
        }
        result
    }

    async fn send(&self, asked: &[IpAddr]) -> Result<Vec<Answer>, IpApiError> {
        let body: Vec<String> = asked.iter().map(IpAddr::to_string).collect();
        let body = serde_json::to_vec(&body).map_err(|e| IpApiError::Malformed(e.to_string()))?;
        let mut response = self
            .http
            .post(&self.batch_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let header = |name: &str| -> Option<u64> {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        };
        let left = header("x-rl").map(|v| v.min(u64::from(u32::MAX)) as u32);
        let ttl = header("x-ttl");
        let retry_after = header("retry-after");
        let status = response.status();
        let too_many = status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        if let Ok(mut l) = self.limit.lock() {
            l.observe(Instant::now(), left, ttl, too_many, retry_after);
        }
        if too_many {
            tracing::warn!(
                left,
                ttl,
                "ip-api answered 429; pausing until its window resets"
            );
            return Err(IpApiError::TooMany);
        }
        if !status.is_success() {
            return Err(IpApiError::Status(status.as_u16()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(IpApiError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        parse_batch(&bytes, asked)
    }

    fn transport(&self, e: reqwest::Error) -> IpApiError {
        if e.is_timeout() {
            IpApiError::Timeout(self.timeout)
        } else {
            // Without the URL: a configured URL may carry credentials.
            IpApiError::Transport(e.without_url().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn parses_success_and_fail() {
        let body = br#"[
            {"status":"success","country":"Germany","countryCode":"DE","as":"AS3320 Deutsche Telekom AG","org":"","query":"11.0.0.1"},
            {"status":"fail","message":"private range","query":"11.0.0.2"},
            {"status":"success","country":"Nowhere","query":"11.0.0.3"}
        ]"#;
        let answers = parse_batch(body, &ips(&["11.0.0.1", "11.0.0.2", "11.0.0.3"])).unwrap();
        assert_eq!(
            answers[0],
            Answer::Found {
                code: "DE".into(),
                country: "Germany".into(),
                asn: Some(3320),
                org: Some("Deutsche Telekom AG".into()),
            }
        );
        assert_eq!(
            answers[1],
            Answer::Failed {
                reason: "ip-api: private range".into()
            }
        );
        assert!(matches!(answers[2], Answer::Failed { .. }));
    }

    #[test]
    fn bad_answers_are_errors() {
        let two = ips(&["11.0.0.1", "11.0.0.2"]);
        assert!(matches!(
            parse_batch(b"not json", &two),
            Err(IpApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_batch(b"{\"status\":\"success\"}", &two),
            Err(IpApiError::Malformed(_))
        ));
        assert_eq!(
            parse_batch(br#"[{"status":"fail"}]"#, &two),
            Err(IpApiError::WrongCount { asked: 2, got: 1 })
        );
        assert!(matches!(
            parse_batch(
                br#"[{"status":"fail","query":"11.0.0.2"},{"status":"fail","query":"11.0.0.1"}]"#,
                &two
            ),
            Err(IpApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_batch(br#"[{"status":"maybe"},{"status":"fail"}]"#, &two),
            Err(IpApiError::Malformed(_))
        ));
    }

    #[test]
    fn batch_urls_keep_the_base_query() {
        assert_eq!(
            batch_url("http://ip-api.com").unwrap(),
            format!(
                "http://ip-api.com/batch?fields={}",
                FIELDS.replace(',', "%2C")
            )
        );
        assert!(
            batch_url("https://pro.ip-api.com?key=k")
                .unwrap()
                .starts_with("https://pro.ip-api.com/batch?key=k&fields=")
        );
    }

    #[test]
    fn asn_numbers() {
        assert_eq!(parse_asn("AS15169 Google LLC"), Some(15169));
        assert_eq!(parse_asn("AS0"), None);
        assert_eq!(parse_asn("Google"), None);
        assert_eq!(strip_asn("AS15169 Google LLC"), "Google LLC");
    }
}
