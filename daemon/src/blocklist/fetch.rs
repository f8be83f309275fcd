//! Downloading a list: http(s) with connect and total timeouts, a body limit
//! (counted after decompression: `Content-Encoding: gzip`, or a gzip or zip
//! body told by its content, [`super::decode`]), a redirect limit that also refuses an
//! https → http downgrade, conditional requests, and retries with back-off and
//! jitter; `file://` URLs read the file. The body is parsed as it arrives.
//! Unless a source is marked local, connections go to public addresses only
//! ([`super::destination`]).

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::decode::{Body, DecodeError};
use super::destination;
use super::parse::{Format, ParseError, ParsedList, Parser};
use crate::config::BlocklistConfig;

/// Validators from the last successful download.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    /// 304, or a file whose size and time are unchanged.
    NotModified,
    Body {
        list: ParsedList,
        validators: Validators,
        /// "HTTP 200, 1.2 MiB" and the like, for the run record.
        summary: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the server answered HTTP {code}{hint}", code = .0, hint = http_hint(*.0))]
    Status(u16),
    #[error("the list is larger than {0} bytes (blocklist.max_body)")]
    TooLarge(u64),
    #[error("the download did not finish within {0:?} (blocklist.timeout)")]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A compressed body too large once unpacked, or broken.
    #[error(transparent)]
    Decode(DecodeError),
    #[error("cannot read the file: {0}")]
    File(String),
    /// The URL, or a redirect, goes where downloads may not.
    #[error("{0}")]
    Refused(String),
    #[error("cancelled")]
    Cancelled,
}

impl From<DecodeError> for FetchError {
    fn from(e: DecodeError) -> FetchError {
        match e {
            DecodeError::Parse(e) => FetchError::Parse(e),
            other => FetchError::Decode(other),
        }
    }
}

/// What an HTTP status usually means for a list URL.
fn http_hint(status: u16) -> &'static str {
    match status {
        404 | 410 => " (not found: check the URL, the list may have moved)",
        401 | 403 => " (access refused: the list may need a key or another URL)",
        429 => " (too many requests: the host limits downloads; raise the source's interval)",
        500..=599 => " (a server error on the list host; bangui tries again later)",
        _ => "",
    }
}

impl FetchError {
    /// Worth another attempt in the same run.
    fn retryable(&self) -> bool {
        match self {
            FetchError::Status(code) => *code == 429 || *code >= 500,
            FetchError::Timeout(_) | FetchError::Transport(_) => true,
            _ => false,
        }
    }
}

/// Which destinations a download may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only: the default for every source.
    Public,
    /// Anything, loopback and private networks included: an administrator
    /// marked the source local.
    Local,
}

pub struct Fetcher {
    /// Connects to public addresses only.
    public: reqwest::Client,
    /// For sources marked local.
    local: reqwest::Client,
    timeout: Duration,
    max_body: u64,
    retries: u32,
    file_dir: std::path::PathBuf,
}

/// Reads an error and its causes into one line, without the URL (the caller
/// names it), with TLS library wording turned into what to check.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let text = bangui_proto::errors::chain(&e);
    plain_tls(&text).unwrap_or(text)
}

/// rustls reports a plain-HTTP answer to a TLS hello as a "corrupt message";
/// people need to hear what that means.
fn plain_tls(text: &str) -> Option<String> {
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        return Some(
            "the server did not answer with TLS (it may speak plain HTTP on that port: try http:// instead of https://)".into(),
        );
    }
    if let Some(at) = text.find("invalid peer certificate: ") {
        let why = &text[at + "invalid peer certificate: ".len()..];
        return Some(format!(
            "the server's TLS certificate is not accepted ({why}); check the host name in the URL and the server's certificate"
        ));
    }
    None
}

/// The redirect rule, separate so it can be tested: at most `max` redirects,
/// and never from https to anything else.
pub fn redirect_refusal(
    previous: &[reqwest::Url],
    next: &reqwest::Url,
    max: usize,
) -> Option<String> {
    if previous.len() > max {
        return Some(format!(
            "more than {max} redirects (blocklist.max_redirects)"
        ));
    }
    if previous.last().is_some_and(|u| u.scheme() == "https") && next.scheme() != "https" {
        return Some("refusing a redirect from https to http".into());
    }
    None
}

impl Fetcher {
    pub fn new(cfg: &BlocklistConfig) -> Result<Fetcher, String> {
        let client = |reach: Reach| {
            let max = cfg.max_redirects;
            let builder =
                crate::http::client_builder()
                    .connect_timeout(cfg.connect_timeout)
                    .timeout(cfg.timeout)
                    .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                        let refused = redirect_refusal(attempt.previous(), attempt.url(), max)
                            .or_else(|| match reach {
                                Reach::Public => destination::redirect_refusal(attempt.url()),
                                Reach::Local => None,
                            });
                        match refused {
                            Some(why) => attempt.error(destination::Refused(why)),
                            None => attempt.follow(),
                        }
                    }));
            let builder = match reach {
                Reach::Public => builder.dns_resolver(std::sync::Arc::new(destination::PublicOnly)),
                Reach::Local => builder,
            };
            builder.build().map_err(describe)
        };
        Ok(Fetcher {
            public: client(Reach::Public)?,
            local: client(Reach::Local)?,
            timeout: cfg.timeout,
            max_body: cfg.max_body,
            retries: cfg.retries,
            file_dir: cfg.file_dir.clone(),
        })
    }

    /// Downloads and parses, retrying transient failures.
    /// `keep`: the most entries parsed and kept (the rest only counted).
    pub async fn fetch(
        &self,
        url: &str,
        reach: Reach,
        format: &Format,
        keep: usize,
        validators: &Validators,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        let mut attempt = 0;
        loop {
            let result = tokio::select! {
                r = self.once(url, reach, format, keep, validators) => r,
                _ = cancel.cancelled() => return Err(FetchError::Cancelled),
            };
            match result {
                Err((e, retry_after)) if e.retryable() && attempt < self.retries => {
                    attempt += 1;
                    let wait = retry_after.unwrap_or_else(|| backoff(attempt));
                    tracing::info!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "download failed; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => return Err(FetchError::Cancelled),
                    }
                }
                Err((e, _)) => return Err(e),
                Ok(fetched) => return Ok(fetched),
            }
        }
    }

    async fn once(
        &self,
        url: &str,
        reach: Reach,
        format: &Format,
        keep: usize,
        validators: &Validators,
    ) -> Result<Fetched, (FetchError, Option<Duration>)> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| (FetchError::Transport(format!("bad URL: {e}")), None))?;
        if parsed.scheme() == "file" {
            let path = parsed
                .to_file_path()
                .map_err(|()| (FetchError::File("not a local path".into()), None))?;
            // Under the download timeout too: a file can be slow (NFS) or stall.
            let read = self.file(&path, format, keep, validators);
            return match tokio::time::timeout(self.timeout, read).await {
                Ok(result) => result.map_err(|e| (e, None)),
                Err(_) => Err((FetchError::Timeout(self.timeout), None)),
            };
        }
        let http = match reach {
            Reach::Public => {
                if let Some(why) = destination::literal_refusal(&parsed) {
                    return Err((FetchError::Refused(why), None));
                }
                &self.public
            }
            Reach::Local => &self.local,
        };
        let mut request = http.get(parsed);
        if let Some(etag) = &validators.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        let mut response = request.send().await.map_err(|e| (self.error(e), None))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(60)));
            return Err((FetchError::Status(status.as_u16()), retry_after));
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(200).collect::<String>())
        };
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        // Sized for the announced length (bounded by max_body), if any.
        let hint = response.content_length().unwrap_or(0).min(self.max_body);
        let mut body = self.body(format, keep, hint);
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| (self.error(e), None))? {
            bytes += chunk.len() as u64;
            if bytes > self.max_body {
                return Err((FetchError::TooLarge(self.max_body), None));
            }
            body.feed(&chunk).map_err(|e| (e.into(), None))?;
        }
        let list = body.finish().map_err(|e| (e.into(), None))?;
        Ok(Fetched::Body {
            list,
            validators,
            summary: format!("HTTP {}, {}", status.as_u16(), size(bytes)),
        })
    }

    /// What turns a body's bytes into entries, for `format`.
    fn body(&self, format: &Format, keep: usize, hint: u64) -> Body {
        let parser = Parser::with_size_hint(format.clone(), hint).keeping(keep);
        Body::new(parser, self.max_body)
    }

    async fn file(
        &self,
        path: &std::path::Path,
        format: &Format,
        keep: usize,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let file_error = |e: std::io::Error| FetchError::File(bangui_proto::errors::io_text(&e));
        let mut file = open_list_file(path, &self.file_dir).map_err(FetchError::File)?;
        let meta = file.metadata().await.map_err(file_error)?;
        let stamp = format!(
            "{}-{}",
            meta.len(),
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos())
        );
        if validators.etag.as_deref() == Some(stamp.as_str()) {
            return Ok(Fetched::NotModified);
        }
        let mut body = self.body(format, keep, meta.len().min(self.max_body));
        let mut buf = vec![0u8; 256 * 1024];
        let mut bytes = 0u64;
        loop {
            let n = file.read(&mut buf).await.map_err(file_error)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            if bytes > self.max_body {
                return Err(FetchError::TooLarge(self.max_body));
            }
            body.feed(&buf[..n])?;
        }
        Ok(Fetched::Body {
            list: body.finish()?,
            validators: Validators {
                etag: Some(stamp),
                last_modified: None,
            },
            summary: format!("file, {}", size(bytes)),
        })
    }

    fn error(&self, e: reqwest::Error) -> FetchError {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(refused) = c.downcast_ref::<destination::Refused>() {
                return FetchError::Refused(refused.0.clone());
            }
            cause = c.source();
        }
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else {
            FetchError::Transport(describe(e))
        }
    }
}

/// Opens a `file://` list the way the root daemon may: inside `dir`, never
/// through a symbolic link (the path must be its own real path), and only a
/// regular file (`O_NONBLOCK` keeps a FIFO from hanging the open; it is
/// then refused like a device).
fn open_list_file(
    path: &std::path::Path,
    dir: &std::path::Path,
) -> Result<tokio::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::config::blocklist::check_file_path(path, dir)?;
    let shown = path.display();
    let real = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot read {shown}: {}", bangui_proto::errors::io_text(&e)))?;
    if real != path {
        return Err(format!(
            "{shown} is reached through a symbolic link (it is {}); name the file itself",
            real.display()
        ));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open {shown}: {}", bangui_proto::errors::io_text(&e)))?;
    let meta = file.metadata().map_err(|e| {
        format!(
            "cannot inspect {shown}: {}",
            bangui_proto::errors::io_text(&e)
        )
    })?;
    if !meta.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a FIFO, device or directory); lists must be plain files"
        ));
    }
    Ok(tokio::fs::File::from_std(file))
}

/// 1 s, 2 s, 4 s … (at most 30 s), plus up to half again at random, so that
/// many hosts retrying one server do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let base =
        Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(30));
    let jitter = getrandom::u32().unwrap_or(0) % 500;
    base + base * jitter / 1000
}

pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn redirects_are_limited_and_never_downgrade() {
        let https = url("https://a.example/list");
        let http = url("http://b.example/list");
        assert_eq!(
            redirect_refusal(&[url("http://a.example")], &https, 5),
            None
        );
        assert!(
            redirect_refusal(std::slice::from_ref(&https), &http, 5)
                .unwrap()
                .contains("https to http")
        );
        let chain: Vec<_> = (0..6)
            .map(|i| url(&format!("http://h{i}.example")))
            .collect();
        assert!(
            redirect_refusal(&chain, &http, 5)
                .unwrap()
                .contains("more than 5")
        );
    }

    #[test]
    fn backoff_grows_with_jitter() {
        for attempt in 1..8 {
            let d = backoff(attempt);
            let base = Duration::from_secs(1 << (attempt - 1).min(5)).min(Duration::from_secs(30));
            assert!(d >= base && d < base * 3 / 2, "{attempt}: {d:?}");
        }
    }
}
