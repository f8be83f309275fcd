//! Replays every fuzz corpus and every saved crash (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) through the same entry points the fuzz
//! targets call, on the stable toolchain: a regression fails the suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use bangui_daemon::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} panics", path.display());
            count += 1;
        }
    }
    assert!(
        count >= 3,
        "{target}: only {count} inputs; the corpus is missing"
    );
}

#[test]
fn frames() {
    replay("frames", fuzzing::frames);
}

#[test]
fn fail2ban_reply() {
    replay("fail2ban_reply", fuzzing::fail2ban_reply);
}

#[test]
fn blocklist() {
    replay("blocklist", fuzzing::blocklist);
}

#[test]
fn ip_api() {
    replay("ip_api", fuzzing::ip_api);
}

#[test]
fn config() {
    replay("config", fuzzing::config);
}
