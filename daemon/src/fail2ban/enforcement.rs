//! Whether a jail's actions can hold networks. fail2ban acknowledges a
//! `banip` whatever its action did, and fail2ban 1.0.2's stock `nftables`
//! action (sets without `flags interval`) and `iptables-ipset` (`hash:ip`)
//! fail on every network or expand it until the set overflows. So bangui
//! asks what a jail runs (`get JAIL actions`, each action's `actionstart` and
//! `actionban`) and refuses networks to a jail that would lose them.

use bangui_proto::messages::{Enforcement, KernelSets, NetworkSupport};

use super::jails::{IPSET_ACTION, NFT_ACTION};
use super::pickle::Value;
use super::{Fail2ban, Fail2banError, reply};

/// What a jail does with a banned network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Networks {
    /// Every action holds networks (bangui's own, iptables rules, …).
    Held,
    /// This action would lose them, and why.
    Lost { action: String, why: String },
    /// No action says either way (none, or commands bangui cannot read).
    Unknown,
}

/// One action, from its name and its start and ban commands.
pub fn classify(name: &str, start: &str, ban: &str) -> Networks {
    if name == NFT_ACTION || name == IPSET_ACTION {
        return Networks::Held;
    }
    let (start, ban) = (start.to_ascii_lowercase(), ban.to_ascii_lowercase());
    let lost = |why: &str| Networks::Lost {
        action: name.to_string(),
        why: why.to_string(),
    };
    if start.contains("hash:ip") && !start.contains("hash:net") {
        return lost("keeps single addresses in an ipset `hash:ip` set");
    }
    let nft = ban.contains("<nftables>") || ban.contains("nft ");
    if nft && start.contains("add set") && !start.contains("interval") {
        return lost("keeps addresses in nftables sets without `flags interval`");
    }
    if nft || ban.contains("iptables") || ban.contains("ip6tables") || ban.contains("ipset") {
        return Networks::Held;
    }
    Networks::Unknown
}

/// All of a jail's actions together: one that loses networks loses them.
pub fn combine(each: Vec<Networks>) -> Networks {
    if let Some(lost) = each.iter().find(|n| matches!(n, Networks::Lost { .. })) {
        return lost.clone();
    }
    if !each.is_empty() && each.iter().all(|n| *n == Networks::Held) {
        return Networks::Held;
    }
    Networks::Unknown
}

impl Networks {
    pub fn support(&self) -> NetworkSupport {
        match self {
            Networks::Held => NetworkSupport::Held,
            Networks::Lost { .. } => NetworkSupport::Lost,
            Networks::Unknown => NetworkSupport::Unknown,
        }
    }
}

/// What a jail runs, as fail2ban says, and what bangui makes of it.
#[derive(Debug, Clone)]
pub struct Report {
    pub networks: Networks,
    pub wire: Enforcement,
}

/// Asks fail2ban what `jail` runs, and, when it runs bangui's own action,
/// what the kernel's sets hold.
pub async fn report(fail2ban: &Fail2ban, jail: &str) -> Result<Report, Fail2banError> {
    let actions = fail2ban.jail_actions(jail).await?;
    let mut each = Vec::new();
    let mut kernel = None;
    for action in &actions {
        if action == NFT_ACTION || action == IPSET_ACTION {
            // A failure to read the counts is not a failure to enforce.
            kernel = match fail2ban.action_property(jail, action, "kernel").await {
                Ok(value) => kernel_sets(value).ok(),
                Err(e) => {
                    tracing::debug!(jail, error = %e, "cannot read the kernel sets' counts");
                    None
                }
            };
        }
        if action == NFT_ACTION || action == IPSET_ACTION {
            // Python: no commands to read (asking logs an error in fail2ban).
            each.push(Networks::Held);
            continue;
        }
        // Other Python actions have no commands either: an error, not a failure.
        let command = |property: &'static str| async move {
            fail2ban
                .action_text(jail, action, property)
                .await
                .unwrap_or_default()
        };
        let (start, ban) = (command("actionstart").await, command("actionban").await);
        each.push(classify(action, &start, &ban));
    }
    let networks = combine(each);
    let detail = match &networks {
        Networks::Lost { action, why } => Some(format!("`{action}` {why}")),
        _ => None,
    };
    Ok(Report {
        wire: Enforcement {
            jail: jail.to_string(),
            actions,
            networks: networks.support(),
            detail,
            kernel,
        },
        networks,
    })
}

/// The counts bangui's action answers for `get JAIL action bangui-nftables kernel`.
fn kernel_sets(value: Value) -> Result<KernelSets, Fail2banError> {
    let mut sets = KernelSets {
        sets: String::new(),
        addresses_v4: 0,
        addresses_v6: 0,
        networks_v4: 0,
        networks_v6: 0,
        networks_banned: 0,
        pending: 0,
        errors: 0,
        last_error: None,
    };
    for (key, v) in reply::dict(value, "kernel")? {
        match key.as_str() {
            "sets" => sets.sets = reply::string(v, &key)?,
            "addresses_v4" => sets.addresses_v4 = reply::count(v, &key)?,
            "addresses_v6" => sets.addresses_v6 = reply::count(v, &key)?,
            "networks_v4" => sets.networks_v4 = reply::count(v, &key)?,
            "networks_v6" => sets.networks_v6 = reply::count(v, &key)?,
            "networks_banned" => sets.networks_banned = reply::count(v, &key)?,
            "pending" => sets.pending = reply::count(v, &key)?,
            "errors" => sets.errors = reply::count(v, &key)?,
            "last_error" => {
                let text = reply::string(v, &key)?;
                sets.last_error = (!text.is_empty()).then_some(text);
            }
            // A newer action may say more.
            _ => continue,
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_actions_that_lose_networks_are_recognised() {
        // fail2ban 1.0.2's nftables.conf, as the client sends it.
        let nft_start = "<nftables> add table <table_family> <table>\n<nftables> add set <table_family> <table> <addr_set> \\{ type <addr_type>\\; \\}";
        let nft_ban = "<nftables> add element <table_family> <table> <addr_set> \\{ <ip> \\}";
        assert!(matches!(
            classify("nftables-allports", nft_start, nft_ban),
            Networks::Lost { .. }
        ));
        let with_interval = format!("{nft_start} flags interval\\;");
        assert_eq!(
            classify("nftables", &with_interval, nft_ban),
            Networks::Held
        );
        let ipset_start = "ipset --create f2b-x hash:ip timeout 0";
        let ipset_ban = "ipset --test f2b-x <ip> || ipset --add f2b-x <ip>";
        assert!(matches!(
            classify("iptables-ipset", ipset_start, ipset_ban),
            Networks::Lost { .. }
        ));
        assert_eq!(
            classify("iptables-ipset", "ipset create f2b-x hash:net", ipset_ban),
            Networks::Held
        );
        assert_eq!(
            classify(
                "iptables-allports",
                "",
                "<iptables> -I f2b-x 1 -s <ip> -j <blocktype>"
            ),
            Networks::Held
        );
        assert_eq!(classify(NFT_ACTION, "", ""), Networks::Held);
        assert_eq!(classify(IPSET_ACTION, "", ""), Networks::Held);
        assert_eq!(classify("bangui-noop", "", ""), Networks::Unknown);
    }

    #[test]
    fn one_losing_action_decides() {
        let lost = Networks::Lost {
            action: "a".into(),
            why: "b".into(),
        };
        assert_eq!(combine(vec![Networks::Held, lost.clone()]), lost);
        assert_eq!(combine(vec![Networks::Held]), Networks::Held);
        assert_eq!(
            combine(vec![Networks::Held, Networks::Unknown]),
            Networks::Unknown
        );
        assert_eq!(combine(vec![]), Networks::Unknown);
    }

    #[test]
    fn kernel_counts_are_read_and_shapes_checked() {
        let text = |s: &str| Value::Str(s.into());
        let dict = Value::Dict(vec![
            (text("sets"), text("nftables table inet bangui-blocklists")),
            (text("addresses_v4"), Value::Int(7)),
            (text("networks_v6"), Value::Int(2)),
            (text("last_error"), text("")),
            (text("something_new"), Value::List(vec![])),
        ]);
        let sets = kernel_sets(dict).unwrap();
        assert_eq!(sets.sets, "nftables table inet bangui-blocklists");
        assert_eq!((sets.addresses_v4, sets.networks_v6), (7, 2));
        assert_eq!(sets.last_error, None);
        assert!(kernel_sets(Value::Int(1)).is_err());
        let negative = Value::Dict(vec![(text("pending"), Value::Int(-1))]);
        assert!(kernel_sets(negative).is_err());
    }
}
