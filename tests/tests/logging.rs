//! Log outputs through the real daemon: the journal (a stand-in socket in a
//! private mount namespace) with structured fields, the fallback to stderr,
//! and planted secrets that must reach no output at any level.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use bangui_tests::journal::Journal;
use bangui_tests::lists::ListServer;
use bangui_tests::notify::NotifySocket;
use bangui_tests::{Daemon, Home, describe};

const PASSWORD: &str = "correct horse battery staple";

fn journal_stream(log: &Path) -> String {
    let meta = std::fs::metadata(log).unwrap();
    format!("{}:{}", meta.dev(), meta.ino())
}

fn start_with_journal(home: &Home, journal: &Journal, extra: &[(&str, &str)]) -> Daemon {
    let wrapper = journal.wrapper();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    home.start_under(&wrapper, |cmd, log| {
        // stderr is the journal stream, as under systemd.
        cmd.env("JOURNAL_STREAM", journal_stream(log));
        for (k, v) in extra {
            cmd.env(k, v);
        }
    })
}

#[test]
fn under_systemd_entries_go_to_the_journal_with_bangui_fields() {
    let home = Home::new();
    let journal = Journal::start(&home.path().join("journal.sock"));
    let daemon = start_with_journal(&home, &journal, &[("BANGUI_LOG_LEVEL", "info")]);

    let run = daemon.ctl_json(&["jobs", "run", "session_cleanup", "--wait"]);
    let run_id = run["run"]["run_id"].as_str().unwrap().to_string();
    let out = daemon.ctl(&["config", "set", "geo.queue_size", "5000"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = daemon.ctl(&[
        "blocklist",
        "add",
        "journaled",
        "http://127.0.0.1:9/list.txt",
        "--local",
    ]);
    assert!(out.status.success(), "{}", describe(&out));

    // journalctl BANGUI_RUN_ID=<id>: the run from start to finish.
    let of_run = bangui_tests::wait_for("the run's entries", || {
        let e = journal.matching("BANGUI_RUN_ID", &run_id);
        (e.len() >= 2).then_some(e)
    });
    let messages: Vec<&str> = of_run.iter().map(|e| e["MESSAGE"].as_str()).collect();
    assert!(messages.contains(&"run started"), "{messages:?}");
    assert!(messages.contains(&"run finished"), "{messages:?}");
    for e in &of_run {
        assert_eq!(e["BANGUI_JOB"], "session_cleanup");
        assert_eq!(e["SYSLOG_IDENTIFIER"], "bangui");
        assert!(e.contains_key("PRIORITY"));
    }
    let setting = bangui_tests::wait_for("the setting entry", || {
        journal.entries().into_iter().find(|e| {
            e.get("MESSAGE")
                .is_some_and(|m| m == "runtime setting changed")
        })
    });
    assert_eq!(setting["BANGUI_PEER_UID"], "0", "{setting:?}");
    assert_eq!(setting["BANGUI_KEY"], "geo.queue_size");
    let added = journal.matching("BANGUI_SOURCE", "journaled");
    assert!(!added.is_empty(), "no entry names the source");
    assert!(
        journal
            .entries()
            .iter()
            .all(|e| !e.contains_key("UNDECODABLE"))
    );

    daemon.stop();
    let stderr = home.all_daemon_logs();
    assert!(
        !stderr.contains("bangui is ready"),
        "lines went to stderr too: {stderr}"
    );
    assert!(
        journal
            .entries()
            .iter()
            .any(|e| e["MESSAGE"] == "bangui is ready")
    );
}

#[test]
fn without_a_reachable_journal_lines_go_to_stderr() {
    let home = Home::new();
    // A private /run/systemd with no journal socket in it.
    let journal = Journal::start(&home.path().join("unused.sock"));
    let wrapper = journal.wrapper();
    let mut wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let script = "mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && exec \"$@\"";
    wrapper[4] = script;
    let daemon = home.start_under(&wrapper, |cmd, _| {
        cmd.arg("--log-target").arg("journald");
    });
    bangui_tests::wait_for("the ready line on stderr", || {
        daemon.log_text().contains("bangui is ready").then_some(())
    });
    assert!(daemon.log_text().contains("the journal is not reachable"));
    assert!(journal.entries().is_empty());
}

/// Secrets planted by a test hook and secrets the daemon handles (the master
/// password, a session token, credentials in a list URL and the ip-api URL)
/// reach no log line and no STATUS line, at trace level, in every output.
#[test]
fn planted_secrets_reach_no_output() {
    let lists = ListServer::start();
    lists.set_lines("list.txt", &["203.0.113.7".to_string()]);
    let list_url = lists
        .url("list.txt?key=LISTQUERYKEY")
        .replace("http://", "http://listuser:list-secret-pw@");
    let base64_credentials = "bGlzdHVzZXI6bGlzdC1zZWNyZXQtcHc=";

    for output in ["text", "json", "journald"] {
        let home = Home::new();
        let journal = Journal::start(&home.path().join("journal.sock"));
        let notify = NotifySocket::start(&home.path().join("notify.sock"), None);
        let env = [
            ("BANGUI_LOG_LEVEL", "trace"),
            ("BANGUI_TEST_PLANT_SECRETS", "1"),
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
        ];
        let daemon = if output == "journald" {
            start_with_journal(&home, &journal, &env)
        } else {
            home.start_with(|cmd| {
                cmd.arg("--log-format").arg(output);
                for (k, v) in env {
                    cmd.env(k, v);
                }
            })
        };
        let out = daemon.ctl_with(&["setup", "--password-stdin"], Some(PASSWORD));
        assert!(out.status.success(), "{}", describe(&out));
        let login = daemon.ctl_with(&["--json", "login", "--password-stdin"], Some(PASSWORD));
        let token = serde_json::from_slice::<serde_json::Value>(&login.stdout).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            daemon
                .ctl_with(&["sessions", "validate"], Some(&token))
                .status
                .success()
        );
        let out = daemon.ctl(&["blocklist", "add", "secretive", &list_url, "--local"]);
        assert!(out.status.success(), "{}", describe(&out));
        // fail2ban is absent: the import fails after the download, which is what is logged at trace.
        let _ = daemon.ctl(&["blocklist", "run", "secretive", "--wait"]);
        assert!(
            lists.requests("list.txt") > 0,
            "the list was not downloaded"
        );
        let out = daemon.ctl(&[
            "config",
            "set",
            "geo.ip_api_url",
            "https://apiuser:api-secret-pw@pro.ip-api.com/?key=APIQUERYKEY",
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        let _ = daemon.ctl_with(&["logout"], Some(&token));
        daemon.stop();

        let mut captured = home.all_daemon_logs();
        for entry in journal.entries() {
            for (k, v) in entry {
                captured.push_str(&format!("\n{k}={v}"));
            }
        }
        for m in notify.messages() {
            captured.push('\n');
            captured.push_str(&m.text);
        }
        assert!(
            captured.contains("test hook: planted secret in a URL"),
            "{output}: the planted lines are missing"
        );
        assert!(
            captured.contains("test hook: planted token"),
            "{output}: trace line missing"
        );
        assert!(
            captured.contains("STATUS=test hook: planted https://***@"),
            "{output}"
        );
        for secret in [
            "planted-url-pw",
            "PLANTEDKEY1",
            "PLANTEDBEARER2",
            "planted password 3",
            "bgt_00112233445566778899aabbccddeeff",
            PASSWORD,
            token.as_str(),
            "list-secret-pw",
            "LISTQUERYKEY",
            base64_credentials,
            "api-secret-pw",
            "APIQUERYKEY",
        ] {
            assert!(
                !captured.contains(secret),
                "{output}: `{secret}` reached an output"
            );
        }
    }
}
