use bangui_proto::messages::{
    BanRequest, BannedIn, BannedQuery, Covering, Fail2banState, HealthQuery, JailCounts,
    JailStatusInfo, JailStatusQuery, MAX_BANNED_QUERY, UnbanRequest,
};
use bangui_proto::{ErrorCode, Response, WireError};

use std::time::Duration;

use super::page;
use crate::bans::{Bans, READERS_REPORT_AGE};
use crate::context::Ctx;
use crate::coverage::Known;
use crate::fail2ban::Fail2banError;
use crate::targets::Target;

/// Largest manual ban whose rows are archived at once (see [`ban`]).
const RECORD_AT_ONCE_UP_TO: u64 = 1_000;

pub async fn health(ctx: &Ctx, query: HealthQuery, admin: bool) -> Response {
    if query.live {
        ctx.bans.refresh_health().await;
    }
    // The sources' jails count among the jails bangui is told to use.
    let jails = ctx.blocklists.jails_in_use().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the blocklist sources' jails");
        Vec::new()
    });
    let mut health = ctx.health.snapshot(&jails);
    if health.state == Fail2banState::Up {
        let age = report_age(admin);
        for jail in ctx.health.wanted_jails(&jails) {
            if health.missing_jails.contains(&jail) {
                continue;
            }
            if let Some(report) = ctx.bans.enforcement(&jail, age).await {
                health.enforcement.push(report.wire);
            }
        }
    }
    Response::Fail2banHealth(health)
}

/// Administrators are shown enforcement as fail2ban says it now; readers
/// one at most a few seconds old.
pub fn report_age(admin: bool) -> Duration {
    if admin {
        Duration::ZERO
    } else {
        READERS_REPORT_AGE
    }
}

/// A jail name from a request, checked as the config's are: it becomes a
/// word of a fail2ban command (`set JAIL banip …`), so `logtarget` or
/// anything with spaces must not get through.
fn jail_arg(jail: Option<String>) -> Result<Option<String>, WireError> {
    if let Some(name) = &jail {
        crate::config::check_jail_name(name)
            .map_err(|e| WireError::new(ErrorCode::InvalidArgument, e))?;
    }
    Ok(jail)
}

/// Administrators ask fail2ban now; readers get the shared copy (at most
/// 10 s old), so that many of them cannot keep fail2ban busy.
pub async fn jail_status(
    ctx: &Ctx,
    query: JailStatusQuery,
    admin: bool,
) -> Result<Response, WireError> {
    let limit = page(query.limit)?;
    jail_arg(Some(query.jail.clone()))?;
    let status = if admin {
        std::sync::Arc::new(
            ctx.fail2ban
                .jail_status(&query.jail, false)
                .await
                .map_err(fail2ban_error)?,
        )
    } else {
        ctx.fail2ban
            .jail_status_shared(&query.jail)
            .await
            .map_err(fail2ban_error)?
    };
    let all = status.banned.as_deref().unwrap_or_default();
    let banned_total = all.len() as u64;
    let banned = all[..all.len().min(limit as usize)].to_vec();
    let enforcement = ctx
        .bans
        .enforcement(&query.jail, report_age(admin))
        .await
        .map(|r| r.wire);
    Ok(Response::JailStatus(JailStatusInfo {
        counts: JailCounts {
            name: query.jail,
            currently_failed: status.currently_failed,
            total_failed: status.total_failed,
            currently_banned: status.currently_banned,
            total_banned: status.total_banned,
        },
        banned,
        banned_total,
        enforcement,
    }))
}

pub async fn ban(ctx: &Ctx, request: BanRequest) -> Result<Response, WireError> {
    // Where the banned addresses come from is worked out in the background.
    ctx.geo.enqueue(
        request
            .targets
            .iter()
            .filter_map(|t| Target::parse(t).ok())
            .filter(Target::is_host)
            .map(|t| t.net().addr()),
    );
    let done = ctx
        .bans
        .ban(jail_arg(request.jail)?, &request.targets)
        .await
        .map_err(fail2ban_error)?;
    // Into the archive now: fail2ban forgets a ban's row once it is lifted.
    // Not for bulk bans: writing tens of thousands of rows while fail2ban
    // stores the same bans slows both, and the sync archives them anyway.
    for (jail, batches) in &done.exact {
        if batches.is_empty() || done.report.accepted > RECORD_AT_ONCE_UP_TO {
            continue;
        }
        // Without the jail's ban time the row would be wrong; the sync copies it later.
        let Ok(bantime) = ctx.fail2ban.bantime(jail).await else {
            continue;
        };
        for batch in batches {
            ctx.history
                .record_bans(jail, &batch.targets, batch.at, bantime)
                .await;
        }
    }
    Ok(Response::BanReport(done.report))
}

pub async fn unban(ctx: &Ctx, request: UnbanRequest) -> Result<Response, WireError> {
    // What fail2ban holds for these bans goes with them: archive it first.
    ctx.history
        .before_unban(&Bans::valid_targets(&request.targets))
        .await;
    let jail = jail_arg(request.jail)?;
    let done = ctx
        .bans
        .unban(jail, &request.targets)
        .await
        .map_err(fail2ban_error)?;
    for (jail, batches) in &done.exact {
        for batch in batches {
            ctx.history.record_unbans(jail, &batch.targets).await;
        }
    }
    Ok(Response::BanReport(done.report))
}

/// Readers asking about many addresses are answered from the shared copies
/// of the jails' lists (see [`jail_status`]).
pub async fn banned(ctx: &Ctx, query: BannedQuery, admin: bool) -> Result<Response, WireError> {
    if query.addresses.is_empty() || query.addresses.len() > MAX_BANNED_QUERY as usize {
        return Err(WireError::new(
            ErrorCode::InvalidArgument,
            format!("give between 1 and {MAX_BANNED_QUERY} addresses per request"),
        ));
    }
    let mut targets = Vec::with_capacity(query.addresses.len());
    for text in &query.addresses {
        let target = Target::parse(text)
            .map_err(|e| WireError::new(ErrorCode::InvalidArgument, e.to_string()))?;
        targets.push(target);
    }
    let jails = ctx
        .fail2ban
        .banned_in(&targets, !admin)
        .await
        .map_err(fail2ban_error)?;
    let known = known_of(ctx, &targets).await?;
    let networks = covering_bans(ctx, &targets, &known, admin).await?;
    Ok(Response::BannedIn(
        targets
            .iter()
            .zip(jails)
            .zip(networks)
            .map(|((t, jails), networks)| BannedIn {
                address: t.to_string(),
                jails,
                networks,
            })
            .collect(),
    ))
}

/// Per target, the banned networks that hold it: candidates from bangui's
/// records (sources' entries, the archive), confirmed by fail2ban.
pub async fn covering_bans(
    ctx: &Ctx,
    targets: &[Target],
    known: &[Known],
    admin: bool,
) -> Result<Vec<Vec<Covering>>, WireError> {
    let mut candidates: Vec<Target> = known
        .iter()
        .zip(targets)
        .flat_map(|(k, t)| k.networks(t))
        .collect();
    candidates.sort();
    candidates.dedup();
    let banned = if candidates.is_empty() {
        Vec::new()
    } else {
        ctx.fail2ban
            .banned_in(&candidates, !admin)
            .await
            .map_err(fail2ban_error)?
    };
    let jails_of = |n: &Target| {
        candidates
            .binary_search(n)
            .ok()
            .and_then(|i| banned.get(i).cloned())
            .unwrap_or_default()
    };
    Ok(known
        .iter()
        .zip(targets)
        .map(|(k, t)| {
            k.networks(t)
                .iter()
                .filter_map(|n| {
                    let jails = jails_of(n);
                    (!jails.is_empty()).then(|| Covering {
                        network: n.to_string(),
                        jails,
                        sources: k.sources_of(n),
                    })
                })
                .collect()
        })
        .collect())
}

/// What bangui's records say of each target and the networks holding it.
pub async fn known_of(ctx: &Ctx, targets: &[Target]) -> Result<Vec<Known>, WireError> {
    let targets = targets.to_vec();
    let default_jail = ctx.config.fail2ban.blocklist_jail.clone();
    ctx.db
        .read(move |conn| crate::coverage::known_all(conn, &targets, &default_jail))
        .await
        .map_err(super::internal)
}

/// fail2ban's failures as the client sees them: down is "unavailable" and
/// names the socket; an unknown jail is "not found".
pub fn fail2ban_error(error: Fail2banError) -> WireError {
    let code = match &error {
        e if e.is_unavailable() => ErrorCode::Unavailable,
        Fail2banError::UnknownJail(_) => ErrorCode::NotFound,
        Fail2banError::Refused { .. } => ErrorCode::InvalidArgument,
        _ => ErrorCode::Internal,
    };
    WireError::new(code, error.to_string())
}
