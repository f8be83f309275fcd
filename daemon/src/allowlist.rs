//! The allowlist: every ban, from any path, passes through [`Allowlist::admit`].
//! Refusals carry a reason; nothing is dropped silently.
//!
//! The rule is kept by the type system: [`crate::fail2ban::Fail2ban::ban`]
//! takes only [`Allowed`] targets, and only `admit` (in this module) can make
//! one, so no path — a manual ban, an import, a re-sent lost ban — can reach
//! fail2ban without the check.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::targets::Target;

/// A target the allowlist let through. The field is private to this module:
/// [`Allowlist::admit`] is the only way to make one, as the compiler checks:
///
/// ```compile_fail
/// use bangui_daemon::{allowlist::Allowed, targets::Target};
/// let target = Target::parse("45.33.32.156").unwrap();
/// let skipped = Allowed(target); // error[E0423]: the field is private
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Allowed(Target);

impl Allowed {
    pub fn target(self) -> Target {
        self.0
    }
}

impl AsRef<Target> for Allowed {
    fn as_ref(&self) -> &Target {
        &self.0
    }
}

impl std::fmt::Display for Allowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a target may not be banned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Broader than any sane ban ([`Target::too_broad`]).
    TooBroad(IpNet),
    Loopback(IpNet),
    LinkLocal(IpNet),
    Private(IpNet),
    Reserved(IpNet),
    OwnAddress(IpAddr),
    JailIgnoreIp(IpNet),
    Allowlisted(IpNet),
}

impl Refusal {
    /// Short stable name, for counts and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::TooBroad(_) => "too-broad",
            Refusal::Loopback(_) => "loopback",
            Refusal::LinkLocal(_) => "link-local",
            Refusal::Private(_) => "private",
            Refusal::Reserved(_) => "reserved",
            Refusal::OwnAddress(_) => "own-address",
            Refusal::JailIgnoreIp(_) => "jail-ignoreip",
            Refusal::Allowlisted(_) => "allowlist",
        }
    }

    /// What matched, for people.
    pub fn detail(&self) -> String {
        match self {
            Refusal::TooBroad(n) => format!(
                "{n} is broader than /{} and would block a large part of the Internet; ban smaller networks",
                crate::targets::min_prefix(n)
            ),
            Refusal::Loopback(n) => format!("loopback range {n}"),
            Refusal::LinkLocal(n) => format!("link-local range {n}"),
            Refusal::Private(n) => format!("private range {n} (allowlist.private_ranges)"),
            Refusal::Reserved(n) => format!("reserved range {n} (allowlist.reserved_ranges)"),
            Refusal::OwnAddress(a) => format!("this host's own address {a}"),
            Refusal::JailIgnoreIp(n) => format!("the jail's ignoreip entry {n}"),
            Refusal::Allowlisted(n) => format!("allowlist.networks entry {n}"),
        }
    }
}

const LOOPBACK: &[&str] = &["127.0.0.0/8", "::1/128"];
const LINK_LOCAL: &[&str] = &["169.254.0.0/16", "fe80::/10"];
const PRIVATE: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
];
const RESERVED: &[&str] = &[
    "0.0.0.0/8",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "100::/64",
    "2001:db8::/32",
    "ff00::/8",
];

/// The kind of range ("loopback", "link-local", "private", "reserved") an
/// address is in, if it is not a public address.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    static RANGES: std::sync::LazyLock<Vec<(&'static str, IpNet)>> =
        std::sync::LazyLock::new(|| {
            let mut all = Vec::new();
            for (kind, list) in [
                ("loopback", LOOPBACK),
                ("link-local", LINK_LOCAL),
                ("private", PRIVATE),
                ("reserved", RESERVED),
            ] {
                all.extend(nets(list).into_iter().map(|n| (kind, n)));
            }
            all
        });
    RANGES
        .iter()
        .find(|(_, n)| n.contains(&ip))
        .map(|(kind, _)| *kind)
}

/// The configured policy.
#[derive(Debug, Clone)]
pub struct Allowlist {
    /// Never banned, whatever else is configured.
    loopback: Vec<IpNet>,
    link_local: Vec<IpNet>,
    private: Vec<IpNet>,
    reserved: Vec<IpNet>,
    networks: Vec<IpNet>,
    own_addresses: bool,
}

/// What the check needs from outside: the host's addresses and the jail's ignoreip.
#[derive(Debug, Default)]
pub struct Context {
    pub own: Vec<IpAddr>,
    pub ignoreip: Vec<IpNet>,
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().filter_map(|n| n.parse().ok()).collect()
}

impl Allowlist {
    pub fn new(
        networks: Vec<IpNet>,
        private_ranges: bool,
        reserved_ranges: bool,
        own_addresses: bool,
    ) -> Allowlist {
        let when = |on: bool, list: &[&str]| if on { nets(list) } else { Vec::new() };
        Allowlist {
            loopback: nets(LOOPBACK),
            link_local: when(private_ranges, LINK_LOCAL),
            private: when(private_ranges, PRIVATE),
            reserved: when(reserved_ranges, RESERVED),
            networks,
            own_addresses,
        }
    }

    pub fn wants_own_addresses(&self) -> bool {
        self.own_addresses
    }

    /// `target` as one that may be banned, or why not.
    ///
    /// ```
    /// use bangui_daemon::allowlist::{Allowlist, Context};
    /// use bangui_daemon::targets::Target;
    /// let allowlist = Allowlist::new(vec![], true, true, false);
    /// let public = Target::parse("45.33.32.156").unwrap();
    /// assert!(allowlist.admit(public, &Context::default()).is_ok());
    /// let loopback = Target::parse("127.0.0.1").unwrap();
    /// let refused = allowlist.admit(loopback, &Context::default()).unwrap_err();
    /// assert_eq!(refused.kind(), "loopback");
    /// ```
    pub fn admit(&self, target: Target, ctx: &Context) -> Result<Allowed, Refusal> {
        match self.check(&target, ctx) {
            None => Ok(Allowed(target)),
            Some(why) => Err(why),
        }
    }

    /// Why `target` must not be banned, or None. A network is refused when it
    /// overlaps anything protected.
    pub fn check(&self, target: &Target, ctx: &Context) -> Option<Refusal> {
        // First: a network this broad overlaps everything below, and saying
        // "loopback" for 0.0.0.0/0 would hide the real mistake.
        if target.too_broad() {
            return Some(Refusal::TooBroad(target.net()));
        }
        let hit = |list: &[IpNet]| list.iter().find(|n| target.overlaps(n)).copied();
        if let Some(n) = hit(&self.loopback) {
            return Some(Refusal::Loopback(n));
        }
        if let Some(n) = hit(&self.link_local) {
            return Some(Refusal::LinkLocal(n));
        }
        if let Some(n) = hit(&self.private) {
            return Some(Refusal::Private(n));
        }
        if let Some(n) = hit(&self.reserved) {
            return Some(Refusal::Reserved(n));
        }
        if self.own_addresses
            && let Some(a) = ctx.own.iter().find(|a| target.net().contains(*a))
        {
            return Some(Refusal::OwnAddress(*a));
        }
        if let Some(n) = hit(&ctx.ignoreip) {
            return Some(Refusal::JailIgnoreIp(n));
        }
        hit(&self.networks).map(Refusal::Allowlisted)
    }
}

/// The addresses of this host's interfaces.
pub fn own_addresses() -> Result<Vec<IpAddr>, String> {
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| format!("cannot list this host's addresses: {e}"))?;
    let mut out: Vec<IpAddr> = addrs
        .filter_map(|ifa| ifa.address)
        .filter_map(|sa| {
            if let Some(v4) = sa.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// fail2ban's ignoreip entries as networks. fail2ban also accepts host names
/// and host bits in a CIDR ("127.0.0.1/8"); names are returned separately,
/// because bangui does not resolve them.
pub fn parse_ignoreip(entries: &[String]) -> (Vec<IpNet>, Vec<String>) {
    let mut nets = Vec::new();
    let mut names = Vec::new();
    for entry in entries.iter().flat_map(|e| e.split_whitespace()) {
        if let Ok(addr) = entry.parse::<IpAddr>() {
            nets.push(Target::host(addr).net());
        } else if let Ok(net) = entry.parse::<IpNet>() {
            nets.push(net.trunc());
        } else {
            names.push(entry.to_string());
        }
    }
    (nets, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn refuses_each_kind_with_its_reason() {
        let list = Allowlist::new(
            vec![
                "198.18.0.0/15".parse().unwrap(),
                "8.8.8.0/24".parse().unwrap(),
            ],
            true,
            true,
            true,
        );
        let ctx = Context {
            own: vec!["93.184.216.34".parse().unwrap()],
            ignoreip: vec!["11.22.33.0/24".parse().unwrap()],
        };
        let kind = |s: &str| list.check(&t(s), &ctx).map(|r| r.kind());
        assert_eq!(kind("127.0.0.1"), Some("loopback"));
        assert_eq!(kind("::1"), Some("loopback"));
        assert_eq!(kind("169.254.1.1"), Some("link-local"));
        assert_eq!(kind("192.168.1.10"), Some("private"));
        assert_eq!(kind("fd00::5"), Some("private"));
        assert_eq!(kind("203.0.113.9"), Some("reserved"));
        assert_eq!(kind("224.0.0.1"), Some("reserved"));
        assert_eq!(kind("93.184.216.34"), Some("own-address"));
        assert_eq!(kind("93.184.216.0/24"), Some("own-address"));
        assert_eq!(kind("11.22.33.44"), Some("jail-ignoreip"));
        assert_eq!(kind("8.8.8.8"), Some("allowlist"));
        // Broader than any sane ban: said so, not hidden behind "loopback".
        assert_eq!(kind("0.0.0.0/0"), Some("too-broad"));
        assert_eq!(kind("2000::/3"), Some("too-broad"));
        assert_eq!(kind("11.22.34.1"), None);
        assert_eq!(kind("2a00:1450::1"), None);
    }

    #[test]
    fn ranges_can_be_switched_off_but_loopback_cannot() {
        let list = Allowlist::new(vec![], false, false, false);
        let ctx = Context::default();
        assert!(list.check(&t("192.168.1.10"), &ctx).is_none());
        assert!(list.check(&t("203.0.113.9"), &ctx).is_none());
        assert!(list.check(&t("127.0.0.2"), &ctx).is_some());
    }

    #[test]
    fn ignoreip_parsing_is_lenient() {
        let (nets, names) = parse_ignoreip(&[
            "127.0.0.1/8 ::1".to_string(),
            "192.0.2.5".to_string(),
            "example.org".to_string(),
        ]);
        assert_eq!(
            nets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["127.0.0.0/8", "::1/128", "192.0.2.5/32"]
        );
        assert_eq!(names, ["example.org"]);
    }

    #[test]
    fn own_addresses_include_loopback() {
        assert!(
            own_addresses()
                .unwrap()
                .contains(&"127.0.0.1".parse().unwrap())
        );
    }
}
