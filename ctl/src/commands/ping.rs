use std::time::Instant;

use bangui_proto::{Request, Response};
use serde::Serialize;

use crate::connect::{Daemon, unexpected};
use crate::exit::Failure;
use crate::output;

#[derive(Serialize)]
struct PingJson {
    daemon_version: String,
    round_trip_us: u64,
}

pub async fn run(daemon: &mut Daemon, json: bool) -> Result<(), Failure> {
    let started = Instant::now();
    let answer = daemon.call(Request::Ping).await?;
    let elapsed = started.elapsed();
    let Response::Pong(pong) = answer else {
        return Err(unexpected("pong", &answer));
    };
    if json {
        return output::json(&PingJson {
            daemon_version: pong.daemon_version,
            round_trip_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        });
    }
    println!(
        "pong from bangui {} on {} in {:.2} ms",
        pong.daemon_version,
        daemon.socket.display(),
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(())
}
