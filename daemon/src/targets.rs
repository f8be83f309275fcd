//! Addresses and networks to ban or unban, validated before anything is sent:
//! fail2ban itself bans whatever string it is given.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Broader networks are refused: almost certainly a mistake.
pub const MIN_PREFIX_V4: u8 = 8;
pub const MIN_PREFIX_V6: u8 = 16;

/// The broadest prefix bangui bans for this network's family.
pub fn min_prefix(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(_) => MIN_PREFIX_V4,
        IpNet::V6(_) => MIN_PREFIX_V6,
    }
}

/// The address a text names, or a network's first address: where geo data
/// for a network comes from.
pub fn first_address(text: &str) -> Option<IpAddr> {
    Target::parse(text).ok().map(|t| t.net().addr())
}

/// One IPv4/IPv6 address or network, in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target(IpNet);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("empty")]
    Empty,
    #[error("`{0}` is not an IP address or network")]
    Invalid(String),
    #[error("`{given}` has host bits set; the network is {network}")]
    HostBits { given: String, network: IpNet },
    #[error("`{0}` covers the IPv4-mapped range ::ffff:0:0/96; give the IPv4 networks instead")]
    CoversMapped(String),
}

/// So that code working on sorted lists takes targets and
/// [`crate::allowlist::Allowed`] ones alike.
impl AsRef<Target> for Target {
    fn as_ref(&self) -> &Target {
        self
    }
}

/// `::ffff:0:0/96`: IPv6 spellings of IPv4 addresses.
fn mapped_range() -> ipnet::Ipv6Net {
    ipnet::Ipv6Net::new(std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96)
        .unwrap_or_default()
}

/// An IPv6 network inside the IPv4-mapped range as the IPv4 network it is,
/// so that the allowlist sees `::ffff:127.0.0.0/104` as 127.0.0.0/8.
fn unmapped(net: IpNet) -> Result<IpNet, ()> {
    let IpNet::V6(v6) = net else {
        return Ok(net);
    };
    let mapped = mapped_range();
    if mapped.contains(&v6) {
        let v4 = v6.addr().to_ipv4_mapped().ok_or(())?;
        return ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
            .map(IpNet::V4)
            .map_err(|_| ());
    }
    if v6.contains(&mapped) {
        return Err(());
    }
    Ok(net)
}

impl Target {
    /// Parses `192.0.2.7`, `2001:db8::1`, `198.51.100.0/24`. IPv4-mapped IPv6
    /// addresses become IPv4; a network with host bits set is refused (it is
    /// usually a typo for the address or for the network).
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TargetError::Empty);
        }
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Ok(Target::host(addr));
        }
        let net: IpNet = text
            .parse()
            .map_err(|_| TargetError::Invalid(shorten(text)))?;
        if net.trunc() != net {
            return Err(TargetError::HostBits {
                given: text.to_string(),
                network: net.trunc(),
            });
        }
        let net = unmapped(net).map_err(|()| TargetError::CoversMapped(shorten(text)))?;
        if net.prefix_len() == net.max_prefix_len() {
            return Ok(Target::host(net.addr()));
        }
        Ok(Target(net))
    }

    pub fn host(addr: IpAddr) -> Target {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        Target(IpNet::from(addr))
    }

    pub fn net(&self) -> IpNet {
        self.0
    }

    pub fn is_host(&self) -> bool {
        self.0.prefix_len() == self.0.max_prefix_len()
    }

    /// Broader than [`MIN_PREFIX_V4`] / [`MIN_PREFIX_V6`]: almost certainly a
    /// mistake, whether in a list or typed by hand.
    pub fn too_broad(&self) -> bool {
        self.0.prefix_len() < min_prefix(&self.0)
    }

    /// The networks that contain this one, from the broadest bangui bans
    /// ([`min_prefix`]) to the one just above it, broadest first: what to
    /// look up to answer "is it banned by a network?".
    pub fn supernets(&self) -> Vec<Target> {
        (min_prefix(&self.0)..self.0.prefix_len())
            .filter_map(|len| IpNet::new(self.0.addr(), len).ok())
            .map(|n| Target(n.trunc()))
            .collect()
    }

    /// Whether the two share any address.
    pub fn overlaps(&self, other: &IpNet) -> bool {
        self.0.contains(&other.network()) || other.contains(&self.0.network())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Keeps error messages short whatever garbage came in.
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            Target::parse(" 192.0.2.7 ").unwrap().to_string(),
            "192.0.2.7"
        );
        assert_eq!(
            Target::parse("2001:DB8::1").unwrap().to_string(),
            "2001:db8::1"
        );
        assert_eq!(
            Target::parse("::ffff:192.0.2.7").unwrap().to_string(),
            "192.0.2.7"
        );
        assert_eq!(
            Target::parse("192.0.2.7/32").unwrap().to_string(),
            "192.0.2.7"
        );
        assert_eq!(
            Target::parse("198.51.100.0/24").unwrap().to_string(),
            "198.51.100.0/24"
        );
        assert!(matches!(
            Target::parse("198.51.100.7/24"),
            Err(TargetError::HostBits { .. })
        ));
        for bad in [
            "",
            "hello",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4/33",
            "--all",
            "1.2.3.4 5.6.7.8",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        let long = "x".repeat(1000);
        assert!(Target::parse(&long).unwrap_err().to_string().len() < 120);
    }

    #[test]
    fn ipv4_mapped_networks_are_ipv4_networks() {
        let t = |s: &str| Target::parse(s).map(|t| t.to_string());
        assert_eq!(t("::ffff:127.0.0.0/104").unwrap(), "127.0.0.0/8");
        assert_eq!(t("::ffff:0.0.0.0/96").unwrap(), "0.0.0.0/0");
        assert_eq!(t("::ffff:192.0.2.0/120").unwrap(), "192.0.2.0/24");
        assert_eq!(t("::ffff:192.0.2.7/128").unwrap(), "192.0.2.7");
        // Broader than the mapped range, containing it: refused.
        assert!(matches!(
            Target::parse("::fffe:0:0/95"),
            Err(TargetError::CoversMapped(_))
        ));
        assert!(matches!(
            Target::parse("::/64"),
            Err(TargetError::CoversMapped(_))
        ));
        assert_eq!(t("2001:db8::/32").unwrap(), "2001:db8::/32");
    }

    #[test]
    fn supernets_run_from_the_floor_to_just_above() {
        let nets: Vec<String> = Target::parse("1.10.16.5")
            .unwrap()
            .supernets()
            .iter()
            .map(Target::to_string)
            .collect();
        assert_eq!(nets.len(), 24);
        assert_eq!(nets[0], "1.0.0.0/8");
        assert!(nets.contains(&"1.10.16.0/20".to_string()));
        assert_eq!(nets[23], "1.10.16.4/31");
        let v6 = Target::parse("2a06:b440::/29").unwrap().supernets();
        assert_eq!(v6.len(), 13);
        assert_eq!(v6[12].to_string(), "2a06:b440::/28");
        assert!(Target::parse("10.0.0.0/8").unwrap().supernets().is_empty());
        assert_eq!(
            first_address("1.10.16.0/20"),
            Some("1.10.16.0".parse().unwrap())
        );
        assert_eq!(first_address("nonsense"), None);
    }

    #[test]
    fn overlap() {
        let net = Target::parse("10.0.0.0/8").unwrap();
        assert!(net.overlaps(&"10.1.0.0/16".parse().unwrap()));
        assert!(net.overlaps(&"0.0.0.0/0".parse().unwrap()));
        assert!(!net.overlaps(&"11.0.0.0/8".parse().unwrap()));
    }
}
