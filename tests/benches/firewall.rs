//! Blocklists into the kernel, in a private network namespace with a real
//! fail2ban-server and real nftables: a 100,000-entry list (addresses and
//! 10 % networks, IPv4 and IPv6) imported end to end until `nft` holds all
//! of it, an unchanged re-run and a 1 % change, through bangui's own action;
//! beside it, fail2ban's stock `nftables-allports` action (one `nft` process
//! per address) on a sample, extrapolated. Prints figures; asserts only that
//! the kernel ends up holding what was listed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::{Duration, Instant};

use bangui_tests::fail2ban::Fail2banConf;
use bangui_tests::lists::ListServer;
use bangui_tests::{Home, describe};

const ENTRIES: usize = 100_000;
const STOCK_SAMPLE: usize = 300;

/// Elements in a set of a table (`nft -j`).
fn elements(table: &str, set: &str) -> usize {
    let out = Command::new("nft")
        .args(["-j", "list", "set", "inet", table, set])
        .output()
        .expect("`nft` is missing: apt-get install nftables");
    if !out.status.success() {
        return 0;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.get("set"))
        .map(|s| s["elem"].as_array().map_or(0, Vec::len))
        .sum()
}

/// The IPv4 addresses set of a table.
fn addresses(table: &str) -> std::collections::HashSet<String> {
    let out = Command::new("nft")
        .args(["-j", "list", "set", "inet", table, "a4"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("set"))
        .flat_map(|s| s["elem"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

/// Seconds until the jail's four sets hold `total` elements. The action's
/// own count (one cheap request, through `fail2ban status`) says when its
/// last transaction has returned; `nft` then confirms it once. Listing
/// 100,000 elements with `nft -j` every few milliseconds would itself load
/// the two cores being measured.
fn until_held(daemon: &bangui_tests::Daemon, table: &str, total: usize, started: Instant) -> f64 {
    loop {
        let kernel = kernel_counts(daemon, table);
        let count = |k: &str| kernel[k].as_u64().unwrap_or(0) as usize;
        let held = count("addresses_v4")
            + count("addresses_v6")
            + count("networks_v4")
            + count("networks_v6");
        if held == total && kernel["pending"] == 0 {
            let at = started.elapsed().as_secs_f64();
            let in_nft: usize = ["a4", "n4", "a6", "n6"]
                .iter()
                .map(|s| elements(table, s))
                .sum();
            assert_eq!(
                in_nft, total,
                "the action counted {held}, nft lists {in_nft}"
            );
            return at;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{held} of {total}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What bangui's action says the kernel holds for `table`.
fn kernel_counts(daemon: &bangui_tests::Daemon, table: &str) -> serde_json::Value {
    let out = daemon.ctl(&["--json", "fail2ban", "status"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["enforcement"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["jail"] == table)
        .map(|e| e["kernel"].clone())
        .unwrap_or_default()
}

/// CPU seconds a process has used (user and system), from /proc.
fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    (ticks(11) + ticks(12)) / hz
}

/// What fail2ban and bangui each spent since `before`.
fn spent(before: (f64, f64), f2b: u32, bangui: u32) -> String {
    format!(
        "CPU: fail2ban {:.1} s, bangui {:.1} s",
        cpu(f2b) - before.0,
        cpu(bangui) - before.1
    )
}

/// The list: addresses in 11.0.0.0/8 and 2a01:4f8::/32, and one network in
/// ten (/24 in 12.0.0.0/8, /64 in 2a01:4f9::/32), none inside another.
fn list(n: usize, salt: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let j = i + salt;
            match i % 10 {
                0 => format!("12.{}.{}.0/24", (j / 256) % 256, j % 256),
                1 => format!("2a01:4f9:{:x}:{:x}::/64", j / 65536, j % 65536),
                2 | 3 => format!("2a01:4f8::{:x}:{:x}", j / 65536, j % 65536),
                _ => format!(
                    "11.{}.{}.{}",
                    (j / 62_500) % 250,
                    (j / 250) % 250,
                    j % 250 + 1
                ),
            }
        })
        .collect()
}

fn main() {
    bangui_tests::netns::run(&[], run);
}

fn run() {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    conf.add_stock_nftables_actions();
    conf.add_jail("stock-nft", "action = nftables-allports\nbantime = 1d");
    conf.add_jail("no-op", "action = bangui-noop\nbantime = 1d");
    home.write_config(&format!(
        "{}\n[jobs.blocklist_import]\nenabled = false\n[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section_with_database("firewall = \"nftables\"\n")
    ));
    let daemon = home.start();
    let server = conf.start();
    daemon.wait_fail2ban_up();
    println!(
        "blocklist into the kernel: {ENTRIES} entries (10 % networks, 30 % IPv6), fail2ban 1.0.2, nftables, 2 cores"
    );

    // fail2ban's stock action: one `nft` process per address.
    let sample: Vec<String> = (0..STOCK_SAMPLE)
        .map(|i| format!("13.{}.{}.{}", i / 62_500, (i / 250) % 250, i % 250 + 1))
        .collect();
    let started = Instant::now();
    // Without the harness's deadline: the stock action is that slow.
    let mut ctl = Command::new(bangui_tests::bin("bangui-ctl"))
        .arg("--socket")
        .arg(home.socket())
        .args(["ban", "-", "--jail", "stock-nft"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        ctl.stdin
            .take()
            .unwrap()
            .write_all(sample.join("\n").as_bytes())
            .unwrap();
    }
    assert!(ctl.wait().unwrap().success());
    let stock = loop {
        if elements("f2b-table", "addr-set-stock-nft") == STOCK_SAMPLE {
            break started.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    println!(
        "fail2ban's stock nftables-allports action: {STOCK_SAMPLE} addresses in {stock:.1} s = {:.1} ms an address; {ENTRIES} would take about {:.0} s",
        stock * 1e3 / STOCK_SAMPLE as f64,
        stock / STOCK_SAMPLE as f64 * ENTRIES as f64
    );

    let lists = ListServer::start();
    let first = list(ENTRIES, 0);
    lists.set_lines("big.txt", &first);
    let out = daemon.ctl(&["blocklist", "add", "big", &lists.url("big.txt"), "--local"]);
    assert!(out.status.success(), "{}", describe(&out));
    let table = "bangui-blocklist";

    // fail2ban's own pace for this list, with an action that does nothing.
    let out = daemon.ctl(&[
        "blocklist",
        "add",
        "same",
        &lists.url("big.txt"),
        "--local",
        "--jail",
        "no-op",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let (f2b, own) = (server.pid(), daemon.pid());
    let before = (cpu(f2b), cpu(own));
    let started = Instant::now();
    let out = daemon.ctl_long(&["blocklist", "run", "same", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    println!(
        "the same list into a jail whose action does nothing: {:.1} s (fail2ban's own pace); {}",
        started.elapsed().as_secs_f64(),
        spent(before, f2b, own)
    );

    // fail2ban writes bans to its database in a thread of its own, long
    // after it acknowledged them: the next import would compete with that.
    while server.stored_bans("no-op").0 < ENTRIES as i64 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let before = (cpu(f2b), cpu(own));
    let started = Instant::now();
    let out = daemon.ctl_long(&["blocklist", "run", "big", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    let acknowledged = started.elapsed().as_secs_f64();
    let held = until_held(&daemon, table, ENTRIES, started);
    println!(
        "bangui's action, full import: fail2ban acknowledged in {acknowledged:.1} s, the kernel held all {ENTRIES} after {held:.1} s (target ≤ 10 s); {}",
        spent(before, f2b, own)
    );

    let started = Instant::now();
    let out = daemon.ctl_long(&["blocklist", "run", "big", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    println!(
        "unchanged re-run: {:.2} s, nothing sent",
        started.elapsed().as_secs_f64()
    );

    // Unbans wait until fail2ban has stored the ban; let it catch up first.
    let started = Instant::now();
    while server.stored_bans(table).0 < ENTRIES as i64 {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "(fail2ban stored the bans {:.1} s later)",
        started.elapsed().as_secs_f64()
    );

    // 1 %: 1,000 entries leave, 1,000 new ones join.
    let mut changed = first[1_000..].to_vec();
    changed.extend(list(1_000, 10 * ENTRIES));
    lists.set_lines("big.txt", &changed);
    let started = Instant::now();
    let out = daemon.ctl_long(&["blocklist", "run", "big", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    let acknowledged = started.elapsed().as_secs_f64();
    // fail2ban called the action for every change before it acknowledged;
    // done when the action has nothing left to apply.
    while kernel_counts(&daemon, table)["pending"] != 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let followed = started.elapsed().as_secs_f64();
    let (gone, joined) = (first[4].clone(), changed[changed.len() - 1_000 + 4].clone());
    let held = addresses(table);
    assert!(
        !held.contains(&gone) && held.contains(&joined),
        "the kernel did not follow"
    );
    println!(
        "1 % changed: fail2ban acknowledged in {acknowledged:.2} s, the kernel followed after {followed:.2} s (target ≤ 1 s)"
    );
}
