//! A hostile list host against the root daemon: it cannot steer downloads to
//! internal services, and what a source's URL hides stays hidden.
//!
//! Each test runs in a private network namespace where 93.184.216.34 stands
//! in for a public list host, next to an "internal" service on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::fail2ban::Fail2banConf;
use bangui_tests::lists::{ListServer, Serve};
use bangui_tests::{Home, describe, stderr};

const PUBLIC: &str = "93.184.216.34";

/// `blocklist run NAME --wait` as JSON: exit code and the run record.
fn run(daemon: &bangui_tests::Daemon, name: &str) -> (Option<i32>, serde_json::Value) {
    let out = daemon.ctl(&["--json", "blocklist", "run", name, "--wait"]);
    let runs: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    (out.status.code(), runs[0].clone())
}

fn error_of(r: &serde_json::Value) -> &str {
    r["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {r}"))
}

#[test]
fn downloads_reach_internal_addresses_only_from_sources_marked_local() {
    bangui_tests::netns::run(&[&format!("{PUBLIC}/32")], || {
        let home = Home::new();
        let conf = Fail2banConf::new(&home);
        home.write_config(&format!(
            "{}\n[jobs.blocklist_import]\nenabled = false\n",
            conf.daemon_section()
        ));
        let daemon = home.start();
        let _server = conf.start();
        // What an internal service would answer, shaped like a list so
        // that, if fetched, it would be banned and shown.
        let internal = ListServer::start();
        internal.set_lines(
            "secret",
            &["45.33.32.156".into(), "internal-token-0123".into()],
        );
        let public = ListServer::start_on(PUBLIC.parse().unwrap());
        public.set("steer.txt", Serve::Redirect(internal.url("secret")));
        public.set_lines("ok.txt", &["45.33.32.157".into()]);

        // An address written in the URL: refused when added, with the fix.
        let out = daemon.ctl(&["blocklist", "add", "direct", &internal.url("secret")]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let said = stderr(&out);
        assert!(
            said.contains("the URL names 127.0.0.1, a loopback address"),
            "{said}"
        );
        assert!(said.contains("--local"), "{said}");

        // A public host redirecting inside: the run fails at the redirect,
        // the internal service is never asked, nothing of it is kept.
        let out = daemon.ctl(&["blocklist", "add", "steered", &public.url("steer.txt")]);
        assert!(out.status.success(), "{}", describe(&out));
        let (code, r) = run(&daemon, "steered");
        assert_eq!(code, Some(7), "{r}");
        assert!(
            error_of(&r).contains("the list host redirected to 127.0.0.1, a loopback address"),
            "{r}"
        );
        assert_eq!(public.requests("steer.txt"), 1, "refused without retries");

        // A name that resolves inside: refused after resolution.
        let port = internal.addr.port();
        let named = format!("http://localhost:{port}/secret");
        let out = daemon.ctl(&["blocklist", "add", "named", &named]);
        assert!(out.status.success(), "{}", describe(&out));
        let (code, r) = run(&daemon, "named");
        assert_eq!(code, Some(7), "{r}");
        assert!(
            error_of(&r).contains("the list host localhost resolves to"),
            "{r}"
        );
        assert_eq!(
            internal.requests("secret"),
            0,
            "the internal service was reached"
        );
        let banned = daemon.ctl(&["banned", "45.33.32.156"]);
        assert_eq!(banned.status.code(), Some(1), "{}", describe(&banned));

        // A public host is downloaded from as ever.
        daemon.ctl(&["blocklist", "add", "ok", &public.url("ok.txt")]);
        let (code, r) = run(&daemon, "ok");
        assert_eq!(code, Some(0), "{r}");
        assert_eq!(r["banned"], 1, "{r}");

        // Marked local by an administrator, the same redirect is followed.
        let out = daemon.ctl(&[
            "blocklist",
            "add",
            "trusted",
            &public.url("steer.txt"),
            "--local",
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        let (code, r) = run(&daemon, "trusted");
        assert_eq!(code, Some(0), "{r}");
        assert_eq!(internal.requests("secret"), 1);
        let shown = daemon.ctl(&["blocklist", "show", "trusted"]);
        assert!(
            String::from_utf8_lossy(&shown.stdout).contains("reach       local"),
            "{}",
            describe(&shown)
        );
    });
}

#[test]
fn a_secret_url_path_is_never_shown_or_logged() {
    let home = Home::new();
    home.write_config("[jobs.blocklist_import]\nenabled = false\n");
    let daemon = home.start();
    let lists = ListServer::start();
    let key = "k3y-0f-the-subscriber";
    lists.set(&format!("{key}/drop.txt"), Serve::Status(404));
    let url = lists.url(&format!("{key}/drop.txt"));
    let out = daemon.ctl(&[
        "blocklist",
        "add",
        "keyed",
        &url,
        "--local",
        "--secret-path",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let (code, r) = run(&daemon, "keyed");
    assert_eq!(code, Some(7), "{r}");
    assert!(error_of(&r).contains("HTTP 404"), "{r}");
    assert_eq!(lists.requests(&format!("{key}/drop.txt")), 1);
    let mut seen = vec![r.to_string()];
    for args in [
        &["blocklist", "show", "keyed"][..],
        &["blocklist", "list"],
        &["--json", "blocklist", "list"],
        &["blocklist", "runs", "keyed"],
    ] {
        let out = daemon.ctl(args);
        assert!(out.status.success(), "{}", describe(&out));
        seen.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let shown = seen.join("\n");
    assert!(shown.contains("/***"), "{shown}");
    assert!(!shown.contains(key), "{shown}");
    let logs = home.all_daemon_logs();
    assert!(logs.contains("blocklist source added"), "{logs}");
    assert!(!logs.contains(key), "{logs}");
}
