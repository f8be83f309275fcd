//! `geo_re_resolve`: retries addresses whose country is still unknown,
//! ignoring their back-off, within ip-api's rate limit.

use crate::geo::Geo;
use crate::scheduler::{Job, JobFuture, RunContext};

pub const ID: &str = "geo_re_resolve";

pub struct GeoReResolve {
    pub geo: Geo,
}

impl Job for GeoReResolve {
    fn run(&self, ctx: RunContext) -> JobFuture {
        let geo = self.geo.clone();
        Box::pin(async move {
            let (retried, resolved) = geo.re_resolve(&ctx.cancel).await;
            let left = geo.counts().unresolved;
            tracing::info!(retried, resolved, left, "geo re-resolve done");
            Ok(format!(
                "retried {retried}, resolved {resolved}; {left} still unresolved"
            ))
        })
    }
}
