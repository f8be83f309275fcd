//! What the ctl says when the daemon is not there, hangs, or speaks another
//! protocol version: advice and a distinct exit code each time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bangui_proto::{ClientHello, ErrorCode, HelloReply, ServerInfo, WireError, decode, encode};
use bangui_tests::{Home, bin, describe, run_ctl, stderr};

#[test]
fn no_daemon_means_exit_3_and_how_to_start_it() {
    let home = Home::new();
    let out = run_ctl(&bin("bangui-ctl"), &home.socket(), &["ping"], None, |_| {});
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("bangui is not running"), "{err}");
    assert!(err.contains(&home.socket().display().to_string()), "{err}");
    assert!(err.contains("systemctl start bangui"), "{err}");
}

#[test]
fn a_stale_socket_means_exit_3() {
    let home = Home::new();
    drop(std::os::unix::net::UnixListener::bind(home.socket()).unwrap());
    let out = run_ctl(
        &bin("bangui-ctl"),
        &home.socket(),
        &["status"],
        None,
        |_| {},
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stderr(&out).contains("nothing answers"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_hung_daemon_means_exit_3_after_the_timeout() {
    let home = Home::new();
    // Accepts connections (the kernel does) but never answers.
    let _listener = std::os::unix::net::UnixListener::bind(home.socket()).unwrap();
    let out = run_ctl(
        &bin("bangui-ctl"),
        &home.socket(),
        &["--timeout", "300ms", "ping"],
        None,
        |_| {},
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stderr(&out).contains("did not answer"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_protocol_mismatch_names_both_versions() {
    let home = Home::new();
    let listener = std::os::unix::net::UnixListener::bind(home.socket()).unwrap();
    // A stand-in daemon from the future: reads the hello, refuses it.
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).unwrap();
        let hello: ClientHello = decode(&body).unwrap();
        let reply = encode(&HelloReply::Refused {
            server: ServerInfo {
                protocol_version: hello.protocol_version + 1,
                daemon_version: "9.9.9".into(),
            },
            error: WireError::new(ErrorCode::VersionMismatch, "no"),
        })
        .unwrap();
        stream
            .write_all(&(reply.len() as u32).to_be_bytes())
            .unwrap();
        stream.write_all(&reply).unwrap();
        hello.protocol_version
    });
    let out = run_ctl(&bin("bangui-ctl"), &home.socket(), &["ping"], None, |_| {});
    let client_version = server.join().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("protocol {client_version}")), "{err}");
    assert!(
        err.contains(&format!("protocol {}", client_version + 1)),
        "{err}"
    );
    assert!(err.contains("9.9.9"), "{err}");
}

#[test]
fn help_documents_the_exit_codes() {
    let out = std::process::Command::new(bin("bangui-ctl"))
        .arg("--help")
        .output()
        .unwrap();
    let text = bangui_tests::stdout(&out);
    for needle in ["Exit status", "unreachable", "permission denied", "usage"] {
        assert!(
            text.contains(needle),
            "{needle} missing from --help:\n{text}"
        );
    }
    let out = std::process::Command::new(bin("bangui-ctl"))
        .arg("no-such-command")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
