//! The client against stand-in servers on real Unix sockets: replies split
//! anywhere, the terminator inside a string, oversize and garbage replies,
//! a server that closes, one that never answers, and a restart.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use super::*;

fn settings(socket: PathBuf) -> Settings {
    Settings {
        socket,
        timeout: Duration::from_secs(5),
        max_reply: 64 * 1024,
    }
}

/// Python's pickle of `(0, text)`, protocol 2, hand-built.
fn reply_str(text: &str) -> Vec<u8> {
    let mut out = vec![0x80, 2, b'K', 0, b'X'];
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&[0x86, b'.']);
    out
}

/// Serves connections: reads each request up to the terminator and answers
/// with `answer(n)` for the n-th request, written in pieces of `piece` bytes.
async fn stand_in(listener: UnixListener, piece: usize, answer: fn(usize) -> Option<Vec<u8>>) {
    let mut n = 0;
    while let Ok((mut stream, _)) = listener.accept().await {
        loop {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.ends_with(END) {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => request.extend_from_slice(&buf[..k]),
                }
            }
            if !request.ends_with(END) {
                break;
            }
            let Some(reply) = answer(n) else {
                n += 1;
                break;
            };
            n += 1;
            for part in reply.chunks(piece.max(1)) {
                if stream.write_all(part).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // A reply without its terminator ends the connection: EOF mid-reply.
            if !reply.ends_with(END) {
                break;
            }
        }
    }
}

fn bound() -> (tempfile::TempDir, PathBuf, UnixListener) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f2b.sock");
    let listener = UnixListener::bind(&path).unwrap();
    (dir, path, listener)
}

fn with_end(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.extend_from_slice(END);
    bytes
}

#[tokio::test]
async fn replies_written_a_byte_at_a_time_are_read_whole() {
    let (_dir, path, listener) = bound();
    tokio::spawn(stand_in(listener, 1, |_| Some(with_end(reply_str("pong")))));
    let client = Fail2ban::new(settings(path));
    client.ping().await.unwrap();
    client.ping().await.unwrap();
}

#[tokio::test]
async fn the_terminator_inside_a_string_does_not_end_the_reply() {
    let (_dir, path, listener) = bound();
    // The first 27-byte piece ends right after the inner terminator.
    let text = "a<F2B_END_COMMAND>b";
    tokio::spawn(stand_in(listener, 27, |_| {
        Some(with_end(reply_str("a<F2B_END_COMMAND>b")))
    }));
    let client = Fail2ban::new(settings(path));
    assert_eq!(client.version().await.unwrap(), text);
}

#[tokio::test]
async fn an_oversize_reply_is_refused() {
    let (_dir, path, listener) = bound();
    tokio::spawn(stand_in(listener, 8192, |_| {
        Some(with_end(reply_str(&"x".repeat(200_000))))
    }));
    let client = Fail2ban::new(settings(path));
    let err = client.version().await.unwrap_err();
    assert!(
        matches!(err, Fail2banError::TooLarge { max: 65536 }),
        "{err}"
    );
    assert!(err.to_string().contains("fail2ban.max_reply"));
}

#[tokio::test]
async fn garbage_is_a_bad_reply() {
    let (_dir, path, listener) = bound();
    tokio::spawn(stand_in(listener, 100, |n| {
        Some(with_end(match n {
            0 => b"this is not a pickle".to_vec(),
            1 => vec![0x80, 4, b'K', 0, b'K', 1, b'K', 2, 0x87, b'.'],
            _ => vec![0x80, 4, b']', b'.'],
        }))
    }));
    let client = Fail2ban::new(settings(path));
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err, Fail2banError::BadReply(_)), "{err}");
    let err = client.ping().await.unwrap_err();
    assert!(err.to_string().contains("tuple of 3 items"), "{err}");
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err, Fail2banError::BadReply(_)), "{err}");
}

#[tokio::test]
async fn eof_mid_reply_is_an_error_and_the_next_request_reconnects() {
    let (_dir, path, listener) = bound();
    tokio::spawn(stand_in(listener, 100, |n| match n {
        0 => Some(reply_str("pong")[..5].to_vec()),
        _ => Some(with_end(reply_str("pong"))),
    }));
    let client = Fail2ban::new(settings(path));
    let err = client.ping().await.unwrap_err();
    assert!(err.to_string().contains("closed after 5 bytes"), "{err}");
    client.ping().await.unwrap();
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (_dir, path, listener) = bound();
    // Accepts, reads, never answers.
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut sink = vec![0u8; 1024];
        while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    let client = Fail2ban::new(Settings {
        timeout: Duration::from_millis(200),
        ..settings(path)
    });
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err, Fail2banError::Timeout { .. }), "{err}");
    assert!(err.is_unavailable());
}

#[tokio::test]
async fn a_server_that_closes_without_answering_is_retried_once() {
    let (_dir, path, listener) = bound();
    tokio::spawn(stand_in(listener, 100, |n| match n {
        // Close the first connection without a word: what a restarted server does.
        0 => None,
        _ => Some(with_end(reply_str("pong"))),
    }));
    let client = Fail2ban::new(settings(path));
    client.ping().await.unwrap();
}

#[tokio::test]
async fn no_server_is_unavailable_and_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.sock");
    let client = Fail2ban::new(settings(path.clone()));
    let err = client.ping().await.unwrap_err();
    assert!(err.is_unavailable());
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn error_replies_become_typed_errors() {
    let (_dir, path, listener) = bound();
    tokio::spawn(stand_in(listener, 100, |_| {
        let path = format!(
            "{}/src/fail2ban/fixtures/unknown_jail.pickle",
            env!("CARGO_MANIFEST_DIR")
        );
        Some(with_end(std::fs::read(path).unwrap()))
    }));
    let client = Fail2ban::new(settings(path));
    let err = client.jail_status("nojail", true).await.unwrap_err();
    assert!(
        matches!(&err, Fail2banError::UnknownJail(j) if j == "nojail"),
        "{err}"
    );
    assert!(!err.is_unavailable());
}

/// Answers every request on every connection with its own n-th reply, the
/// first one slowly: what a busy fail2ban does.
async fn slow_first(listener: UnixListener) {
    let mut n = 0usize;
    while let Ok((mut stream, _)) = listener.accept().await {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(k) => request.extend_from_slice(&buf[..k]),
            }
            while let Some(at) = request.windows(END.len()).position(|w| w == END) {
                request.drain(..at + END.len());
                let this = n;
                n += 1;
                if this == 0 {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
                // The reply may go to a connection the client dropped.
                let _ = stream
                    .write_all(&with_end(reply_str(&format!("reply {this}"))))
                    .await;
            }
        }
    }
}

#[tokio::test]
async fn a_reply_to_an_abandoned_request_is_never_read_by_the_next() {
    let (_dir, path, listener) = bound();
    tokio::spawn(slow_first(listener));
    let client = Fail2ban::new(settings(path));
    // The caller gives up after the request went out, before its reply.
    let abandoned = tokio::time::timeout(Duration::from_millis(100), client.version()).await;
    assert!(
        abandoned.is_err(),
        "the slow reply came early: {abandoned:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The next request gets its own reply, not the one left behind.
    assert_eq!(client.version().await.unwrap(), "reply 1");
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_never_read_by_the_next() {
    let (_dir, path, listener) = bound();
    tokio::spawn(slow_first(listener));
    let client = Fail2ban::new(Settings {
        timeout: Duration::from_millis(100),
        ..settings(path)
    });
    let err = client.version().await.unwrap_err();
    assert!(matches!(err, Fail2banError::Timeout { .. }), "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.version().await.unwrap(), "reply 1");
}

#[tokio::test]
async fn a_full_listen_backlog_is_busy_not_down() {
    // A socket that listens (backlog 1, as fail2ban's) but never accepts:
    // once the backlog is full, connects answer EAGAIN.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.sock");
    use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
    let listener = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    socket::bind(
        std::os::fd::AsRawFd::as_raw_fd(&listener),
        &UnixAddr::new(&path).unwrap(),
    )
    .unwrap();
    socket::listen(&listener, Backlog::new(1).unwrap()).unwrap();
    let mut fill = Vec::new();
    while let Ok(s) = tokio::net::UnixStream::connect(&path).await {
        fill.push(s);
        assert!(fill.len() < 100, "the backlog never filled");
    }
    let client = Fail2ban::new(Settings {
        timeout: Duration::from_millis(300),
        ..settings(path)
    });
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err, Fail2banError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("is busy"), "{err}");
    drop(listener);
}
