//! Networks as first-class citizens: an address inside a banned network is
//! banned, and `banned`, `explain` and `history ip` say by which network,
//! in which jail and listed by which source; networks get the place of their
//! first address. A real fail2ban-server, a list served over loopback, a
//! MaxMind file written here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bangui_tests::fail2ban::Fail2banConf;
use bangui_tests::geo::write_country_db;
use bangui_tests::lists::ListServer;
use bangui_tests::{Home, describe, wait_for};
use serde_json::Value;

const DROP: &str = r#"{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}
{"cidr":"2a06:b440::/29","sblid":"SBL517351","rir":"ripencc"}
{"type":"metadata","timestamp":1764547200,"size":2,"records":2}
"#;

#[test]
fn addresses_inside_banned_networks_are_banned_and_explained() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    let country = home.path().join("Country.mmdb");
    write_country_db(
        &country,
        &[
            ("1.10.0.0/16", "CN", "China"),
            ("2a06::/16", "NL", "Netherlands"),
        ],
    );
    home.write_config(&format!(
        "{}\n[jobs.blocklist_import]\nenabled = false\n[jobs.health_check]\ninterval = \"1s\"\n\
         [geo]\noffline = true\nmaxmind_db = {:?}\nmaxmind_asn_db = \"\"\n",
        conf.daemon_section_with_database(""),
        country.display().to_string()
    ));
    let daemon = home.start();
    let server = conf.start();
    daemon.wait_fail2ban_up();
    let lists = ListServer::start();
    lists.set_lines(
        "drop.json",
        &DROP.lines().map(str::to_string).collect::<Vec<_>>(),
    );
    let out = daemon.ctl(&[
        "blocklist",
        "add",
        "spamhaus",
        &lists.url("drop.json"),
        "--local",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let run = daemon.ctl_long(&["--json", "blocklist", "run", "spamhaus", "--wait"]);
    assert!(run.status.success(), "{}", describe(&run));

    // `banned`: by containment, naming the network, the jail and the source.
    let out = daemon.ctl(&["banned", "1.10.16.5", "2a06:b441::9"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "1.10.16.5 is banned in bangui-blocklist by 1.10.16.0/20 (listed by spamhaus)"
        ),
        "{text}"
    );
    assert!(
        text.contains("2a06:b441::9 is banned in bangui-blocklist by 2a06:b440::/29"),
        "{text}"
    );
    let out = daemon.ctl(&["banned", "1.10.32.1"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let answers: Value = daemon.ctl_json(&["banned", "1.10.16.5"]);
    assert_eq!(answers[0]["jails"], serde_json::json!([]), "{answers}");
    assert_eq!(
        answers[0]["networks"][0]["network"], "1.10.16.0/20",
        "{answers}"
    );

    // `explain`: the ban by the network, the listing and since when, the place.
    let e: Value = daemon.ctl_json(&["explain", "1.10.16.5"]);
    assert_eq!(e["bans"][0]["jail"], "bangui-blocklist", "{e}");
    assert_eq!(e["bans"][0]["banned"], "1.10.16.0/20", "{e}");
    assert_eq!(e["listings"][0]["source"], "spamhaus", "{e}");
    assert_eq!(e["listings"][0]["entry"], "1.10.16.0/20", "{e}");
    assert!(e["listings"][0]["since"].as_i64().unwrap() > 0, "{e}");
    assert_eq!(e["refused"], Value::Null, "{e}");
    assert_eq!(e["geo"]["country_code"], "CN", "{e}");
    let out = daemon.ctl(&["explain", "10.1.2.3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("10.1.2.3 is not banned in any jail"),
        "{text}"
    );
    assert!(text.contains("bangui would not ban it"), "{text}");
    assert!(text.contains("(private)"), "{text}");
    // Within one source, an address inside a listed network is folded into it:
    // counted, not sent, and still found by the network.
    lists.set_lines(
        "mixed.txt",
        &["45.33.80.0/24", "45.33.80.7", "45.33.81.1"].map(String::from),
    );
    let out = daemon.ctl(&[
        "blocklist",
        "add",
        "mixed",
        &lists.url("mixed.txt"),
        "--local",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = daemon.ctl_long(&["--json", "blocklist", "run", "mixed", "--wait"]);
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (run[0]["folded"].as_u64(), run[0]["to_ban"].as_u64()),
        (Some(1), Some(2)),
        "{run}"
    );
    let banned = server.banned("bangui-blocklist");
    assert!(banned.contains(&"45.33.80.0/24".to_string()), "{banned:?}");
    assert!(!banned.contains(&"45.33.80.7".to_string()), "{banned:?}");
    let out = daemon.ctl(&["banned", "45.33.80.7"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("by 45.33.80.0/24 (listed by mixed)"),
        "{text}"
    );
    let out = daemon.ctl(&["blocklist", "show", "mixed"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 inside listed networks"), "{text}");

    let out = daemon.ctl(&["explain", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));

    // `history ip` takes networks, and finds the network that holds an address.
    let out = daemon.ctl(&["history", "ip", "1.10.16.0/20"]);
    assert!(out.status.success(), "{}", describe(&out));
    let h: Value = daemon.ctl_json(&["history", "ip", "1.10.16.5"]);
    assert_eq!(h["covering"][0]["network"], "1.10.16.0/20", "{h}");
    assert_eq!(
        h["covering"][0]["sources"],
        serde_json::json!(["spamhaus"]),
        "{h}"
    );
    // A network's place is its first address's, said so.
    wait_for("the network's place", || {
        let h: Value = daemon.ctl_json(&["history", "ip", "2a06:b440::/29"]);
        (h["geo"]["country_code"] == "NL").then_some(h)
    });
    let out = daemon.ctl(&["history", "ip", "2a06:b440::/29"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(of the network's first address)"), "{text}");
    let g: Value = daemon.ctl_json(&["geo", "lookup", "1.10.16.0/20"]);
    assert_eq!(g[0]["country_code"], "CN", "{g}");

    // Once archived, the networks count under their place, not "unknown".
    let out = daemon.ctl(&["--json", "jobs", "run", "history_sync", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    let top: Value = daemon.ctl_json(&["history", "top", "--by", "country"]);
    let keys: Vec<&str> = top["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap_or("?"))
        .collect();
    assert!(keys.contains(&"CN") && keys.contains(&"NL"), "{top}");
}

/// An import that stored a network, and folded an address inside it, meets
/// an allowlist that now refuses the network while the list host answers
/// 304: the address must still be banned, so the list is read again whole.
#[test]
fn a_folded_address_is_banned_when_its_network_becomes_refused() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    let config = |allow: &str| {
        format!(
            "{}\n[jobs.blocklist_import]\nenabled = false\n[jobs.health_check]\ninterval = \"1s\"\n[allowlist]\nnetworks = [{allow}]\n",
            conf.daemon_section()
        )
    };
    home.write_config(&config(""));
    let daemon = home.start();
    let server = conf.start();
    daemon.wait_fail2ban_up();
    let lists = ListServer::start();
    lists.set_lines("l.txt", &["45.33.90.0/24", "45.33.90.5"].map(String::from));
    let out = daemon.ctl(&["blocklist", "add", "l", &lists.url("l.txt"), "--local"]);
    assert!(out.status.success(), "{}", describe(&out));
    let run = |daemon: &bangui_tests::Daemon| -> Value {
        let out = daemon.ctl_long(&["--json", "blocklist", "run", "l", "--wait"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone()
    };
    assert_eq!(run(&daemon)["folded"], 1);
    assert_eq!(server.banned("bangui-blocklist"), ["45.33.90.0/24"]);

    home.write_config(&config("\"45.33.90.128/25\""));
    daemon.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for("the new allowlist", || {
        let v = daemon.ctl_json(&["config", "show", "allowlist.networks"]);
        v["entries"][0]["value"]
            .as_str()
            .is_some_and(|s| s.contains("45.33.90.128/25"))
            .then_some(())
    });
    let requests = lists.requests("l.txt");
    let r = run(&daemon);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(
        lists.requests("l.txt"),
        requests + 2,
        "a 304, then the whole list"
    );
    assert_eq!(server.banned("bangui-blocklist"), ["45.33.90.5"], "{r}");
}
