//! `fail2ban status`: the health snapshot, live or not, and one jail.

use bangui_proto::messages::{
    Enforcement, Fail2banHealth, Fail2banState, HealthQuery, JailStatusQuery, NetworkSupport,
};
use bangui_proto::{Request, Response};

use crate::cli::Fail2banCommand;
use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

pub async fn run(daemon: &mut Daemon, command: Fail2banCommand, json: bool) -> Result<(), Failure> {
    match command {
        Fail2banCommand::Status {
            jail: None, live, ..
        } => {
            let health = health(daemon, live).await?;
            if json {
                return output::json(&health);
            }
            print_health(&health);
            Ok(())
        }
        Fail2banCommand::Status {
            jail: Some(jail),
            limit,
            ..
        } => {
            let answer = daemon
                .call(Request::JailStatus(JailStatusQuery { jail, limit }))
                .await?;
            let Response::JailStatus(s) = answer else {
                return Err(unexpected("jail_status", &answer));
            };
            if json {
                return output::json(&s);
            }
            let c = &s.counts;
            println!("jail             {}", c.name);
            println!("currently failed {}", c.currently_failed);
            println!("total failed     {}", c.total_failed);
            println!("currently banned {}", c.currently_banned);
            println!("total banned     {}", c.total_banned);
            for address in &s.banned {
                println!("  {address}");
            }
            let more = s.banned_total.saturating_sub(s.banned.len() as u64);
            if more > 0 {
                println!("  … and {more} more (raise --limit to see them)");
            }
            if let Some(e) = &s.enforcement {
                for (i, line) in enforcement_lines(e).iter().enumerate() {
                    println!(
                        "{} {line}",
                        if i == 0 {
                            "enforcement     "
                        } else {
                            "                "
                        }
                    );
                }
            }
            Ok(())
        }
    }
}

pub async fn health(daemon: &mut Daemon, live: bool) -> Result<Fail2banHealth, Failure> {
    let answer = daemon
        .call(Request::Fail2banHealth(HealthQuery { live }))
        .await?;
    match answer {
        Response::Fail2banHealth(h) => Ok(h),
        other => Err(unexpected("fail2ban_health", &other)),
    }
}

/// The fail2ban lines of `status` and `fail2ban status`.
pub fn print_health(h: &Fail2banHealth) {
    let version = h
        .version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let now = output::now_unix();
    let word = match h.state {
        Fail2banState::Up => "up",
        Fail2banState::Down => "down",
        Fail2banState::Denied => "no access",
        Fail2banState::Busy => "busy",
        Fail2banState::Unknown => "unknown",
    };
    // "(checked 3s ago, up since 2h ago)": when the snapshot was taken, and
    // since when the state holds when that is earlier.
    let since = h
        .since
        .filter(|t| Some(*t) != h.checked_at)
        .map(|t| format!(", {word} since {}", output::relative(t, now)))
        .unwrap_or_default();
    let checked = h
        .checked_at
        .map(|t| format!(" (checked {}{since})", output::relative(t, now)))
        .unwrap_or_default();
    match h.state {
        Fail2banState::Up => println!("fail2ban   up{version} on {}{checked}", h.socket),
        Fail2banState::Down => println!("fail2ban   DOWN on {}{checked}", h.socket),
        Fail2banState::Denied => println!("fail2ban   NO ACCESS to {}{checked}", h.socket),
        Fail2banState::Busy => println!("fail2ban   BUSY on {}{checked}", h.socket),
        Fail2banState::Unknown => println!("fail2ban   not checked yet on {}", h.socket),
    }
    if let Some(error) = &h.error {
        println!("           {error}");
    }
    for jail in &h.jails {
        println!(
            "  jail {:<24} banned {:>7} (total {}), failed {} (total {})",
            jail.name,
            jail.currently_banned,
            jail.total_banned,
            jail.currently_failed,
            jail.total_failed
        );
    }
    for jail in &h.missing_jails {
        println!(
            "  jail {jail:<24} MISSING: bangui is set to ban into it, fail2ban has not loaded it"
        );
    }
    for e in &h.enforcement {
        for (i, line) in enforcement_lines(e).iter().enumerate() {
            if i == 0 {
                println!("  enforce {:<21} {line}", e.jail);
            } else {
                println!("  {:<29} {line}", "");
            }
        }
    }
    if let Some(hint) = &h.hint {
        println!("hint       {hint}");
    }
}

/// How a jail enforces its bans, for people: the actions and whether they
/// hold networks, then what bangui's own action has in the kernel.
pub fn enforcement_lines(e: &Enforcement) -> Vec<String> {
    let actions = if e.actions.is_empty() {
        "no action (fail2ban bans nothing in the firewall)".to_string()
    } else {
        e.actions.join(", ")
    };
    let networks = match e.networks {
        NetworkSupport::Held => "networks held".to_string(),
        NetworkSupport::Unknown => "networks: cannot tell from its commands".to_string(),
        NetworkSupport::Lost => format!(
            "NETWORKS LOST: {}; bangui refuses networks to this jail",
            e.detail.as_deref().unwrap_or("an action cannot hold them")
        ),
    };
    let mut lines = vec![format!("{actions}; {networks}")];
    if let Some(k) = &e.kernel {
        lines.push(format!(
            "kernel {}: {} IPv4 and {} IPv6 addresses, {} IPv4 and {} IPv6 networks ({} banned, nested ones included), {} changes pending",
            k.sets,
            k.addresses_v4,
            k.addresses_v6,
            k.networks_v4,
            k.networks_v6,
            k.networks_banned,
            k.pending
        ));
        if k.errors > 0 {
            lines.push(format!(
                "{} nft transaction(s) failed since the action started; last: {}",
                k.errors,
                k.last_error.as_deref().unwrap_or("-")
            ));
        }
    }
    lines
}
