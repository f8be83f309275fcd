//! The client against stand-in servers on a real Unix socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bangui_proto::messages::Pong;
use bangui_proto::{
    Client, ClientError, ClientHello, HelloReply, RequestFrame, Response, ResponseFrame,
    ServerInfo, decode, encode, frame_codec,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixListener;
use tokio_util::codec::Framed;

/// Serves one connection: accepts the hello, then answers each request with
/// `answer(request id)`; `None` means stay silent.
async fn stand_in(listener: UnixListener, answer: fn(u64) -> Option<u64>) {
    let (stream, _) = listener.accept().await.unwrap();
    let mut framed = Framed::new(stream, frame_codec());
    let hello: ClientHello = decode(&framed.next().await.unwrap().unwrap()).unwrap();
    let reply = HelloReply::Accepted(ServerInfo {
        protocol_version: hello.protocol_version,
        daemon_version: "stand-in".into(),
    });
    framed.send(encode(&reply).unwrap()).await.unwrap();
    while let Some(Ok(bytes)) = framed.next().await {
        let request: RequestFrame = decode(&bytes).unwrap();
        if let Some(id) = answer(request.id) {
            let frame = ResponseFrame {
                id,
                result: Ok(Response::Pong(Pong {
                    daemon_version: "stand-in".into(),
                })),
            };
            framed.send(encode(&frame).unwrap()).await.unwrap();
        }
    }
}

fn socket() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    (dir, path)
}

#[tokio::test]
async fn a_timed_out_connection_refuses_further_calls() {
    let (_dir, path) = socket();
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(stand_in(listener, |_| None));
    let mut client = Client::connect(&path, "t", Some(Duration::from_millis(200)))
        .await
        .unwrap();
    assert_eq!(client.server().daemon_version, "stand-in");
    let err = client.call(bangui_proto::Request::Ping).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout(_)), "{err}");
    let err = client.call(bangui_proto::Request::Ping).await.unwrap_err();
    assert!(matches!(err, ClientError::Unusable), "{err}");
}

#[tokio::test]
async fn an_answer_to_another_request_is_an_error() {
    let (_dir, path) = socket();
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(stand_in(listener, |id| Some(id + 100)));
    let mut client = Client::connect(&path, "t", Some(Duration::from_secs(10)))
        .await
        .unwrap();
    let err = client.call(bangui_proto::Request::Ping).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::WrongId {
                expected: 1,
                got: 101
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn answers_come_back_in_order() {
    let (_dir, path) = socket();
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(stand_in(listener, Some));
    let mut client = Client::connect(&path, "t", Some(Duration::from_secs(10)))
        .await
        .unwrap();
    for _ in 0..3 {
        assert!(matches!(
            client.call(bangui_proto::Request::Ping).await.unwrap(),
            Response::Pong(_)
        ));
    }
}
