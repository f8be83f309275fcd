use bangui_proto::messages::Outcome;
use bangui_proto::messages::{FAILING_RUNS, FailingJob, PeerInfo, Pong, StatusInfo};
use bangui_proto::{PROTOCOL_VERSION, Response, WireError};

use crate::context::Ctx;
use crate::server::peer::Peer;

pub fn ping() -> Response {
    Response::Pong(Pong {
        daemon_version: crate::VERSION.to_string(),
    })
}

pub fn status(ctx: &Ctx, peer: &Peer, admin: bool) -> Result<Response, WireError> {
    let jobs = ctx.scheduler.jobs();
    let count = |f: &dyn Fn(&bangui_proto::messages::JobInfo) -> bool| {
        u32::try_from(jobs.iter().filter(|j| f(j)).count()).unwrap_or(u32::MAX)
    };
    let database = ctx.config.database_path();
    Ok(Response::Status(StatusInfo {
        daemon_version: crate::VERSION.to_string(),
        protocol_version: PROTOCOL_VERSION,
        pid: std::process::id(),
        started_at: ctx.started_at,
        uptime_secs: ctx.started.elapsed().as_secs(),
        state_dir: ctx.config.state_dir.display().to_string(),
        socket: ctx.config.socket.display().to_string(),
        database_bytes: crate::store::size_on_disk(&database),
        database: database.display().to_string(),
        schema_version: ctx.schema_version,
        jobs_total: count(&|_| true),
        jobs_running: count(&|j| j.running.is_some()),
        jobs_failing: count(&|j| j.last.as_ref().is_some_and(|r| r.outcome != Outcome::Ok)),
        failing_jobs: jobs
            .iter()
            .filter(|j| j.enabled && j.failures_in_a_row >= FAILING_RUNS)
            .map(|j| FailingJob {
                id: j.id.clone(),
                failures_in_a_row: j.failures_in_a_row,
                error: j.last.as_ref().and_then(|r| r.error.clone()),
            })
            .collect(),
        disk_full: ctx.db.disk_full(),
        peer: PeerInfo {
            uid: peer.uid,
            gid: peer.gid,
            pid: peer.pid,
            admin,
        },
    }))
}
