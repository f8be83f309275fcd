//! Geo test stand-ins: small MaxMind files written with a real MMDB writer,
//! and a loopback HTTP server that behaves like ip-api.com's batch endpoint,
//! rate-limit headers and 429 included.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use mmdb_writer::Writer;
use serde::Serialize;

#[derive(Serialize)]
struct Names {
    en: String,
}

#[derive(Serialize)]
struct Place {
    iso_code: String,
    names: Names,
}

#[derive(Serialize)]
struct CountryRecord {
    country: Place,
}

#[derive(Serialize)]
struct AsnRecord {
    autonomous_system_number: u32,
    autonomous_system_organization: String,
}

/// Writes a Country database: (network, ISO code, English name). Written to a
/// temporary name and renamed into place, as geoipupdate does.
pub fn write_country_db(path: &Path, entries: &[(&str, &str, &str)]) {
    let mut writer = Writer::new("GeoLite2-Country");
    for (net, code, name) in entries {
        let net: IpNet = net.parse().unwrap();
        let record = CountryRecord {
            country: Place {
                iso_code: code.to_string(),
                names: Names {
                    en: name.to_string(),
                },
            },
        };
        writer.insert(net, &record).unwrap();
    }
    replace(path, &writer.to_bytes().unwrap());
}

pub fn write_asn_db(path: &Path, entries: &[(&str, u32, &str)]) {
    let mut writer = Writer::new("GeoLite2-ASN");
    for (net, asn, org) in entries {
        let net: IpNet = net.parse().unwrap();
        let record = AsnRecord {
            autonomous_system_number: *asn,
            autonomous_system_organization: org.to_string(),
        };
        writer.insert(net, &record).unwrap();
    }
    replace(path, &writer.to_bytes().unwrap());
}

/// Atomic replacement by rename.
pub fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// How the fake answers one address.
#[derive(Debug, Clone)]
pub enum Reply {
    Success {
        code: String,
        country: String,
        asn: u32,
        org: String,
    },
    Fail(String),
}

/// What the fake does with the next requests, whatever they ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// An HTTP status instead of an answer.
    Status(u16),
    /// A 429 with X-Rl: 0 and the given X-Ttl.
    TooMany(u64),
    /// A normal answer, but headers saying X-Rl: 0 with the given X-Ttl.
    ZeroLeft(u64),
    Malformed,
    WrongCount,
    /// Never answers (until the client gives up).
    Stall,
}

#[derive(Default)]
struct Inner {
    limit: u32,
    window: Duration,
    /// Arrival time and batch size of every request.
    log: Vec<(Instant, usize)>,
    window_start: Option<Instant>,
    in_window: u32,
    replies: HashMap<IpAddr, Reply>,
    troubles: VecDeque<Trouble>,
    /// Requests the fake had to refuse because the client went over the limit.
    over_limit: u32,
}

#[derive(Clone)]
pub struct FakeIpApi {
    inner: Arc<Mutex<Inner>>,
    pub addr: SocketAddr,
    _runtime: Arc<tokio::runtime::Runtime>,
}

impl FakeIpApi {
    /// Starts on a loopback port, allowing `limit` requests per `window`.
    pub fn start(limit: u32, window: Duration) -> FakeIpApi {
        let inner = Arc::new(Mutex::new(Inner {
            limit,
            window,
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .route("/batch", axum::routing::post(batch))
            .with_state(Arc::clone(&inner));
        let served = crate::http::serve(app);
        FakeIpApi {
            inner,
            addr: served.addr,
            _runtime: served.runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, ip: &str, reply: Reply) {
        self.inner
            .lock()
            .unwrap()
            .replies
            .insert(ip.parse().unwrap(), reply);
    }

    pub fn trouble(&self, trouble: Trouble) {
        self.inner.lock().unwrap().troubles.push_back(trouble);
    }

    /// (arrival, batch size) of every request so far.
    pub fn log(&self) -> Vec<(Instant, usize)> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn requests(&self) -> usize {
        self.inner.lock().unwrap().log.len()
    }

    pub fn over_limit(&self) -> u32 {
        self.inner.lock().unwrap().over_limit
    }

    /// The most requests that arrived within any `window`-long span.
    pub fn max_in_window(&self, window: Duration) -> usize {
        let log = self.log();
        (0..log.len())
            .map(|i| {
                log[i..]
                    .iter()
                    .take_while(|(t, _)| t.duration_since(log[i].0) < window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}

/// The fake's default answer: a country derived from the address.
fn default_reply(ip: IpAddr) -> Reply {
    let countries = [("IS", "Iceland"), ("NZ", "New Zealand"), ("CL", "Chile")];
    let n = match ip {
        IpAddr::V4(v4) => v4.octets()[3] as usize,
        IpAddr::V6(v6) => v6.octets()[15] as usize,
    };
    let (code, country) = countries[n % countries.len()];
    Reply::Success {
        code: code.into(),
        country: country.into(),
        asn: 64_500 + (n % 3) as u32,
        org: format!("Fake Net {}", n % 3),
    }
}

async fn batch(State(inner): State<Arc<Mutex<Inner>>>, body: Bytes) -> Response {
    let asked: Vec<String> = match serde_json::from_slice(&body) {
        Ok(list) => list,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad body").into_response(),
    };
    let (trouble, left, ttl) = {
        let mut s = inner.lock().unwrap();
        let now = Instant::now();
        s.log.push((now, asked.len()));
        let window = s.window;
        if s.window_start
            .is_none_or(|start| now.duration_since(start) >= window)
        {
            s.window_start = Some(now);
            s.in_window = 0;
        }
        s.in_window += 1;
        let start = s.window_start.unwrap_or(now);
        let ttl = window
            .saturating_sub(now.duration_since(start))
            .as_secs_f64()
            .ceil() as u64;
        let over = s.in_window > s.limit;
        if over {
            s.over_limit += 1;
        }
        let left = s.limit.saturating_sub(s.in_window);
        let trouble = if over {
            Some(Trouble::TooMany(ttl))
        } else {
            s.troubles.pop_front()
        };
        (trouble, left, ttl)
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: u64| {
        headers.insert(name, HeaderValue::from_str(&value.to_string()).unwrap());
    };
    match trouble {
        Some(Trouble::TooMany(t)) => {
            set("x-rl", 0);
            set("x-ttl", t);
            return (StatusCode::TOO_MANY_REQUESTS, headers, "").into_response();
        }
        Some(Trouble::ZeroLeft(t)) => {
            set("x-rl", 0);
            set("x-ttl", t);
        }
        _ => {
            set("x-rl", u64::from(left));
            set("x-ttl", ttl);
        }
    }
    match trouble {
        Some(Trouble::Status(code)) => {
            return (StatusCode::from_u16(code).unwrap(), headers, "oops").into_response();
        }
        Some(Trouble::Malformed) => {
            return (StatusCode::OK, headers, "[{\"status\": \"succ").into_response();
        }
        Some(Trouble::Stall) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        _ => {}
    }
    let replies = inner.lock().unwrap().replies.clone();
    let mut answers: Vec<serde_json::Value> = asked
        .iter()
        .map(|a| {
            let Ok(ip) = a.parse::<IpAddr>() else {
                return serde_json::json!({"status": "fail", "message": "invalid query", "query": a});
            };
            match replies.get(&ip).cloned().unwrap_or_else(|| default_reply(ip)) {
                Reply::Success {
                    code,
                    country,
                    asn,
                    org,
                } => serde_json::json!({
                    "status": "success", "country": country, "countryCode": code,
                    "as": format!("AS{asn} {org}"), "org": org, "query": a,
                }),
                Reply::Fail(message) => {
                    serde_json::json!({"status": "fail", "message": message, "query": a})
                }
            }
        })
        .collect();
    if trouble == Some(Trouble::WrongCount) {
        answers.pop();
    }
    (
        StatusCode::OK,
        headers,
        serde_json::to_vec(&answers).unwrap(),
    )
        .into_response()
}
