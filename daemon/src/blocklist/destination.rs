//! Where a list download may connect. The root daemon fetches URLs that
//! administrators type and that list hosts redirect to; without a rule, a list
//! host could point it at 127.0.0.1, the LAN or a cloud metadata service and
//! have the answer shown back as samples. So downloads reach public addresses
//! only, checked on the addresses actually connected to (after DNS, for the
//! first URL and every redirect), unless the source is marked local.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A destination refused by these rules: carried through reqwest's error
/// chain so the download fails at once, without retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// What to do about a refusal.
const POLICY: &str = "bangui downloads lists from public addresses only. If the list really is on this host or network, mark the source local (`local = true` in the config file, or `bangui-ctl blocklist add … --local`)";

/// `ip` and what it is ("127.0.0.1, a loopback address (this host)") when
/// downloads may not reach it; None for a public address.
pub fn refusal(ip: IpAddr) -> Option<String> {
    // ::ffff:127.0.0.1 reaches 127.0.0.1.
    let ip = ip.to_canonical();
    let kind = crate::allowlist::special_range(ip)?;
    let what = match kind {
        "link-local" if ip == IpAddr::from([169, 254, 169, 254]) => {
            "a link-local address (the cloud metadata service)"
        }
        "link-local" => "a link-local address",
        "loopback" => "a loopback address (this host)",
        "private" => "a private address",
        _ => "a reserved address",
    };
    Some(format!("{ip}, {what}"))
}

fn host_ip(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Why a URL whose host is an address written out is refused. Names are
/// checked by [`PublicOnly`] when they are resolved; reqwest does not resolve
/// addresses, so these are checked here.
pub fn literal_refusal(url: &reqwest::Url) -> Option<String> {
    let why = refusal(host_ip(url)?)?;
    Some(format!("the URL names {why}; {POLICY}"))
}

/// Why a redirect to `url` is refused, when it names an address.
pub fn redirect_refusal(url: &reqwest::Url) -> Option<String> {
    let why = refusal(host_ip(url)?)?;
    Some(format!("the list host redirected to {why}; {POLICY}"))
}

/// A resolver that answers with public addresses only, so a name that
/// resolves to 127.0.0.1 (or to a mix, to win a race) never gets a
/// connection there. The addresses it returns are the ones connected to, so
/// a second lookup cannot change the answer.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public = screen(&host, found)?;
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The public addresses among those `host` resolved to; refused when there
/// are none.
fn screen(host: &str, found: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
    let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        found.into_iter().partition(|a| refusal(a.ip()).is_none());
    match (public.is_empty(), refused.first()) {
        (false, _) => Ok(public),
        (true, Some(first)) => Err(Refused(format!(
            "the list host {host} resolves to {}; {POLICY}",
            refusal(first.ip()).unwrap_or_default()
        ))),
        (true, None) => Err(Refused(format!("the list host {host} has no address"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_destinations_are_refused() {
        for (addr, says) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("192.168.1.1", "private"),
            ("172.16.0.1", "private"),
            ("100.100.100.200", "private"),
            ("fd00:ec2::254", "private"),
            ("169.254.169.254", "metadata"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "reserved"),
            ("::", "reserved"),
            ("255.255.255.255", "reserved"),
        ] {
            let why = refusal(ip(addr)).unwrap_or_else(|| panic!("{addr} let through"));
            assert!(why.contains(says), "{addr}: {why}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert_eq!(refusal(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn address_hosts_are_checked_names_are_left_to_the_resolver() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let why = literal_refusal(&url("http://127.0.0.1:8080/x")).unwrap();
        assert!(
            why.starts_with("the URL names 127.0.0.1, a loopback"),
            "{why}"
        );
        assert!(why.contains("--local"), "{why}");
        let why = redirect_refusal(&url("http://169.254.169.254/latest/")).unwrap();
        assert!(
            why.contains("redirected to 169.254.169.254, a link-local address (the cloud metadata"),
            "{why}"
        );
        assert!(literal_refusal(&url("http://[::ffff:10.0.0.1]/x")).is_some());
        assert!(literal_refusal(&url("http://[fe80::1]/x")).is_some());
        assert_eq!(literal_refusal(&url("http://1.1.1.1/x")), None);
        assert_eq!(literal_refusal(&url("http://localhost/x")), None);
    }

    #[test]
    fn only_public_answers_are_connected_to() {
        let sa = |s: &str| SocketAddr::new(ip(s), 0);
        // A name answering both (to win a race against a check) keeps the public one.
        let mixed = vec![sa("127.0.0.1"), sa("93.184.216.34"), sa("10.0.0.1")];
        assert_eq!(screen("h", mixed).unwrap(), vec![sa("93.184.216.34")]);
        let inside = screen("h", vec![sa("10.0.0.1")]).unwrap_err().0;
        assert!(
            inside.contains("h resolves to 10.0.0.1, a private address"),
            "{inside}"
        );
        assert!(screen("h", vec![]).unwrap_err().0.contains("no address"));
    }

    #[tokio::test]
    async fn names_resolving_inside_are_refused() {
        let name: Name = "localhost".parse().unwrap();
        let err = match PublicOnly.resolve(name).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("localhost resolves to"), "{err}");
        assert!(err.contains("loopback"), "{err}");
    }
}
