//! A source's entries normalised before they are banned: an address or
//! network inside another network the same source lists (and the allowlist
//! let through) is folded into it, so fail2ban holds one ticket for the
//! network instead of one for it and one for each address inside. `banned`,
//! `explain` and `history ip` still answer for a folded entry, by the network
//! that holds it ([`crate::coverage`]).
//!
//! Folding runs after the allowlist on purpose: a listed network the
//! allowlist refuses must not take the addresses inside it with it.

use std::collections::HashSet;

use ipnet::IpNet;

use crate::targets::Target;

/// `entries` without those another entry holds, in their order, and how
/// many were folded.
pub fn fold<T: AsRef<Target>>(entries: Vec<T>) -> (Vec<T>, u64) {
    let networks: HashSet<IpNet, foldhash::fast::RandomState> = entries
        .iter()
        .map(|t| t.as_ref().net())
        .filter(|n| n.prefix_len() < n.max_prefix_len())
        .collect();
    if networks.is_empty() {
        return (entries, 0);
    }
    // Per family, the prefix lengths networks use: the only ones to try.
    let mut lengths: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for n in &networks {
        let family = usize::from(matches!(n, IpNet::V6(_)));
        if !lengths[family].contains(&n.prefix_len()) {
            lengths[family].push(n.prefix_len());
        }
    }
    let held = |t: &Target| {
        let net = t.net();
        let family = usize::from(matches!(net, IpNet::V6(_)));
        lengths[family].iter().any(|&len| {
            len < net.prefix_len()
                && IpNet::new(net.addr(), len)
                    .map(|n| networks.contains(&n.trunc()))
                    .unwrap_or(false)
        })
    };
    let before = entries.len();
    let kept: Vec<T> = entries.into_iter().filter(|t| !held(t.as_ref())).collect();
    let folded = (before - kept.len()) as u64;
    (kept, folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(texts: &[&str]) -> Vec<Target> {
        texts.iter().map(|t| Target::parse(t).unwrap()).collect()
    }

    fn shown(list: &[Target]) -> Vec<String> {
        list.iter().map(Target::to_string).collect()
    }

    #[test]
    fn entries_inside_listed_networks_are_folded_into_them() {
        let (kept, folded) = fold(targets(&[
            "1.10.16.5",
            "1.10.16.0/20",
            "1.10.17.0/24",
            "1.10.32.1",
            "2a06:b440::/29",
            "2a06:b441::9",
            "2a06:b448::1",
            "1.10.0.0/16",
        ]));
        assert_eq!(
            shown(&kept),
            ["2a06:b440::/29", "2a06:b448::1", "1.10.0.0/16"]
        );
        assert_eq!(folded, 5);
        // Nothing to fold: the list comes back as it was.
        let plain = targets(&["192.0.2.1", "198.51.100.7"]);
        assert_eq!(fold(plain.clone()), (plain, 0));
        // An IPv4 network never folds an IPv6 address with the same bits.
        let (kept, folded) = fold(targets(&["1.0.0.0/8", "100::1"]));
        assert_eq!((kept.len(), folded), (2, 0));
    }
}
