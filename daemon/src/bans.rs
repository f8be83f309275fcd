//! Banning and unbanning: the one chokepoint every ban goes through. Targets
//! are parsed and de-duplicated, checked against the allowlist (with this
//! host's addresses and the jail's own ignoreip), and sent to fail2ban in
//! chunks small enough to keep its socket responsive.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bangui_proto::messages::{BanReport, JailChange, MAX_PAGE, Refused};

use crate::allowlist::{self, Allowed, Allowlist, Context};
use crate::clock::Clock;
use crate::fail2ban::enforcement::{self, Networks, Report};
use crate::fail2ban::health::Health;
use crate::fail2ban::{Batching, Fail2ban, Fail2banError};
use crate::targets::Target;

#[derive(Clone)]
pub struct Bans {
    fail2ban: Arc<Fail2ban>,
    /// Taken again after every ban, unban and import, so `status` shows them.
    health: Arc<Health>,
    clock: Clock,
    /// Swapped whole on a reload; a screening in progress keeps the one it took.
    allowlist: Arc<RwLock<Arc<Allowlist>>>,
    batching: Batching,
    /// The batch size the last request ended with.
    learned: Arc<AtomicUsize>,
    default_jail: String,
    /// What each jail's actions are and do with networks, as last asked.
    enforcement: Arc<std::sync::Mutex<std::collections::HashMap<String, (Instant, Report)>>>,
}

/// How long what a jail's actions do with networks is trusted when screening.
const NETWORKS_TTL: Duration = Duration::from_secs(60);
/// How old a jail's enforcement report readers may be shown: many of them
/// asking cannot keep fail2ban busy.
pub const READERS_REPORT_AGE: Duration = Duration::from_secs(5);

/// A ban or unban request's report, and per jail the targets known to have
/// changed (from batches fail2ban counted whole), for the history.
pub struct Done {
    pub report: BanReport,
    pub exact: Vec<(String, Vec<Changed>)>,
}

/// Targets one batch changed, and when it was sent (unix seconds).
pub struct Changed {
    pub at: i64,
    pub targets: Vec<Target>,
}

/// What a run of batches sends: bans only of what the allowlist let through.
#[derive(Clone, Copy)]
enum Batches<'a> {
    Bans(&'a [Allowed]),
    Unbans(&'a [Target]),
}

impl Batches<'_> {
    fn len(&self) -> usize {
        match self {
            Batches::Bans(all) => all.len(),
            Batches::Unbans(all) => all.len(),
        }
    }

    fn targets(&self, range: std::ops::Range<usize>) -> Vec<Target> {
        match self {
            Batches::Bans(all) => all[range].iter().map(|a| a.target()).collect(),
            Batches::Unbans(all) => all[range].to_vec(),
        }
    }
}

/// What one jail's batches did.
struct JailRun {
    change: JailChange,
    exact: Vec<Changed>,
    error: Option<String>,
}

/// Valid targets, not yet screened, and the inputs refused as invalid.
pub struct Parsed {
    pub accepted: Vec<Target>,
    pub refused: Vec<Refused>,
}

/// Targets split into those the allowlist let through and those refused.
pub struct Screened {
    pub accepted: Vec<Allowed>,
    pub refused: Vec<Refused>,
}

impl Bans {
    pub fn new(
        fail2ban: Arc<Fail2ban>,
        health: Arc<Health>,
        clock: Clock,
        allowlist: Allowlist,
        batching: Batching,
        default_jail: String,
    ) -> Bans {
        Bans {
            fail2ban,
            health,
            clock,
            allowlist: Arc::new(RwLock::new(Arc::new(allowlist))),
            batching,
            learned: Arc::new(AtomicUsize::new(batching.first)),
            default_jail,
            enforcement: Arc::default(),
        }
    }

    /// Parses and de-duplicates; invalid entries are refused as `invalid`.
    pub fn parse(inputs: &[String]) -> Parsed {
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
        Parsed {
            accepted: accepted.into_iter().collect(),
            refused,
        }
    }

    /// Replaces the allowlist for every screening from now on.
    pub fn set_allowlist(&self, allowlist: Allowlist) {
        *self.allowlist.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(allowlist);
    }

    fn allowlist(&self) -> Arc<Allowlist> {
        Arc::clone(&self.allowlist.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Applies the allowlist for `jail` to parsed targets.
    pub async fn screen(&self, jail: &str, parsed: Parsed) -> Result<Screened, Fail2banError> {
        let allowlist = self.allowlist();
        let ignoreip = self.fail2ban.ignoreip(jail).await?;
        let (ignore_nets, names) = allowlist::parse_ignoreip(&ignoreip);
        if !names.is_empty() {
            tracing::warn!(jail, names = ?names, "ignoreip host names are not resolved by bangui; add their addresses to allowlist.networks");
        }
        let own = if allowlist.wants_own_addresses() {
            tokio::task::spawn_blocking(allowlist::own_addresses)
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        } else {
            Ok(Vec::new())
        };
        let Parsed {
            mut accepted,
            mut refused,
        } = parsed;
        // Without this host's addresses the check cannot be made: nothing
        // passes, rather than everything.
        let own = match own {
            Ok(own) => own,
            Err(e) => {
                tracing::warn!(jail, error = %e, "own addresses unknown; refusing the bans");
                let detail = format!(
                    "{e}; nothing is banned until bangui can check this host's own addresses (or set allowlist.own_addresses = false)"
                );
                refused.extend(accepted.drain(..).map(|t| Refused {
                    target: t.to_string(),
                    reason: "own-addresses-unknown".into(),
                    detail: detail.clone(),
                }));
                return Ok(Screened {
                    accepted: Vec::new(),
                    refused,
                });
            }
        };
        let ctx = Context {
            own,
            ignoreip: ignore_nets,
        };
        // Collected in place (`Allowed` has `Target`'s layout): a list of a
        // million entries is not copied.
        let mut accepted: Vec<Allowed> = accepted
            .into_iter()
            .filter_map(|target| match allowlist.admit(target, &ctx) {
                Ok(allowed) => Some(allowed),
                Err(why) => {
                    refused.push(Refused {
                        target: target.to_string(),
                        reason: why.kind().into(),
                        detail: why.detail(),
                    });
                    None
                }
            })
            .collect();
        if accepted.iter().any(|a| !a.target().is_host())
            && let Networks::Lost { action, why } = self.networks_of(jail).await
        {
            let detail = format!(
                "the jail's action `{action}` {why}: fail2ban would acknowledge the ban and the firewall would not hold it; give the jail an action with interval sets (bangui's own for its jails: fail2ban.firewall = \"nftables\")"
            );
            accepted.retain(|a| {
                let keep = a.target().is_host();
                if !keep {
                    refused.push(Refused {
                        target: a.to_string(),
                        reason: "action-cannot-hold-networks".into(),
                        detail: detail.clone(),
                    });
                }
                keep
            });
        }
        Ok(Screened { accepted, refused })
    }

    /// What `jail`'s actions do with networks (Unknown when fail2ban cannot say).
    async fn networks_of(&self, jail: &str) -> Networks {
        match self.enforcement(jail, NETWORKS_TTL).await {
            Some(report) => report.networks,
            None => Networks::Unknown,
        }
    }

    /// How `jail` enforces bans, asked of fail2ban unless the last answer is
    /// younger than `max_age`; `None` when fail2ban would not say.
    pub async fn enforcement(&self, jail: &str, max_age: Duration) -> Option<Report> {
        let cached = self
            .enforcement
            .lock()
            .ok()
            .and_then(|m| m.get(jail).cloned())
            .filter(|(at, _)| at.elapsed() < max_age);
        if let Some((_, report)) = cached {
            return Some(report);
        }
        match enforcement::report(&self.fail2ban, jail).await {
            Ok(report) => {
                if let Ok(mut m) = self.enforcement.lock() {
                    m.insert(jail.to_string(), (Instant::now(), report.clone()));
                }
                Some(report)
            }
            Err(e) => {
                tracing::debug!(jail, error = %e, "cannot read the jail's actions");
                None
            }
        }
    }

    pub fn batching(&self) -> Batching {
        self.batching
    }

    pub fn fail2ban(&self) -> &Arc<Fail2ban> {
        &self.fail2ban
    }

    pub fn jail_or_default(&self, jail: Option<String>) -> String {
        jail.unwrap_or_else(|| self.default_jail.clone())
    }

    /// Bans what the allowlist lets through.
    pub async fn ban(
        &self,
        jail: Option<String>,
        inputs: &[String],
    ) -> Result<Done, Fail2banError> {
        let started = std::time::Instant::now();
        let jail = self.jail_or_default(jail);
        let parsed = Bans::parse(inputs);
        let requested = parsed.accepted.len() + parsed.refused.len();
        let screened = self.screen(&jail, parsed).await?;
        let screened_ms = started.elapsed().as_millis() as u64;
        for refusal in &screened.refused {
            tracing::info!(jail = %jail, target = %refusal.target, reason = %refusal.reason, "ban refused");
        }
        let run = self
            .in_chunks(&jail, Batches::Bans(&screened.accepted))
            .await;
        let change = &run.change;
        tracing::info!(
            jail = %jail,
            sent = change.sent,
            newly_banned = change.changed,
            refused = screened.refused.len(),
            screened_ms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ban request done"
        );
        self.refresh_health().await;
        Ok(Done {
            report: report(
                requested,
                screened.accepted.len(),
                vec![run.change],
                false,
                screened.refused,
                run.error,
            ),
            exact: vec![(jail, run.exact)],
        })
    }

    /// Takes fail2ban's health snapshot again, so that `status` shows what
    /// bangui just changed. A failure is recorded there, not returned.
    pub async fn refresh_health(&self) {
        if let Err(e) = self.health.check(&self.fail2ban, &self.clock).await {
            tracing::debug!(error = %e, "health refresh after a change failed");
        }
    }

    /// Unbans from `jail`, or without one from every jail fail2ban runs, as
    /// `fail2ban-client unban` does. Only invalid targets are refused
    /// (lifting a ban is always allowed).
    pub async fn unban(
        &self,
        jail: Option<String>,
        inputs: &[String],
    ) -> Result<Done, Fail2banError> {
        let parsed = Bans::parse(inputs);
        let requested = parsed.accepted.len() + parsed.refused.len();
        let all_jails = jail.is_none();
        let jails = match jail {
            Some(jail) => {
                // Ask first, so that an unknown jail is an error rather than a zero count.
                self.fail2ban.jail_status(&jail, true).await?;
                vec![jail]
            }
            None => self.fail2ban.jails().await?,
        };
        let mut changes = Vec::with_capacity(jails.len());
        let mut exact = Vec::new();
        let mut error = None;
        for jail in jails {
            let run = self
                .in_chunks(&jail, Batches::Unbans(&parsed.accepted))
                .await;
            let c = &run.change;
            tracing::info!(jail = %c.jail, sent = c.sent, unbanned = c.changed, "unban done in jail");
            exact.push((jail, run.exact));
            changes.push(run.change);
            if run.error.is_some() {
                error = run.error;
                break;
            }
        }
        self.refresh_health().await;
        Ok(Done {
            report: report(
                requested,
                parsed.accepted.len(),
                changes,
                all_jails,
                parsed.refused,
                error,
            ),
            exact,
        })
    }

    /// The targets an unban would lift (the valid ones), for the history.
    pub fn valid_targets(inputs: &[String]) -> Vec<Target> {
        Bans::parse(inputs).accepted
    }

    /// Sends `targets` in batches sized by [`Batching`]; stops at the first
    /// failure and says how far it got.
    async fn in_chunks(&self, jail: &str, batches: Batches<'_>) -> JailRun {
        let mut sent = 0;
        let mut changed = 0;
        let mut exact = Vec::new();
        let done =
            |sent: usize, changed: u64, exact: Vec<Changed>, error: Option<String>| JailRun {
                change: JailChange {
                    jail: jail.to_string(),
                    sent: sent as u64,
                    changed,
                },
                exact,
                error,
            };
        // Where the last request left off: a long list split into several
        // requests keeps the size fail2ban was measured to take.
        let mut size = self.learned.load(Ordering::Relaxed).clamp(
            self.batching.first,
            self.batching.max.max(self.batching.first),
        );
        let total = batches.len();
        while sent < total {
            let range = sent..(sent + size).min(total);
            let len = range.len();
            let started = std::time::Instant::now();
            let at = self.clock.now_unix();
            let result = match batches {
                Batches::Bans(all) => self.fail2ban.ban(jail, &all[range.clone()]).await,
                Batches::Unbans(all) => self.fail2ban.unban(jail, &all[range.clone()]).await,
            };
            match result {
                Ok(n) => {
                    sent += len;
                    changed += n;
                    // fail2ban counts per batch: when it counted every one,
                    // each target is known to have changed.
                    if n == len as u64 {
                        exact.push(Changed {
                            at,
                            targets: batches.targets(range),
                        });
                    }
                    size = self.batching.next(len, started.elapsed());
                    self.learned.store(size, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(jail, sent, error = %e, "fail2ban failed part-way through a batch");
                    return done(sent, changed, exact, Some(e.to_string()));
                }
            }
        }
        done(sent, changed, exact, None)
    }
}

fn report(
    requested: usize,
    accepted: usize,
    jails: Vec<JailChange>,
    all_jails: bool,
    mut refused: Vec<Refused>,
    error: Option<String>,
) -> BanReport {
    let refused_total = refused.len() as u64;
    refused.truncate(MAX_PAGE as usize);
    BanReport {
        requested: requested as u64,
        accepted: accepted as u64,
        jails,
        all_jails,
        refused,
        refused_total,
        error,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use std::path::PathBuf;

    use super::*;
    use crate::fail2ban::Settings;
    use crate::fail2ban::pickle::{Value, decode};

    const END: &[u8] = b"<F2B_END_COMMAND>";

    /// A stand-in fail2ban that records each command and answers `(0, [])`
    /// to `get … ignoreip` and `(0, n)` to a batch of n addresses.
    async fn recorder(listener: UnixListener, seen: Arc<Mutex<Vec<Vec<String>>>>) {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Some(end) = buf.windows(END.len()).position(|w| w == END) {
                let Value::List(items) = decode(&buf[..end]).unwrap() else {
                    panic!("request is not a list");
                };
                buf.drain(..end + END.len());
                let args: Vec<String> = items
                    .into_iter()
                    .map(|v| match v {
                        Value::Str(s) => s,
                        other => panic!("{other:?}"),
                    })
                    .collect();
                let reply: Vec<u8> = if args.get(2).map(String::as_str) == Some("ignoreip") {
                    vec![0x80, 4, b'K', 0, b']', 0x86, b'.']
                } else {
                    vec![
                        0x80,
                        4,
                        b'K',
                        0,
                        b'M',
                        args.len().saturating_sub(3) as u8,
                        0,
                        0x86,
                        b'.',
                    ]
                };
                seen.lock().unwrap().push(args);
                stream.write_all(&reply).await.unwrap();
                stream.write_all(END).await.unwrap();
            }
        }
    }

    #[tokio::test]
    async fn bans_go_out_in_chunks_after_the_allowlist() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("f2b.sock");
        let seen = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(recorder(
            UnixListener::bind(&socket).unwrap(),
            Arc::clone(&seen),
        ));
        let client = Arc::new(Fail2ban::new(Settings {
            socket,
            timeout: Duration::from_secs(5),
            max_reply: 1 << 20,
        }));
        let fixed = Batching {
            first: 100,
            max: 100,
            target: Duration::ZERO,
        };
        let bans = Bans::new(
            Arc::clone(&client),
            Arc::new(Health::new(PathBuf::from("/s"), Vec::new())),
            Clock::System,
            Allowlist::new(vec![], true, true, false),
            fixed,
            "manual".into(),
        );
        let mut inputs: Vec<String> = (0..250)
            .map(|i| format!("11.0.{}.{}", i / 200, i % 200 + 1))
            .collect();
        inputs.push("11.0.0.1".into()); // a duplicate
        inputs.push("10.0.0.1".into()); // private
        inputs.push("junk".into());
        let report = bans.ban(None, &inputs).await.unwrap().report;
        assert_eq!(report.jails[0].jail, "manual");
        assert_eq!(report.requested, 252);
        assert_eq!(report.accepted, 250);
        assert_eq!(report.jails[0].sent, 250);
        assert_eq!(report.changed(), 250);
        assert_eq!(report.refused_total, 2);
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], ["get", "manual", "ignoreip"]);
        let bans: Vec<&Vec<String>> = seen
            .iter()
            .filter(|a| a.get(2).is_some_and(|v| v == "banip"))
            .collect();
        let sizes: Vec<usize> = bans.iter().map(|a| a.len() - 3).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(bans.iter().all(|a| a[0] == "set" && a[1] == "manual"));
    }
}
