//! Hostile and broken peers: garbage, oversize frames, silence, version
//! mismatch, unknown requests and the connection limit. None of it may
//! disturb a well-behaved client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_proto::{
    Client, ClientError, ClientHello, ErrorCode, HelloReply, PROTOCOL_VERSION, Request, Response,
    ResponseFrame, decode, encode,
};
use bangui_tests::{DEADLINE, Home, runtime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

async fn read_frame(stream: &mut UnixStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    tokio::time::timeout(DEADLINE, stream.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// Reads until the daemon closes the connection; true if it did within the deadline.
async fn closed_by_daemon(stream: &mut UnixStream) -> bool {
    let mut sink = vec![0u8; 4096];
    let result = tokio::time::timeout(DEADLINE, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    result.is_ok()
}

async fn hello(stream: &mut UnixStream) {
    let hello = encode(&ClientHello {
        protocol_version: PROTOCOL_VERSION,
        client: "raw".into(),
    })
    .unwrap();
    stream.write_all(&frame(&hello)).await.unwrap();
    let reply: HelloReply = decode(&read_frame(stream).await.unwrap()).unwrap();
    assert!(matches!(reply, HelloReply::Accepted(_)), "{reply:?}");
}

#[test]
fn garbage_from_raw_clients_does_not_disturb_a_ctl_session() {
    let home = Home::new();
    let daemon = home.start();
    let socket = home.socket();
    runtime().block_on(async {
        let mut good = Client::connect(&socket, "good", Some(DEADLINE))
            .await
            .unwrap();
        assert!(matches!(
            good.call(Request::Ping).await.unwrap(),
            Response::Pong(_)
        ));

        // Random bytes as a handshake.
        let mut random = UnixStream::connect(&socket).await.unwrap();
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        random.write_all(&frame(&noise)).await.unwrap();
        // A frame header announcing 4 GiB.
        let mut huge = UnixStream::connect(&socket).await.unwrap();
        huge.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
            .await
            .unwrap();
        // A good handshake, then a frame that is not a request.
        let mut bad_request = UnixStream::connect(&socket).await.unwrap();
        hello(&mut bad_request).await;
        bad_request
            .write_all(&frame(&[1, 0, 0, 0, 0, 9]))
            .await
            .unwrap();
        // A good handshake, then half a frame and silence.
        let mut truncated = UnixStream::connect(&socket).await.unwrap();
        hello(&mut truncated).await;
        truncated.write_all(&[0, 0, 0, 50, 1, 2]).await.unwrap();

        assert!(
            closed_by_daemon(&mut random).await,
            "random handshake closes"
        );
        assert!(closed_by_daemon(&mut huge).await, "oversize frame closes");
        assert!(
            closed_by_daemon(&mut bad_request).await,
            "malformed request closes"
        );

        // The good client carries on, on the same connection.
        for _ in 0..20 {
            assert!(matches!(
                good.call(Request::Status).await.unwrap(),
                Response::Status(_)
            ));
        }
        drop(truncated);
    });
    let log = daemon.log_text();
    assert!(log.contains("handshake does not decode"), "{log}");
    assert!(log.contains("bad handshake frame"), "{log}");
    assert!(log.contains("malformed request"), "{log}");
    assert!(daemon.ctl(&["ping"]).status.success());
}

#[test]
fn version_mismatch_is_reported_with_both_versions() {
    let home = Home::new();
    let _daemon = home.start();
    runtime().block_on(async {
        let mut stream = UnixStream::connect(home.socket()).await.unwrap();
        let hello = encode(&ClientHello {
            protocol_version: 999,
            client: "future-ctl".into(),
        })
        .unwrap();
        stream.write_all(&frame(&hello)).await.unwrap();
        let reply: HelloReply = decode(&read_frame(&mut stream).await.unwrap()).unwrap();
        let HelloReply::Refused { server, error } = reply else {
            panic!("accepted a foreign protocol version");
        };
        assert_eq!(server.protocol_version, PROTOCOL_VERSION);
        assert_eq!(error.code, ErrorCode::VersionMismatch);
        assert!(error.message.contains("999"), "{}", error.message);
        assert!(error.message.contains(&PROTOCOL_VERSION.to_string()));
        assert!(closed_by_daemon(&mut stream).await);
    });
}

#[test]
fn an_unknown_request_gets_an_error_and_the_connection_lives_on() {
    let home = Home::new();
    let _daemon = home.start();
    runtime().block_on(async {
        let mut stream = UnixStream::connect(home.socket()).await.unwrap();
        hello(&mut stream).await;
        // Request id 5, request variant 200: what a newer client might send.
        stream.write_all(&frame(&[5, 200])).await.unwrap();
        let reply: ResponseFrame = decode(&read_frame(&mut stream).await.unwrap()).unwrap();
        assert_eq!(reply.id, 5);
        let error = reply.result.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidArgument);
        assert!(error.message.contains("newer"), "{}", error.message);
        // Still usable: a ping (id 6, variant 0).
        stream.write_all(&frame(&[6, 0])).await.unwrap();
        let reply: ResponseFrame = decode(&read_frame(&mut stream).await.unwrap()).unwrap();
        assert_eq!(reply.id, 6);
        assert!(matches!(reply.result, Ok(Response::Pong(_))));
    });
}

#[test]
fn silent_peers_are_dropped_after_the_handshake_timeout() {
    let home = Home::new();
    home.write_config("handshake_timeout = \"300ms\"\nidle_timeout = \"500ms\"\n");
    let daemon = home.start();
    let rt = runtime();
    rt.block_on(async {
        let mut silent = UnixStream::connect(home.socket()).await.unwrap();
        assert!(closed_by_daemon(&mut silent).await);
    });
    daemon.wait_log("no handshake within the timeout");
    let mut idle = rt
        .block_on(Client::connect(&home.socket(), "idle", Some(DEADLINE)))
        .unwrap();
    daemon.wait_log("idle connection closed");
    let err = rt.block_on(idle.call(Request::Ping)).unwrap_err();
    assert!(
        matches!(err, ClientError::Closed | ClientError::Io(_)),
        "{err}"
    );
}

#[test]
fn connections_over_the_limit_are_refused_as_busy() {
    let home = Home::new();
    home.write_config("max_connections = 2\n");
    let _daemon = home.start();
    let socket = home.socket();
    // The harness's own readiness probe may still hold a slot for a moment,
    // so take the two slots with retries; once both are ours, a third must fail.
    let rt = runtime();
    let mut held = Vec::new();
    while held.len() < 2 {
        let client = bangui_tests::wait_for("a connection slot", || {
            rt.block_on(Client::connect(&socket, "holder", Some(DEADLINE)))
                .ok()
        });
        held.push(client);
    }
    rt.block_on(async {
        let mut a = held.remove(0);
        let err = Client::connect(&socket, "c", Some(DEADLINE))
            .await
            .err()
            .expect("a third connection is refused");
        match err {
            ClientError::Daemon(e) => assert_eq!(e.code, ErrorCode::Busy),
            other => panic!("unexpected error {other}"),
        }
        assert!(matches!(
            a.call(Request::Ping).await.unwrap(),
            Response::Pong(_)
        ));
    });
    // Both clients are gone: the freed slots are usable again.
    bangui_tests::wait_for("a free connection slot", || {
        runtime()
            .block_on(Client::connect(&home.socket(), "d", Some(DEADLINE)))
            .ok()
            .map(|_| ())
    });
}
