//! `geo_cache_flush`: writes newly resolved geo entries to the database.
//! A failed flush keeps every entry dirty for the next one.

use crate::geo::Geo;
use crate::scheduler::{Job, JobError, JobFuture, RunContext};

pub const ID: &str = "geo_cache_flush";

pub struct GeoCacheFlush {
    pub geo: Geo,
}

impl Job for GeoCacheFlush {
    fn run(&self, _ctx: RunContext) -> JobFuture {
        let geo = self.geo.clone();
        Box::pin(async move {
            let flushed = geo.flush().await.map_err(|e| JobError::from_error(&e))?;
            if flushed.written > 0 {
                tracing::info!(
                    written = flushed.written,
                    dirty = flushed.dirty,
                    "geo cache flushed"
                );
            }
            Ok(format!(
                "wrote {} entr{}; {} still dirty",
                flushed.written,
                if flushed.written == 1 { "y" } else { "ies" },
                flushed.dirty
            ))
        })
    }
}
