//! One import of one source, start to end.
//!
//! Download and parse → allowlist and cap → reconcile bangui's ban records
//! with fail2ban's banned list (bans fail2ban lost are forgotten and sent
//! again; batches acknowledged before a crash are confirmed) → record the new
//! list → send the bans in batches, each batch recorded before it goes out →
//! unban what left the list, once fail2ban has stored the ban.
//!
//! Whatever moment the daemon dies at, the records say at most "maybe sent";
//! the next run asks fail2ban, so nothing is banned twice or lost.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bangui_proto::messages::{ImportRunInfo, ReasonCount};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::fetch::{Fetched, Validators};
use super::store::{self, SourceRow};
use super::{Inner, persisted};
use crate::allowlist::Allowed;
use crate::bans::Parsed;
use crate::targets::Target;

/// The list as it will be applied.
pub struct Prepared {
    /// Allowed by the allowlist, within the cap, sorted.
    pub wanted: Vec<Allowed>,
    pub hash: Option<Vec<u8>>,
    pub validators: Validators,
}

/// What reconciling and diffing found.
#[derive(Default)]
pub struct Changes {
    pub added: Vec<Target>,
    pub removed: Vec<Target>,
    pub lost: Vec<Target>,
    pub confirm: Vec<i64>,
    pub adopt: Vec<Target>,
    /// Only what the allowlist let through can be sent.
    pub to_send: Vec<Allowed>,
    pub to_unban: Vec<Target>,
    pub relisted_lost: u64,
}

pub fn new_run(source: &SourceRow, jail: &str, trigger: &str, now: i64) -> ImportRunInfo {
    ImportRunInfo {
        id: 0,
        source: source.name.clone(),
        jail: jail.to_string(),
        trigger: trigger.to_string(),
        status: "running".into(),
        started_at: now,
        finished_at: None,
        content_sha256: None,
        download: None,
        lines: 0,
        entries: 0,
        invalid: 0,
        duplicates: 0,
        too_broad: 0,
        below_score: 0,
        folded: 0,
        refused: 0,
        refused_by: Vec::new(),
        over_cap: 0,
        lost: 0,
        to_ban: 0,
        banned: 0,
        to_unban: 0,
        unbanned: 0,
        deferred: 0,
        samples: Vec::new(),
        error: None,
    }
}

/// Downloads, parses, screens and caps. Errors are for the run record.
pub async fn prepare(
    inner: &Inner,
    source: &SourceRow,
    jail: &str,
    run: &mut ImportRunInfo,
    conditional: bool,
    cancel: &CancellationToken,
) -> Result<Prepared, String> {
    let validators = if conditional {
        Validators {
            etag: source.etag.clone(),
            last_modified: source.last_modified.clone(),
        }
    } else {
        Validators::default()
    };
    let fetched = inner
        .fetcher
        .fetch(
            &source.url,
            source.reach,
            &source.format,
            parse_bound(source.max_entries),
            &validators,
            cancel,
        )
        .await
        .map_err(|e| format!("download of {} failed: {e}", source.shown_url()))?;
    let (entries, hash, validators) = match fetched {
        Fetched::NotModified => {
            run.download = Some("not modified".into());
            let name = source.name.clone();
            let stored = inner
                .db
                .call(move |conn| store::entries(conn, &name))
                .await
                .map_err(|e| e.to_string())?;
            run.entries = stored.len() as u64;
            (stored, source.content_sha256.clone(), validators)
        }
        Fetched::Body {
            list,
            validators,
            summary,
        } => {
            run.download = Some(summary);
            run.lines = list.lines;
            run.entries = list.entries.len() as u64;
            run.invalid = list.invalid;
            run.duplicates = list.duplicates;
            run.too_broad = list.too_broad;
            run.below_score = list.below_score;
            // Never kept, so over the cap whatever the allowlist does.
            run.over_cap = list.beyond;
            // Lines of a body that is not a list are kept nowhere: whatever the
            // URL pointed at (a file, an internal page) is not shown back.
            let is_list = !list.entries.is_empty() && list.invalid <= list.entries.len() as u64;
            if is_list {
                run.samples = list.samples;
            }
            if list.entries.is_empty() {
                return Err(
                    "the download holds no valid entries (an error page?); nothing changed".into(),
                );
            }
            if list.invalid > list.entries.len() as u64 {
                return Err(format!(
                    "most lines are not addresses ({} invalid, {} valid); nothing changed",
                    list.invalid,
                    list.entries.len()
                ));
            }
            (list.entries, None, validators)
        }
    };
    let screened = inner
        .bans
        .screen(
            jail,
            Parsed {
                accepted: entries,
                refused: Vec::new(),
            },
        )
        .await
        .map_err(|e| format!("cannot check the allowlist against fail2ban: {e}"))?;
    // The stored entries are folded: a stored network the allowlist now
    // refuses stands for addresses only the list itself still has. Read it
    // again, whole.
    if conditional && hash.is_some() && screened.refused.iter().any(|r| r.target.contains('/')) {
        tracing::info!(source = %source.name, "a stored network is refused now; downloading the list again");
        return Box::pin(prepare(inner, source, jail, run, false, cancel)).await;
    }
    run.refused = screened.refused.len() as u64;
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for r in &screened.refused {
        *by.entry(r.reason.clone()).or_default() += 1;
    }
    run.refused_by = by
        .into_iter()
        .map(|(reason, count)| ReasonCount { reason, count })
        .collect();
    // The cap first: folding into a network the cap then cut would ban
    // neither it nor what it holds.
    let mut accepted = screened.accepted;
    let cap = usize::try_from(source.max_entries).unwrap_or(usize::MAX);
    if accepted.len() > cap {
        run.over_cap += (accepted.len() - cap) as u64;
        accepted.truncate(cap);
    }
    let (mut wanted, folded) = super::aggregate::fold(accepted);
    run.folded = folded;
    wanted.sort_unstable();
    // What will be applied, in canonical order: the content's identity.
    let hash = hash.or_else(|| Some(content_hash(&wanted)));
    run.content_sha256 = hash.as_ref().map(hex::encode);
    Ok(Prepared {
        wanted,
        hash,
        validators,
    })
}

/// The most entries a download's parse keeps: twice the source's cap, so
/// that entries the allowlist refuses leave enough to fill it, and a body
/// of ranges cannot grow the daemon without bound.
fn parse_bound(max_entries: u64) -> usize {
    usize::try_from(max_entries.saturating_mul(2).max(1_000)).unwrap_or(usize::MAX)
}

/// SHA-256 of sorted distinct entries in canonical form, one per line.
pub fn content_hash<T: AsRef<Target>>(sorted: &[T]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    let mut line = String::new();
    for t in sorted {
        use std::fmt::Write as _;
        line.clear();
        let _ = writeln!(line, "{}", t.as_ref());
        hasher.update(line.as_bytes());
    }
    hasher.finalize().to_vec()
}

/// Sorted-merge difference: items of `a` not in `b` (targets or allowed
/// targets, compared as targets).
fn minus<A: Copy + AsRef<Target>, B: AsRef<Target>>(a: &[A], b: &[B]) -> Vec<A> {
    let mut out = Vec::new();
    let mut j = 0;
    for x in a {
        let x_target = x.as_ref();
        while j < b.len() && b[j].as_ref() < x_target {
            j += 1;
        }
        if j >= b.len() || b[j].as_ref() != x_target {
            out.push(*x);
        }
    }
    out
}

/// Whether sorted `list` holds `t`.
fn holds<T: AsRef<Target>>(list: &[T], t: &Target) -> bool {
    list.binary_search_by(|x| x.as_ref().cmp(t)).is_ok()
}

/// Allowed targets as plain ones (in place: the layouts are the same).
fn plain(allowed: Vec<Allowed>) -> Vec<Target> {
    allowed.into_iter().map(Allowed::target).collect()
}

/// How often each jail's records are compared with fail2ban's whole banned
/// list even when the counts agree.
const FULL_COMPARE_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Reconciles with fail2ban and works out every change; writes nothing.
///
/// Asking fail2ban for a jail's whole banned list costs about 2 ms per
/// thousand bans, so it is skipped when bangui's records can be trusted: every
/// batch acknowledged, fail2ban's count of bans equal to the records', and a
/// whole-list comparison in the last six hours (and since this daemon started).
pub async fn changes(
    inner: &Inner,
    source: &str,
    jail: &str,
    wanted: &[Allowed],
) -> Result<Changes, String> {
    let (name, j) = (source.to_string(), jail.to_string());
    let records = inner
        .db
        .call(move |conn| Ok((store::entries(conn, &name)?, store::bans(conn, &j)?)));
    let recently_verified = inner
        .verified
        .lock()
        .ok()
        .and_then(|v| v.get(jail).copied())
        .is_some_and(|t| t.elapsed() < FULL_COMPARE_EVERY);
    // fail2ban's count, asked while the database loads the records.
    let count = async {
        if recently_verified {
            inner.bans.fail2ban().jail_status(jail, true).await.ok()
        } else {
            None
        }
    };
    let (records, status) = tokio::join!(records, count);
    let (previous, recorded) = records.map_err(|e| e.to_string())?;
    let counts_agree = recorded.unconfirmed.is_empty()
        && status.is_some_and(|s| s.currently_banned == recorded.targets.len() as u64);
    // Every set below is a sorted list and every operation a merge: lists can
    // hold a million entries, and hash sets of them cost several times more.
    let (fetched, orphans): (Option<Vec<Target>>, Vec<Target>) = if counts_agree {
        let j = jail.to_string();
        let pending = inner
            .db
            .call(move |conn| store::pending_unbans(conn, &j))
            .await
            .map_err(|e| e.to_string())?;
        (None, pending)
    } else {
        let banned = inner
            .bans
            .fail2ban()
            .banned_list(jail)
            .await
            .map_err(|e| format!("cannot read fail2ban's banned list of `{jail}`: {e}"))?;
        let mut list: Vec<Target> = banned
            .iter()
            .filter_map(|s| Target::parse(s).ok())
            .collect();
        drop(banned);
        list.sort_unstable();
        list.dedup();
        let (j, default) = (jail.to_string(), inner.default_jail.clone());
        let orphans = inner
            .db
            .call(move |conn| store::orphans(conn, &j, &default))
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(mut v) = inner.verified.lock() {
            v.insert(jail.to_string(), Instant::now());
        }
        (Some(list), orphans)
    };

    let mut c = Changes::default();
    // What fail2ban bans, and of that what bangui recorded (trusted: the records).
    let (in_fail2ban, held): (&[Target], Vec<Target>) = match &fetched {
        None => (&recorded.targets, Vec::new()),
        Some(list) => {
            c.lost = minus(&recorded.targets, list);
            let held = minus(&recorded.targets, &c.lost);
            let mut confirm: Vec<i64> = recorded
                .unconfirmed
                .iter()
                .filter(|(t, _)| list.binary_search(t).is_ok())
                .map(|(_, chunk)| *chunk)
                .collect();
            confirm.sort_unstable();
            confirm.dedup();
            c.confirm = confirm;
            // Listed targets fail2ban bans without a record of bangui's: adopted.
            c.adopt = plain(minus(&minus(wanted, &minus(wanted, list)), &held));
            (list, held)
        }
    };
    let held: &[Target] = if fetched.is_some() {
        &held
    } else {
        &recorded.targets
    };
    c.added = plain(minus(wanted, &previous));
    c.removed = minus(&previous, wanted);
    c.to_send = minus(wanted, in_fail2ban);
    c.relisted_lost = (c.to_send.len() - minus(&c.to_send, &c.lost).len()) as u64;
    let mut candidates: Vec<Target> = c
        .removed
        .iter()
        .chain(orphans.iter())
        .filter(|t| held.binary_search(t).is_ok() && !holds(wanted, t))
        .copied()
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let (name, j, default) = (
        source.to_string(),
        jail.to_string(),
        inner.default_jail.clone(),
    );
    let (candidates, elsewhere) = inner
        .db
        .call(move |conn| {
            let elsewhere = store::listed_elsewhere(conn, &name, &j, &default, &candidates)?;
            Ok((candidates, elsewhere))
        })
        .await
        .map_err(|e| e.to_string())?;
    c.to_unban = candidates
        .into_iter()
        .filter(|t| !elsewhere.contains(t))
        .collect();
    Ok(c)
}

/// Applies `changes`: the records first, then the unbans, then the bans batch by batch.
pub async fn apply(
    inner: &Inner,
    run: &mut ImportRunInfo,
    c: Changes,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let now = inner.clock.now_unix();
    run.lost = c.relisted_lost;
    run.to_ban = c.to_send.len() as u64;
    run.to_unban = c.to_unban.len() as u64;
    // New entries that get a ban request are written with their batch; the
    // rest now. Both lists are sorted, so no sets are built (a list can hold
    // a million entries).
    let quiet = minus(&c.added, &c.to_send);
    let added = Arc::new(c.added);
    {
        let snapshot = run.clone();
        let (source, jail) = (run.source.clone(), run.jail.clone());
        let (removed, lost, confirm, adopt) = (c.removed, c.lost, c.confirm, c.adopt);
        inner
            .db
            .call(move |conn| {
                store::prelude(
                    conn,
                    &store::Prelude {
                        source: &source,
                        jail: &jail,
                        run: &snapshot,
                        removed: &removed,
                        added: &quiet,
                        lost: &lost,
                        confirm: &confirm,
                        adopt: &adopt,
                        now,
                    },
                )
            })
            .await
            .map_err(|e| format!("cannot record the new list: {e}"))?;
    }
    // Unbans first: right after a run of bans fail2ban is still busy storing
    // them, and unbans then wait on it.
    unban_all(inner, run, c.to_unban, cancel).await?;
    ban_all(inner, run, Arc::new(c.to_send), added, cancel).await
}

/// One batch, asked again (after 1, 2 and 4 s) while fail2ban is busy: it
/// took no connection, or did not answer in time. A `banip` of addresses
/// already banned changes nothing, so sending a batch twice is harmless.
async fn ban_patiently(
    fail2ban: &crate::fail2ban::Fail2ban,
    jail: &str,
    batch: &[Allowed],
    cancel: &CancellationToken,
) -> Result<u64, crate::fail2ban::Fail2banError> {
    use crate::fail2ban::Fail2banError;
    let mut wait = std::time::Duration::from_secs(1);
    let mut attempt = 0;
    loop {
        match fail2ban.ban(jail, batch).await {
            Err(e @ (Fail2banError::Busy { .. } | Fail2banError::Timeout { .. }))
                if attempt < 3 && !cancel.is_cancelled() =>
            {
                attempt += 1;
                tracing::info!(jail, error = %e, attempt, "fail2ban is busy; sending the batch again");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancel.cancelled() => return Err(e),
                }
                wait *= 2;
            }
            other => return other,
        }
    }
}

/// Sends bans in time-sized batches. While fail2ban works on one batch, the
/// database confirms the previous one and records the next, so bookkeeping
/// costs almost no time; a batch is always recorded before it is sent.
async fn ban_all(
    inner: &Inner,
    run: &mut ImportRunInfo,
    targets: Arc<Vec<Allowed>>,
    new_entries: Arc<Vec<Target>>,
    cancel: &CancellationToken,
) -> Result<(), String> {
    if targets.is_empty() {
        return Ok(());
    }
    let batching = inner.bans.batching();
    let fail2ban = Arc::clone(inner.bans.fail2ban());
    let jail = run.jail.clone();
    let source = run.source.clone();
    let step = |run: ImportRunInfo, confirm: Option<i64>, next: Option<std::ops::Range<usize>>| {
        let targets = Arc::clone(&targets);
        let (jail, source) = (jail.clone(), source.clone());
        let new_entries = Arc::clone(&new_entries);
        let now = inner.clock.now_unix();
        inner.db.call(move |conn| {
            let batch: Vec<Target> = next
                .as_ref()
                .map(|r| targets[r.clone()].iter().map(|a| a.target()).collect())
                .unwrap_or_default();
            let fresh: Vec<Target> = batch
                .iter()
                .filter(|t| new_entries.binary_search(t).is_ok())
                .copied()
                .collect();
            let next = next.as_ref().map(|_| store::NextBatch {
                jail: &jail,
                targets: &batch,
                source: &source,
                new_entries: &fresh,
            });
            store::ban_step(conn, &run, confirm, next, now)
        })
    };
    let mut size = batching.first;
    let first = 0..size.min(targets.len());
    let mut current = match step(run.clone(), None, Some(first.clone()))
        .await
        .map_err(|e| format!("cannot record a batch: {e}"))?
    {
        Some(id) => (id, first),
        None => return Ok(()),
    };
    crate::fault::point("import.batch_recorded");
    let mut last_confirmed = None;
    loop {
        if cancel.is_cancelled() {
            finish_step(run, last_confirmed, &step).await;
            return Err("stopped before all bans were sent".into());
        }
        let (id, range) = current.clone();
        let following = range.end..(range.end + size).min(targets.len());
        let following = (!following.is_empty()).then_some(following);
        let started = Instant::now();
        let (sent, recorded) = tokio::join!(
            ban_patiently(&fail2ban, &jail, &targets[range.clone()], cancel),
            step(run.clone(), last_confirmed.take(), following.clone()),
        );
        let recorded = recorded.map_err(|e| format!("cannot record a batch: {e}"))?;
        match sent {
            Ok(_) => {
                crate::fault::point("import.batch_acknowledged");
                run.banned += range.len() as u64;
                size = batching.next(range.len(), started.elapsed());
                last_confirmed = Some(id);
            }
            Err(e) => {
                // The batch may or may not have reached fail2ban: the next run asks it.
                return Err(format!(
                    "fail2ban failed after {} of {} bans: {e}",
                    run.banned, run.to_ban
                ));
            }
        }
        match (recorded, following) {
            (Some(next_id), Some(next_range)) => current = (next_id, next_range),
            _ => break,
        }
    }
    finish_step(run, last_confirmed, &step).await;
    Ok(())
}

/// Confirms the last acknowledged batch with the final progress.
async fn finish_step<F, Fut>(run: &ImportRunInfo, confirm: Option<i64>, step: &F)
where
    F: Fn(ImportRunInfo, Option<i64>, Option<std::ops::Range<usize>>) -> Fut,
    Fut: std::future::Future<Output = Result<Option<i64>, crate::store::StoreError>>,
{
    if let Err(e) = step(run.clone(), confirm, None).await {
        // Harmless: the next run confirms it against fail2ban.
        tracing::warn!(error = %e, source = %run.source, "cannot confirm the last batch");
    }
}

/// Unbans what left the list, but only bans fail2ban has stored.
async fn unban_all(
    inner: &Inner,
    run: &mut ImportRunInfo,
    targets: Vec<Target>,
    cancel: &CancellationToken,
) -> Result<(), String> {
    if targets.is_empty() {
        return Ok(());
    }
    let (ready, deferred) = stored_bans(inner, &run.jail, targets.clone()).await;
    run.deferred = deferred as u64;
    if deferred > 0 {
        let ready_set: HashSet<Target> = ready.iter().copied().collect();
        let later: Vec<Target> = targets
            .into_iter()
            .filter(|t| !ready_set.contains(t))
            .collect();
        let jail = run.jail.clone();
        inner
            .db
            .call(move |conn| store::mark_pending(conn, &jail, &later))
            .await
            .map_err(|e| format!("cannot record the put-off unbans: {e}"))?;
        tracing::info!(source = %run.source, deferred, "unbans put off until fail2ban has stored the bans");
    }
    let batching = inner.bans.batching();
    let fail2ban = Arc::clone(inner.bans.fail2ban());
    let mut size = batching.first;
    let mut done = 0;
    while done < ready.len() {
        if cancel.is_cancelled() {
            return Err("stopped before all unbans were sent".into());
        }
        let chunk: Vec<Target> = ready[done..(done + size).min(ready.len())].to_vec();
        let (snapshot, jail, now) = (run.clone(), run.jail.clone(), inner.clock.now_unix());
        let n = chunk.len();
        let id = inner
            .db
            .call(move |conn| store::unban_intent(conn, &snapshot, &jail, n, now))
            .await
            .map_err(|e| format!("cannot record a batch: {e}"))?;
        let started = Instant::now();
        if let Err(e) = fail2ban.unban(&run.jail, &chunk).await {
            return Err(format!(
                "fail2ban failed after {} of {} unbans: {e}",
                run.unbanned, run.to_unban
            ));
        }
        crate::fault::point("import.unban_sent");
        size = batching.next(n, started.elapsed());
        done += n;
        run.unbanned += n as u64;
        let (snapshot, jail, now) = (run.clone(), run.jail.clone(), inner.clock.now_unix());
        inner
            .db
            .call(move |conn| store::unban_done(conn, &snapshot, id, &jail, &chunk, now))
            .await
            .map_err(|e| format!("cannot record an unban batch: {e}"))?;
    }
    Ok(())
}

/// Splits `targets` into those whose ban fail2ban has stored and the rest.
pub async fn stored_bans(inner: &Inner, jail: &str, targets: Vec<Target>) -> (Vec<Target>, usize) {
    let dbfile = match inner.bans.fail2ban().dbfile().await {
        Ok(db) => db,
        Err(e) => {
            tracing::warn!(error = %e, "cannot ask fail2ban for its database; unbans wait");
            let n = targets.len();
            return (Vec::new(), n);
        }
    };
    let Some(dbfile) = dbfile else {
        // No database: fail2ban restores nothing at restart, so nothing can come back.
        return (targets, 0);
    };
    let jail_owned = jail.to_string();
    let checked = tokio::task::spawn_blocking(move || {
        let result = persisted::stored(&dbfile, &jail_owned, &targets);
        (targets, result)
    })
    .await;
    let Ok((targets, result)) = checked else {
        return (Vec::new(), 0);
    };
    match result {
        Ok(flags) => {
            let mut ready = Vec::new();
            let mut deferred = 0;
            for (t, stored) in targets.into_iter().zip(flags) {
                if stored {
                    ready.push(t);
                } else {
                    deferred += 1;
                }
            }
            (ready, deferred)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read fail2ban's database; unbanning only bans acknowledged over 5 minutes ago");
            old_enough(inner, jail, targets).await
        }
    }
}

async fn old_enough(inner: &Inner, jail: &str, targets: Vec<Target>) -> (Vec<Target>, usize) {
    let j = jail.to_string();
    let cutoff = inner.clock.now_unix() - persisted::FALLBACK_AGE_SECS;
    let old = inner
        .db
        .call(move |conn| store::confirmed_before(conn, &j, cutoff))
        .await
        .unwrap_or_default();
    let total = targets.len();
    let ready: Vec<Target> = targets
        .into_iter()
        .filter(|t| old.binary_search(t).is_ok())
        .collect();
    let deferred = total - ready.len();
    (ready, deferred)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn sorted_differences() {
        let a = [t("11.0.0.1"), t("11.0.0.2"), t("11.0.0.4")];
        let b = [t("11.0.0.2"), t("11.0.0.3")];
        assert_eq!(minus(&a, &b), [t("11.0.0.1"), t("11.0.0.4")]);
        assert_eq!(minus(&b, &a), [t("11.0.0.3")]);
        assert!(minus::<Target, _>(&[], &a).is_empty());
    }

    #[test]
    fn the_hash_is_of_the_canonical_text() {
        let a = [t("11.0.0.1"), t("198.51.100.0/24")];
        let expected = Sha256::digest(b"11.0.0.1\n198.51.100.0/24\n").to_vec();
        assert_eq!(content_hash(&a), expected);
        assert_ne!(content_hash(&a), content_hash(&a[..1]));
    }
}
