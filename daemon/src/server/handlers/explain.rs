//! `explain`: one answer to "why is this blocked, or why not?", put
//! together from fail2ban (what it bans now), bangui's records (which
//! sources list it or a network holding it, since when; the archive's ban
//! times), the allowlist and the geo cache.

use bangui_proto::messages::{ExplainQuery, ExplainedBan, Explanation, Listing};
use bangui_proto::{ErrorCode, Response, WireError};

use super::fail2ban::{covering_bans, fail2ban_error, known_of};
use crate::bans::Parsed;
use crate::context::Ctx;
use crate::coverage::Known;
use crate::targets::Target;

pub async fn explain(ctx: &Ctx, q: ExplainQuery, admin: bool) -> Result<Response, WireError> {
    let target = Target::parse(&q.target)
        .map_err(|e| WireError::new(ErrorCode::InvalidArgument, e.to_string()))?;
    let exact = ctx
        .fail2ban
        .banned_in(&[target], !admin)
        .await
        .map_err(fail2ban_error)?
        .pop()
        .unwrap_or_default();
    let mut known = known_of(ctx, &[target]).await?;
    let covering = covering_bans(ctx, &[target], &known, admin)
        .await?
        .pop()
        .unwrap_or_default();
    let known = known.pop().unwrap_or_default();
    let mut bans: Vec<ExplainedBan> = exact
        .iter()
        .map(|jail| explained(&known, jail, &target))
        .collect();
    for c in &covering {
        let Ok(network) = Target::parse(&c.network) else {
            continue;
        };
        bans.extend(c.jails.iter().map(|jail| explained(&known, jail, &network)));
    }
    let listings = known
        .listed
        .iter()
        .map(|l| Listing {
            source: l.source.clone(),
            jail: l.jail.clone(),
            entry: l.entry.to_string(),
            since: l.since,
        })
        .collect();
    Ok(Response::Explanation(Explanation {
        target: target.to_string(),
        bans,
        listings,
        refused: refusal(ctx, target).await,
        geo: place(ctx, target).await,
        geo_of_first_address: !target.is_host(),
    }))
}

/// Where the target (a network: its first address) is: the cache, or the
/// MaxMind files now; ip-api is never asked, since readers may explain.
async fn place(ctx: &Ctx, target: Target) -> Option<bangui_proto::messages::GeoInfo> {
    let address = target.net().addr().to_string();
    match ctx.geo.lookup(&[address], false).await {
        Ok(mut records) => records
            .pop()
            .filter(|g| g.country_code.is_some() || g.asn.is_some()),
        Err(e) => {
            tracing::debug!(error = %e, "explain: no geo answer");
            None
        }
    }
}

/// One ban fail2ban holds, with its times from the archive when it has them.
fn explained(known: &Known, jail: &str, banned: &Target) -> ExplainedBan {
    let latest = known.latest(jail, banned);
    let permanent = latest.is_some_and(|a| a.bantime < 0);
    ExplainedBan {
        jail: jail.to_string(),
        banned: banned.to_string(),
        since: latest.map(|a| a.time_of_ban),
        until: latest
            .filter(|a| a.bantime >= 0)
            .map(|a| a.time_of_ban.saturating_add(a.bantime)),
        permanent,
    }
}

/// The allowlist's (or the manual jail's ignoreip) refusal, as a ban into
/// the manual jail would meet it; `None` when it would pass, or when
/// fail2ban cannot be asked for the jail's ignoreip.
async fn refusal(ctx: &Ctx, target: Target) -> Option<bangui_proto::messages::Refused> {
    let jail = ctx.bans.jail_or_default(None);
    let parsed = Parsed {
        accepted: vec![target],
        refused: Vec::new(),
    };
    match ctx.bans.screen(&jail, parsed).await {
        Ok(screened) => screened.refused.into_iter().next(),
        Err(e) => {
            tracing::debug!(error = %e, "explain: cannot screen against the allowlist");
            None
        }
    }
}
