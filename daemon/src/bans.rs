//! Banning and unbanning: the one chokepoint every ban goes through. Targets
//! are parsed and de-duplicated, checked against the allowlist (with this
//! host's addresses and the jail's own ignoreip), and sent to fail2ban in
//! chunks small enough to keep its socket responsive.

use std::collections::BTreeSet;
use std::sync::Arc;

use bangui_proto::messages::{BanReport, MAX_PAGE, Refused};

use crate::allowlist::{self, Allowlist, Context};
use crate::fail2ban::{Fail2ban, Fail2banError};
use crate::targets::Target;

#[derive(Clone)]
pub struct Bans {
    fail2ban: Arc<Fail2ban>,
    allowlist: Allowlist,
    chunk: usize,
    default_jail: String,
}

/// Targets split into those to send and those refused.
pub struct Screened {
    pub accepted: Vec<Target>,
    pub refused: Vec<Refused>,
}

impl Bans {
    pub fn new(fail2ban: Arc<Fail2ban>, allowlist: Allowlist, chunk: usize, default_jail: String) -> Bans {
        Bans {
            fail2ban,
            allowlist,
            chunk,
            default_jail,
        }
    }

    /// Parses and de-duplicates; invalid entries are refused as `invalid`.
    pub fn parse(inputs: &[String]) -> Screened {
        let mut accepted = BTreeSet::new();
        let mut refused = Vec::new();
        for input in inputs {
            match Target::parse(input) {
                Ok(target) => {
                    accepted.insert(target);
                }
                Err(e) => refused.push(Refused {
                    target: input.chars().take(64).collect(),
                    reason: "invalid".into(),
                    detail: e.to_string(),
                }),
            }
        }
        Screened {
            accepted: accepted.into_iter().collect(),
            refused,
        }
    }

    /// Applies the allowlist for `jail` to parsed targets.
    pub async fn screen(&self, jail: &str, screened: Screened) -> Result<Screened, Fail2banError> {
        let ignoreip = self.fail2ban.ignoreip(jail).await?;
        let (ignore_nets, names) = allowlist::parse_ignoreip(&ignoreip);
        if !names.is_empty() {
            tracing::warn!(jail, names = ?names, "ignoreip host names are not resolved by bangui; add their addresses to allowlist.networks");
        }
        let own = if self.allowlist.wants_own_addresses() {
            tokio::task::spawn_blocking(allowlist::own_addresses)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let ctx = Context {
            own,
            ignoreip: ignore_nets,
        };
        let Screened {
            accepted: parsed,
            mut refused,
        } = screened;
        let mut accepted = Vec::with_capacity(parsed.len());
        for target in parsed {
            match self.allowlist.check(&target, &ctx) {
                None => accepted.push(target),
                Some(why) => refused.push(Refused {
                    target: target.to_string(),
                    reason: why.kind().into(),
                    detail: why.detail(),
                }),
            }
        }
        Ok(Screened { accepted, refused })
    }

    pub fn jail_or_default(&self, jail: Option<String>) -> String {
        jail.unwrap_or_else(|| self.default_jail.clone())
    }

    /// Bans what the allowlist lets through.
    pub async fn ban(&self, jail: Option<String>, inputs: &[String]) -> Result<BanReport, Fail2banError> {
        let jail = self.jail_or_default(jail);
        let parsed = Bans::parse(inputs);
        let requested = parsed.accepted.len() + parsed.refused.len();
        let screened = self.screen(&jail, parsed).await?;
        for refusal in &screened.refused {
            tracing::info!(jail = %jail, target = %refusal.target, reason = %refusal.reason, "ban refused");
        }
        let (sent, changed, error) = self.in_chunks(&jail, &screened.accepted, true).await;
        tracing::info!(jail = %jail, sent, newly_banned = changed, refused = screened.refused.len(), "ban request done");
        Ok(report(jail, requested, sent, changed, screened.refused, error))
    }

    /// Unbans; only invalid targets are refused (lifting a ban is always allowed).
    pub async fn unban(&self, jail: Option<String>, inputs: &[String]) -> Result<BanReport, Fail2banError> {
        let jail = self.jail_or_default(jail);
        let parsed = Bans::parse(inputs);
        let requested = parsed.accepted.len() + parsed.refused.len();
        // Ask first, so that an unknown jail is an error rather than a zero count.
        self.fail2ban.jail_status(&jail, true).await?;
        let (sent, changed, error) = self.in_chunks(&jail, &parsed.accepted, false).await;
        tracing::info!(jail = %jail, sent, unbanned = changed, "unban request done");
        Ok(report(jail, requested, sent, changed, parsed.refused, error))
    }

    /// Sends `targets` in chunks; stops at the first failure and says how far it got.
    async fn in_chunks(&self, jail: &str, targets: &[Target], ban: bool) -> (usize, u64, Option<String>) {
        let mut sent = 0;
        let mut changed = 0;
        for chunk in targets.chunks(self.chunk) {
            let result = if ban {
                self.fail2ban.ban(jail, chunk).await
            } else {
                self.fail2ban.unban(jail, chunk).await
            };
            match result {
                Ok(n) => {
                    sent += chunk.len();
                    changed += n;
                }
                Err(e) => {
                    tracing::warn!(jail, sent, error = %e, "fail2ban failed part-way through a batch");
                    return (sent, changed, Some(e.to_string()));
                }
            }
        }
        (sent, changed, None)
    }
}

fn report(
    jail: String,
    requested: usize,
    sent: usize,
    changed: u64,
    mut refused: Vec<Refused>,
    error: Option<String>,
) -> BanReport {
    let refused_total = refused.len() as u64;
    refused.truncate(MAX_PAGE as usize);
    BanReport {
        jail,
        requested: requested as u64,
        sent: sent as u64,
        changed,
        refused,
        refused_total,
        error,
    }
}
