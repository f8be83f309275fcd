//! A hostile socket peer for the flood tests and benchmarks, meant to run as
//! an unprivileged member of the socket group (`setpriv --reuid=65534 …`):
//!
//! ```text
//! bangui-flood SOCKET idle N SECS        N handshaken connections, held idle SECS
//! bangui-flood SOCKET big N SECS         N connections each sending a 1 MiB frame before any hello
//! bangui-flood SOCKET reads N SECS JAIL  N connections looping `history stats` and
//!                                        `fail2ban status JAIL` for SECS
//! bangui-flood SOCKET stats|status N SECS JAIL   only one of the two
//! ```
//!
//! Prints `SERVED REFUSED` once every connection is made (connections the
//! daemon took and ones it turned away), then, for `reads`, `REQUESTS` at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bangui_proto::messages::{HistoryGroupQuery, JailStatusQuery};
use bangui_proto::{Client, Request};
use tokio::io::AsyncWriteExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [socket, mode, n, secs, rest @ ..] = args.as_slice() else {
        panic!("usage: bangui-flood SOCKET idle|big|reads N SECS [JAIL]");
    };
    let socket = PathBuf::from(socket);
    let n: usize = n.parse().unwrap();
    let hold = Duration::from_secs_f64(secs.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        match mode.as_str() {
            "idle" => idle(&socket, n, hold).await,
            "big" => big(&socket, n, hold).await,
            "reads" | "stats" | "status" => {
                reads(&socket, mode, n, hold, rest.first().cloned().unwrap()).await
            }
            other => panic!("unknown mode {other}"),
        }
    });
}

async fn connect(socket: &Path) -> Option<Client> {
    Client::connect(socket, "bangui-flood", Some(Duration::from_secs(10)))
        .await
        .ok()
}

fn report(served: usize, refused: usize) {
    println!("{served} {refused}");
}

async fn idle(socket: &Path, n: usize, hold: Duration) {
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..n {
        match connect(socket).await {
            Some(c) => held.push(c),
            None => refused += 1,
        }
    }
    report(held.len(), refused);
    tokio::time::sleep(hold).await;
}

async fn big(socket: &Path, n: usize, hold: Duration) {
    let mut held = Vec::new();
    let frame = {
        let mut f = (1u32 << 20).to_be_bytes().to_vec();
        f.resize(4 + (1 << 20), 0);
        f
    };
    let mut refused = 0;
    for _ in 0..n {
        let Ok(mut s) = tokio::net::UnixStream::connect(socket).await else {
            refused += 1;
            continue;
        };
        // The daemon may cut the connection at the header: that is the point.
        if s.write_all(&frame).await.is_ok() {
            held.push(s);
        } else {
            refused += 1;
        }
    }
    report(held.len(), refused);
    tokio::time::sleep(hold).await;
}

async fn reads(socket: &Path, mode: &str, n: usize, run_for: Duration, jail: String) {
    let mut clients = Vec::new();
    let mut refused = 0;
    for _ in 0..n {
        match connect(socket).await {
            Some(c) => clients.push(c),
            None => refused += 1,
        }
    }
    report(clients.len(), refused);
    let until = Instant::now() + run_for;
    let mut tasks = Vec::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        let jail = jail.clone();
        let mode = mode.to_string();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                let stats = match mode.as_str() {
                    "stats" => true,
                    "status" => false,
                    _ => (i + done as usize) % 2 == 0,
                };
                let request = if stats {
                    Request::HistoryStats(HistoryGroupQuery {
                        by: "country".into(),
                        since: None,
                        limit: 1000,
                    })
                } else {
                    Request::JailStatus(JailStatusQuery {
                        jail: jail.clone(),
                        limit: 1000,
                    })
                };
                match client.call(request).await {
                    Ok(_) | Err(bangui_proto::ClientError::Daemon(_)) => done += 1,
                    Err(_) => break,
                }
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    println!("{total}");
}
