use bangui_proto::messages::{JobTriggered, ListRuns, RunJob, ShowRun};
use bangui_proto::{ErrorCode, Response, WireError};

use super::{internal, page};
use crate::context::Ctx;
use crate::scheduler::{self, SchedulerError};
use crate::store::runs;

pub fn list(ctx: &Ctx) -> Response {
    Response::Jobs(ctx.scheduler.jobs())
}

pub async fn run(ctx: &Ctx, request: RunJob) -> Result<Response, WireError> {
    let triggered = ctx
        .scheduler
        .trigger(&request.job_id)
        .map_err(scheduler_error)?;
    if triggered.already_running {
        tracing::info!(job = %request.job_id, "manual trigger: the job is already running");
    }
    let run = if request.wait {
        scheduler::wait_done(triggered.phase).await
    } else {
        scheduler::wait_recorded(triggered.phase).await
    }
    .map_err(scheduler_error)?;
    Ok(Response::JobTriggered(JobTriggered {
        run,
        already_running: triggered.already_running,
    }))
}

pub async fn runs(ctx: &Ctx, request: ListRuns) -> Result<Response, WireError> {
    let limit = page(request.limit)?;
    let job = request.job_id;
    if let Some(id) = &job
        && !ctx.scheduler.jobs().iter().any(|j| &j.id == id)
    {
        return Err(WireError::new(
            ErrorCode::NotFound,
            format!("no job `{id}`"),
        ));
    }
    let records = ctx
        .db
        .call(move |conn| runs::list(conn, job.as_deref(), limit))
        .await
        .map_err(internal)?;
    Ok(Response::Runs(records))
}

pub async fn show_run(ctx: &Ctx, request: ShowRun) -> Result<Response, WireError> {
    let id = request.run_id.clone();
    let record = ctx
        .db
        .call(move |conn| runs::get(conn, &id))
        .await
        .map_err(internal)?;
    record.map(Response::Run).ok_or_else(|| {
        WireError::new(
            ErrorCode::NotFound,
            format!(
                "no run `{}` (old runs are pruned; see `bangui-ctl jobs runs`)",
                request.run_id
            ),
        )
    })
}

fn scheduler_error(error: SchedulerError) -> WireError {
    let code = match &error {
        SchedulerError::UnknownJob { .. } => ErrorCode::NotFound,
        SchedulerError::ShuttingDown => ErrorCode::Unavailable,
        SchedulerError::Random(_) | SchedulerError::RunLost => ErrorCode::Internal,
    };
    WireError::new(code, error.to_string())
}
