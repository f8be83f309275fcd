//! Pins the wire encoding. A failure here means a change would break peers of
//! other versions: append variants instead of reordering, and never change the
//! handshake types.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_proto::messages::{BannedQuery, CreateSession, HealthQuery, RunJob};
use bangui_proto::{
    ClientHello, ErrorCode, HelloReply, Request, RequestFrame, Response, ResponseFrame, ServerInfo,
    WireError, decode, encode,
};

fn pinned<T>(value: &T, bytes: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let encoded = encode(value).unwrap();
    assert_eq!(&encoded[..], bytes, "encoding of {value:?} changed");
    let back: T = decode(bytes).unwrap();
    assert_eq!(&back, value);
}

#[test]
fn client_hello_is_frozen() {
    pinned(
        &ClientHello {
            protocol_version: 1,
            client: "ctl".into(),
        },
        &[1, 3, b'c', b't', b'l'],
    );
}

#[test]
fn hello_replies_are_frozen() {
    let server = ServerInfo {
        protocol_version: 1,
        daemon_version: "0.1".into(),
    };
    pinned(
        &HelloReply::Accepted(server.clone()),
        &[0, 1, 3, b'0', b'.', b'1'],
    );
    pinned(
        &HelloReply::Refused {
            server,
            error: WireError::new(ErrorCode::VersionMismatch, "v"),
        },
        &[1, 1, 3, b'0', b'.', b'1', 5, 1, b'v'],
    );
}

#[test]
fn error_codes_keep_their_numbers() {
    let codes = [
        ErrorCode::NotFound,
        ErrorCode::InvalidArgument,
        ErrorCode::PermissionDenied,
        ErrorCode::Busy,
        ErrorCode::Unavailable,
        ErrorCode::VersionMismatch,
        ErrorCode::Internal,
        ErrorCode::TooLarge,
    ];
    for (index, code) in codes.iter().enumerate() {
        pinned(code, &[index as u8]);
    }
}

#[test]
fn requests_keep_their_numbers() {
    pinned(
        &RequestFrame {
            id: 7,
            request: Request::Ping,
        },
        &[7, 0],
    );
    pinned(
        &RequestFrame {
            id: 300,
            request: Request::RunJob(RunJob {
                job_id: "x".into(),
                wait: true,
            }),
        },
        // 300 is a varint: 251 marks a following u16, little-endian.
        &[251, 0x2c, 0x01, 3, 1, b'x', 1],
    );
    pinned(
        &RequestFrame {
            id: 1,
            request: Request::CreateSession(CreateSession {
                label: "w".into(),
                ttl_secs: Some(60),
            }),
        },
        &[1, 6, 1, b'w', 1, 60],
    );
    // Protocol 2: a live health query, `banned` with a list.
    pinned(
        &RequestFrame {
            id: 2,
            request: Request::Fail2banHealth(HealthQuery { live: true }),
        },
        &[2, 11, 1],
    );
    pinned(
        &RequestFrame {
            id: 3,
            request: Request::Banned(BannedQuery {
                addresses: vec!["a".into(), "b".into()],
            }),
        },
        &[3, 15, 2, 1, b'a', 1, b'b'],
    );
}

#[test]
fn responses_keep_their_shape() {
    pinned(
        &ResponseFrame {
            id: 9,
            result: Err(WireError::new(ErrorCode::NotFound, "x")),
        },
        &[9, 1, 0, 1, b'x'],
    );
    pinned(
        &ResponseFrame {
            id: 9,
            result: Ok(Response::Pong(bangui_proto::messages::Pong {
                daemon_version: "1".into(),
            })),
        },
        &[9, 0, 0, 1, b'1'],
    );
}
