//! Blocklists into the kernel: a real fail2ban-server runs bangui's nftables
//! action in a private network namespace, and every state is checked
//! against `nft -j list table`, never against fail2ban's word.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;

use bangui_tests::fail2ban::{Fail2banConf, Fail2banServer};
use bangui_tests::lists::ListServer;
use bangui_tests::{Daemon, Home, describe, wait_for};
use ipnet::IpNet;

const JAIL: &str = "bangui-blocklist";

/// The four sets of a jail's table: addresses and networks, per family.
#[derive(Debug, Default, PartialEq, Eq)]
struct Kernel {
    a4: BTreeSet<String>,
    n4: BTreeSet<String>,
    a6: BTreeSet<String>,
    n6: BTreeSet<String>,
}

fn nft(args: &[&str]) -> String {
    let out = Command::new("nft")
        .args(args)
        .output()
        .expect("`nft` is missing: apt-get install nftables (scripts/test.sh does)");
    assert!(
        out.status.success(),
        "nft {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the kernel holds for `table`, read with `nft -j`.
fn kernel(table: &str) -> Kernel {
    let listed: serde_json::Value =
        serde_json::from_str(&nft(&["-j", "list", "table", "inet", table])).unwrap();
    let mut k = Kernel::default();
    for item in listed["nftables"].as_array().unwrap() {
        let Some(set) = item.get("set") else { continue };
        let elems: BTreeSet<String> = set["elem"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => format!(
                            "{}/{}",
                            other["prefix"]["addr"].as_str().unwrap(),
                            other["prefix"]["len"]
                        ),
                    })
                    .collect()
            })
            .unwrap_or_default();
        match set["name"].as_str().unwrap() {
            "a4" => k.a4 = elems,
            "n4" => k.n4 = elems,
            "a6" => k.a6 = elems,
            "n6" => k.n6 = elems,
            other => panic!("unexpected set {other}"),
        }
    }
    k
}

/// What one source bans of `listed`: entries no other entry holds (bangui
/// folds the rest into the network that holds them).
fn one_source<'a>(listed: &[&'a str]) -> Vec<&'a str> {
    let net = |t: &str| {
        t.parse::<IpNet>()
            .unwrap_or_else(|_| IpNet::from(t.parse::<std::net::IpAddr>().unwrap()))
    };
    let networks: Vec<IpNet> = listed
        .iter()
        .map(|t| net(t))
        .filter(|n| n.prefix_len() < n.max_prefix_len())
        .collect();
    listed
        .iter()
        .copied()
        .filter(|t| {
            let n = net(t);
            !networks.iter().any(|o| *o != n && o.contains(&n))
        })
        .collect()
}

/// What the kernel should hold when `listed` is banned: every address, and
/// the networks no other banned network contains.
fn expected(listed: &[&str]) -> Kernel {
    let nets: Vec<IpNet> = listed
        .iter()
        .map(|t| {
            t.parse::<IpNet>()
                .unwrap_or_else(|_| IpNet::from(t.parse::<std::net::IpAddr>().unwrap()))
        })
        .collect();
    let networks: Vec<&IpNet> = nets
        .iter()
        .filter(|n| n.prefix_len() != n.max_prefix_len())
        .collect();
    let mut k = Kernel::default();
    for n in &nets {
        let host = n.prefix_len() == n.max_prefix_len();
        let outermost = !networks.iter().any(|o| *o != n && o.contains(n));
        let text = if host {
            n.addr().to_string()
        } else {
            n.to_string()
        };
        match (n, host) {
            (IpNet::V4(_), true) => k.a4.insert(text),
            (IpNet::V4(_), false) if outermost => k.n4.insert(text),
            (IpNet::V6(_), true) => k.a6.insert(text),
            (IpNet::V6(_), false) if outermost => k.n6.insert(text),
            _ => false,
        };
    }
    k
}

/// Waits until the kernel holds `want` (the action applies changes a moment
/// after fail2ban acknowledges them).
fn settles(table: &str, want: &Kernel) {
    let mut last = Kernel::default();
    let settled = (0..200).any(|_| {
        last = kernel(table);
        if last == *want {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        false
    });
    assert!(settled, "the kernel holds\n{last:#?}\nwanted\n{want:#?}");
}

/// `fail2ban status JAIL` and `blocklist show` tell what the kernel holds,
/// as bangui's action counts it.
fn reports_the_kernel(daemon: &Daemon, want: &Kernel) {
    let out = daemon.ctl(&["--json", "fail2ban", "status", JAIL]);
    assert!(out.status.success(), "{}", describe(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &status["enforcement"];
    assert_eq!(e["actions"], serde_json::json!(["bangui-nftables"]), "{e}");
    assert_eq!(e["networks"], "held", "{e}");
    let k = &e["kernel"];
    let counts = [
        (k["addresses_v4"].as_u64(), want.a4.len()),
        (k["addresses_v6"].as_u64(), want.a6.len()),
        (k["networks_v4"].as_u64(), want.n4.len()),
        (k["networks_v6"].as_u64(), want.n6.len()),
    ];
    for (got, wanted) in counts {
        assert_eq!(got, Some(wanted as u64), "{k}");
    }
    assert_eq!(
        (k["pending"].as_u64(), k["errors"].as_u64()),
        (Some(0), Some(0)),
        "{k}"
    );
    let out = daemon.ctl(&["fail2ban", "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "kernel nftables table inet {JAIL}: {} IPv4",
            want.a4.len()
        )),
        "{text}"
    );
}

struct Rig {
    home: Home,
    conf: Fail2banConf,
    server: Option<Fail2banServer>,
    daemon: Option<Daemon>,
    lists: ListServer,
}

/// A daemon whose jails use bangui's nftables action, and fail2ban, in the
/// calling thread's (private) network namespace.
fn rig(fail2ban_keys: &str) -> Rig {
    rig_with(fail2ban_keys, |_| {})
}

/// [`rig`], with `prepare` run on fail2ban's configuration before it starts.
fn rig_with(fail2ban_keys: &str, prepare: impl FnOnce(&Fail2banConf)) -> Rig {
    rig_on("nftables", fail2ban_keys, prepare)
}

/// [`rig_with`] on one of bangui's firewall actions (`fail2ban.firewall`).
fn rig_on(firewall: &str, fail2ban_keys: &str, prepare: impl FnOnce(&Fail2banConf)) -> Rig {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    prepare(&conf);
    home.write_config(&format!(
        "{}\n[jobs.blocklist_import]\nenabled = false\n[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section_with_database(&format!("firewall = \"{firewall}\"\n{fail2ban_keys}"))
    ));
    let daemon = home.start();
    let server = conf.start();
    daemon.wait_fail2ban_up();
    Rig {
        home,
        conf,
        server: Some(server),
        daemon: Some(daemon),
        lists: ListServer::start(),
    }
}

impl Rig {
    fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().unwrap()
    }

    fn list(&self, name: &str, lines: &[&str]) {
        let body: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        self.lists.set_lines(&format!("{name}.txt"), &body);
    }

    fn add(&self, name: &str) {
        let url = self.lists.url(&format!("{name}.txt"));
        let out = self
            .daemon()
            .ctl(&["blocklist", "add", name, &url, "--local"]);
        assert!(out.status.success(), "{}", describe(&out));
    }

    fn run(&self, name: &str) -> serde_json::Value {
        let out = self
            .daemon()
            .ctl_long(&["--json", "blocklist", "run", name, "--wait"]);
        assert!(out.status.success(), "{}", describe(&out));
        let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        runs[0].clone()
    }
}

const FIRST: &[&str] = &[
    "45.33.32.156",
    "45.33.32.157",
    "45.33.33.7",
    "45.33.33.0/24",
    "45.33.33.128/25",
    "93.184.216.0/24",
    "2a01:4f8:c0c:1::7",
    "2a01:4f8:c0c:2::/64",
    "2a01:4f8:c0c:2:1::/80",
];

#[test]
fn listed_addresses_and_networks_reach_the_kernel_exactly() {
    bangui_tests::netns::run(&[], || {
        // An administrator's own table, which must stay as it is.
        nft(&["add", "table", "inet", "admin"]);
        nft(&[
            "add",
            "chain",
            "inet",
            "admin",
            "input",
            "{ type filter hook input priority 0; policy accept; }",
        ]);
        let admins = nft(&["list", "table", "inet", "admin"]);

        let r = rig("");
        r.list("first", FIRST);
        r.add("first");
        let run = r.run("first");
        assert_eq!(run["status"], "completed", "{run}");
        settles(JAIL, &expected(&one_source(FIRST)));
        reports_the_kernel(r.daemon(), &expected(&one_source(FIRST)));

        // Unchanged: nothing sent, the kernel as it was.
        let again = r.run("first");
        assert_eq!(again["to_ban"], 0, "{again}");
        settles(JAIL, &expected(&one_source(FIRST)));

        // A change: the /24 leaves (its /25 and address come back), an address joins.
        let changed: Vec<&str> = FIRST
            .iter()
            .copied()
            .filter(|t| *t != "45.33.33.0/24")
            .chain(["185.199.108.0/24", "45.33.32.200"])
            .collect();
        r.list("first", &changed);
        let run = r.run("first");
        assert_eq!(run["status"], "completed", "{run}");
        settles(JAIL, &expected(&one_source(&changed)));

        // A second source in the same jail covering the first's address.
        r.list("second", &["45.33.32.0/24"]);
        r.add("second");
        r.run("second");
        let both: Vec<&str> = one_source(&changed)
            .into_iter()
            .chain(["45.33.32.0/24"])
            .collect();
        settles(JAIL, &expected(&both));
        // Removing the network keeps the first source's addresses.
        let out = r
            .daemon()
            .ctl(&["blocklist", "remove", "second", "--unban"]);
        assert!(out.status.success(), "{}", describe(&out));
        settles(JAIL, &expected(&one_source(&changed)));

        // fail2ban restarted: its action starts anew and restores every ban.
        let mut r = r;
        r.server.take().unwrap().stop();
        r.server = Some(r.conf.start());
        settles(JAIL, &expected(&one_source(&changed)));
        // `fail2ban-client reload` (which bangui tells people to run) keeps
        // the running action and its table.
        r.conf.reload().unwrap();
        r.list("first", FIRST);
        r.run("first");
        settles(JAIL, &expected(&one_source(FIRST)));

        // Everything lifted with the source.
        let out = r.daemon().ctl(&["blocklist", "remove", "first", "--unban"]);
        assert!(out.status.success(), "{}", describe(&out));
        settles(JAIL, &Kernel::default());

        assert_eq!(
            nft(&["list", "table", "inet", "admin"]),
            admins,
            "the admin's table changed"
        );
        let _keep = &r.home;
    });
}

#[test]
fn bans_leave_the_kernel_when_their_time_is_up() {
    bangui_tests::netns::run(&[], || {
        let r = rig("blocklist_bantime = \"4s\"\n");
        r.list("short", FIRST);
        r.add("short");
        let run = r.run("short");
        assert_eq!(run["status"], "completed", "{run}");
        settles(JAIL, &expected(&one_source(FIRST)));
        // fail2ban lifts them when the jail's bantime is up; the sets follow.
        settles(JAIL, &Kernel::default());
    });
}

#[test]
fn a_daemon_killed_mid_import_ends_with_the_kernel_exact() {
    bangui_tests::netns::run(&[], || {
        // Small fixed batches make the ban phase long enough to kill it half-way.
        let mut r = rig("ban_chunk = 50\nban_request_time = 0\n");
        let mut list = bangui_tests::fail2ban::addresses(20_000);
        list.extend((0..500).map(|i| format!("12.{}.{}.0/24", i / 250, i % 250)));
        let listed: Vec<&str> = list.iter().map(String::as_str).collect();
        r.list("big", &listed);
        r.add("big");
        let mut ctl = r.daemon().spawn_ctl(&["blocklist", "run", "big", "--wait"]);
        wait_for("the ban phase to be under way", || {
            let runs = r.daemon().ctl_json(&["blocklist", "runs", "big"]);
            (runs[0]["banned"].as_u64().unwrap_or(0) >= 2_000).then_some(())
        });
        r.daemon.take().unwrap().kill();
        let _ = ctl.wait();
        let partly = kernel(JAIL);
        assert!(
            !partly.a4.is_empty() && partly.a4.len() < 20_000,
            "killed half-way: {} addresses in the kernel",
            partly.a4.len()
        );
        r.daemon = Some(r.home.start());
        let run = r.run("big");
        assert_eq!(run["status"], "completed", "{run}");
        settles(JAIL, &expected(&one_source(&listed)));
    });
}

#[test]
fn jails_on_stock_actions_that_lose_networks_get_them_refused_with_the_reason() {
    bangui_tests::netns::run(&[], || {
        let r = rig_with("", |conf| {
            conf.add_stock_nftables_actions();
            conf.add_stock_ipset_actions();
            conf.add_jail("stock-nft", "action = nftables-allports\nbantime = 1d");
            conf.add_jail(
                "stock-ipset",
                "action = iptables-ipset-proto6-allports\nbantime = 1d",
            );
        });
        // fail2ban 1.0.2's ipset action keeps `hash:ip` sets: networks refused too.
        let out = r
            .daemon()
            .ctl(&["--json", "ban", "45.33.50.0/24", "--jail", "stock-ipset"]);
        assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["refused"][0]["reason"], "action-cannot-hold-networks",
            "{report}"
        );
        let detail = report["refused"][0]["detail"].as_str().unwrap();
        assert!(detail.contains("hash:ip"), "{detail}");
        let out = r.daemon().ctl(&[
            "--json",
            "ban",
            "45.33.32.0/24",
            "45.33.32.9",
            "--jail",
            "stock-nft",
        ]);
        // Some refused: exit 8, with the reason, not a silent success.
        assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["refused"][0]["target"], "45.33.32.0/24", "{report}");
        assert_eq!(
            report["refused"][0]["reason"], "action-cannot-hold-networks",
            "{report}"
        );
        let detail = report["refused"][0]["detail"].as_str().unwrap();
        assert!(detail.contains("flags interval"), "{detail}");
        // status and plan say so before anything is sent.
        let out = r
            .daemon()
            .ctl(&["--json", "fail2ban", "status", "stock-nft"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let e = &status["enforcement"];
        assert_eq!(e["networks"], "lost", "{e}");
        assert!(
            e["detail"].as_str().unwrap().contains("nftables-allports"),
            "{e}"
        );
        r.list("stock", &["45.33.40.0/24", "45.33.41.1"]);
        let url = r.lists.url("stock.txt");
        let out = r.daemon().ctl(&[
            "blocklist",
            "add",
            "stock",
            &url,
            "--local",
            "--jail",
            "stock-nft",
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        let out = r.daemon().ctl(&["blocklist", "plan", "stock"]);
        let plan = String::from_utf8_lossy(&out.stdout);
        assert!(plan.contains("NETWORKS LOST"), "{plan}");
        assert!(
            plan.contains("refused action-cannot-hold-networks: 1"),
            "{plan}"
        );
        let out = r.daemon().ctl(&["fail2ban", "status"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.lines()
                .any(|l| l.contains("enforce stock-nft") && l.contains("NETWORKS LOST")),
            "{text}"
        );
        // The address reached the stock action's set; the network was never sent.
        wait_for("the stock set to hold the address", || {
            let out = Command::new("nft")
                .args([
                    "-j",
                    "list",
                    "set",
                    "inet",
                    "f2b-table",
                    "addr-set-stock-nft",
                ])
                .output()
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            let set = v["nftables"]
                .as_array()?
                .iter()
                .find_map(|i| i.get("set"))?
                .clone();
            (set["elem"] == serde_json::json!(["45.33.32.9"])).then_some(())
        });
        // bangui's own jail, on its own action, takes networks.
        let out = r.daemon().ctl(&["ban", "45.33.34.0/24"]);
        assert!(out.status.success(), "{}", describe(&out));
        let mut want = Kernel::default();
        want.n4.insert("45.33.34.0/24".into());
        settles("bangui-manual", &want);
    });
}

/// What an ipset set holds, from `ipset save`; `None` while it does not
/// exist (the action makes its sets anew when fail2ban starts it).
fn ipset(set: &str) -> Option<BTreeSet<String>> {
    let out = Command::new("ipset")
        .args(["save", set])
        .output()
        .expect("`ipset` is missing: apt-get install ipset (scripts/test.sh does)");
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(why.contains("does not exist"), "ipset save {set}: {why}");
        return None;
    }
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("add {set} ")).map(str::to_string))
            .collect(),
    )
}

fn ipset_maxelem(set: &str) -> u64 {
    let out = Command::new("ipset").args(["save", set]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let words: Vec<&str> = text.lines().next().unwrap_or("").split(' ').collect();
    let at = words.iter().position(|w| *w == "maxelem").unwrap();
    words[at + 1].parse().unwrap()
}

/// Waits until each family's set holds exactly what `listed` names, in
/// ipset's spelling (an address without /32 or /128).
fn ipset_settles(listed: &[&str]) {
    let want = |v6: bool| -> BTreeSet<String> {
        listed
            .iter()
            .filter(|t| t.contains(':') == v6)
            .map(|t| t.to_string())
            .collect()
    };
    let mut last = (None, None);
    let settled = (0..200).any(|_| {
        last = (ipset(&format!("{JAIL}-4")), ipset(&format!("{JAIL}-6")));
        if last == (Some(want(false)), Some(want(true))) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        false
    });
    assert!(settled, "ipset holds {last:#?}, wanted {listed:?}");
}

#[test]
fn without_nft_the_ipset_action_holds_networks_and_grows_its_sets() {
    bangui_tests::netns::run(&[], || {
        // The administrator took the jail file over to start with tiny sets,
        // so that growing them shows in a small test.
        let r = rig_on("ipset", "", |conf| {
            conf.add_jail(
                JAIL,
                &format!(
                    "maxretry = 1\nbantime = 1d\naction = bangui-ipset.py[set={JAIL}, maxelem=4]"
                ),
            );
        });
        // More IPv4 entries than the sets first hold.
        let more: Vec<&str> = FIRST
            .iter()
            .copied()
            .chain(["45.33.90.1", "45.33.90.2", "45.33.90.3", "45.33.90.4"])
            .collect();
        r.list("first", &more);
        r.add("first");
        let run = r.run("first");
        assert_eq!(run["status"], "completed", "{run}");
        ipset_settles(&one_source(&more));
        assert!(
            ipset_maxelem(&format!("{JAIL}-4")) >= 16,
            "the IPv4 set did not grow"
        );
        let out = Command::new("iptables")
            .args(["-w", "-S", JAIL])
            .output()
            .unwrap();
        let rules = String::from_utf8_lossy(&out.stdout);
        assert!(
            rules.contains(&format!("--match-set {JAIL}-4 src -j DROP")),
            "{rules}"
        );
        let out = Command::new("iptables")
            .args(["-w", "-S", "INPUT"])
            .output()
            .unwrap();
        let input = String::from_utf8_lossy(&out.stdout);
        assert!(input.contains(&format!("-A INPUT -j {JAIL}")), "{input}");

        let out = r.daemon().ctl(&["--json", "fail2ban", "status", JAIL]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let e = &status["enforcement"];
        assert_eq!(e["networks"], "held", "{e}");
        assert_eq!(e["kernel"]["networks_v4"], 2, "{e}");
        assert_eq!(e["kernel"]["addresses_v6"], 1, "{e}");

        // Lifting the /24 keeps the address and the /25 inside it.
        let changed: Vec<&str> = FIRST
            .iter()
            .copied()
            .filter(|t| *t != "45.33.33.0/24")
            .collect();
        r.list("first", &changed);
        r.run("first");
        ipset_settles(&one_source(&changed));

        // fail2ban restarted: the sets are made anew and every ban restored.
        let mut r = r;
        r.server.take().unwrap().stop();
        let out = Command::new("iptables")
            .args(["-w", "-S", "INPUT"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(JAIL),
            "the jump stayed after fail2ban stopped"
        );
        r.server = Some(r.conf.start());
        ipset_settles(&one_source(&changed));
        r.conf.reload().unwrap();
        r.list("first", FIRST);
        r.run("first");
        ipset_settles(&one_source(FIRST));

        let out = r.daemon().ctl(&["blocklist", "remove", "first", "--unban"]);
        assert!(out.status.success(), "{}", describe(&out));
        ipset_settles(&[]);
    });
}
