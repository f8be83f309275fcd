//! Lists as their publishers ship them, written here in each published
//! format (nothing is downloaded): Spamhaus's DROP as NDJSON and as text,
//! P2P ranges gzip-compressed and served without Content-Encoding, plain
//! ranges in a zip archive, and stamparm's scored ipsum. Imported into a real
//! fail2ban-server, and checked against what fail2ban bans.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::Write;

use bangui_tests::fail2ban::{Fail2banConf, Fail2banServer};
use bangui_tests::lists::{ListServer, Serve};
use bangui_tests::{Daemon, Home, describe};
use serde_json::Value;

const JAIL: &str = "bangui-blocklist";

struct Rig {
    _home: Home,
    server: Fail2banServer,
    daemon: Daemon,
    lists: ListServer,
}

fn rig(blocklist_keys: &str) -> Rig {
    let home = Home::new();
    let conf = Fail2banConf::new(&home);
    home.write_config(&format!(
        "{}\n[blocklist]\n{blocklist_keys}\n[jobs.blocklist_import]\nenabled = false\n[jobs.health_check]\ninterval = \"1s\"\n",
        conf.daemon_section()
    ));
    let daemon = home.start();
    let server = conf.start();
    daemon.wait_fail2ban_up();
    Rig {
        _home: home,
        server,
        daemon,
        lists: ListServer::start(),
    }
}

impl Rig {
    fn serve(&self, path: &str, body: Vec<u8>) {
        self.lists.set(
            path,
            Serve::Text {
                body,
                etag: false,
                gzip: false,
            },
        );
    }

    fn add(&self, name: &str, path: &str, options: &[&str]) {
        let url = self.lists.url(path);
        let mut args = vec!["blocklist", "add", name, url.as_str(), "--local"];
        args.extend_from_slice(options);
        let out = self.daemon.ctl(&args);
        assert!(out.status.success(), "{}", describe(&out));
    }

    fn run(&self, name: &str) -> Value {
        let out = self
            .daemon
            .ctl(&["--json", "blocklist", "run", name, "--wait"]);
        let runs: Vec<Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)));
        runs.into_iter().next().unwrap()
    }

    fn banned(&self) -> BTreeSet<String> {
        self.server.banned(JAIL).into_iter().collect()
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn zipped(name: &str, text: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Spamhaus drop_v4.json and drop_v6.json: a record a line, metadata last.
const DROP_V4_JSON: &str = r#"{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}
{"cidr":"1.19.0.0/16","sblid":"SBL434604","rir":"apnic"}
{"type":"metadata","timestamp":1764547200,"size":2,"records":2,"copyright":"(c) 2026 The Spamhaus Project SLU","terms":"https://www.spamhaus.org/drop/terms/"}
"#;
const DROP_V6_JSON: &str = r#"{"cidr":"2a06:b440::/29","sblid":"SBL517351","rir":"ripencc"}
{"cidr":"2a0f:ca80::/29","sblid":"SBL588130","rir":"ripencc"}
{"type":"metadata","timestamp":1764547200,"size":2,"records":2,"copyright":"(c) 2026 The Spamhaus Project SLU","terms":"https://www.spamhaus.org/drop/terms/"}
"#;
/// DROPv6 as text, with Spamhaus's header and CRLF.
const DROP_V6_TEXT: &str = "; Spamhaus DROPv6 List 2026/12/01 - (c) 2026 The Spamhaus Project SLU\r\n\
    ; Last-Modified: Mon, 01 Dec 2026 00:00:00 GMT\r\n\
    2a07:7e80::/30 ; SBL600001\r\n\
    2a0d:2a00::/31 ; SBL600002\r\n";
/// P2P: `label:first-last`, labels with spaces and colons.
const P2P: &str = "# P2P list\n\
    Bad Hosting, Inc.:45.33.40.0-45.33.40.255\n\
    Proxy: open:45.33.41.8-45.33.41.11\n\
    v6 range:2a01:4f8:c0c:10::-2a01:4f8:c0c:10::ffff\n";
/// Plain ranges, as some firewall vendors export them.
const RANGES: &str = "45.33.50.1-45.33.50.6\n45.33.51.0 - 45.33.51.127\n";
/// ipsum: address, then how many lists it is on.
const IPSUM: &str = "# IPsum Threat Intelligence Feed\n\
    # (https://github.com/stamparm/ipsum)\n\
    45.33.60.1\t9\n\
    45.33.60.2\t3\n\
    45.33.60.3\t2\n\
    45.33.60.4\t1\n";

#[test]
fn every_published_format_bans_exactly_what_it_lists() {
    let r = rig("");
    r.serve("drop_v4.json", DROP_V4_JSON.into());
    r.serve("drop_v6.json", DROP_V6_JSON.into());
    r.serve("dropv6.txt", DROP_V6_TEXT.into());
    // A .gz file served as it lies on disk: no Content-Encoding.
    r.serve("p2p.gz", gzip(P2P));
    r.serve("ranges.zip", zipped("ranges.txt", RANGES));
    r.serve("ipsum.txt", IPSUM.into());
    r.add("spamhaus-v4", "drop_v4.json", &[]);
    r.add("spamhaus-v6", "drop_v6.json", &[]);
    r.add("dropv6", "dropv6.txt", &[]);
    r.add("p2p", "p2p.gz", &[]);
    r.add("ranges", "ranges.zip", &[]);
    r.add("ipsum", "ipsum.txt", &["--min-score", "3"]);

    let plan = r.daemon.ctl(&["--json", "blocklist", "plan", "p2p"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["to_ban"], 3, "{plan}");

    let mut wanted = BTreeSet::new();
    for (source, entries) in [
        ("spamhaus-v4", vec!["1.10.16.0/20", "1.19.0.0/16"]),
        ("spamhaus-v6", vec!["2a06:b440::/29", "2a0f:ca80::/29"]),
        ("dropv6", vec!["2a07:7e80::/30", "2a0d:2a00::/31"]),
        (
            "p2p",
            vec!["45.33.40.0/24", "45.33.41.8/30", "2a01:4f8:c0c:10::/112"],
        ),
        (
            "ranges",
            vec![
                "45.33.50.1",
                "45.33.50.2/31",
                "45.33.50.4/31",
                "45.33.50.6",
                "45.33.51.0/25",
            ],
        ),
        ("ipsum", vec!["45.33.60.1", "45.33.60.2"]),
    ] {
        let run = r.run(source);
        assert_eq!(run["status"], "completed", "{source}: {run}");
        assert_eq!(run["invalid"], 0, "{source}: {run}");
        assert_eq!(run["entries"], entries.len(), "{source}: {run}");
        wanted.extend(entries.iter().map(|e| e.to_string()));
        assert_eq!(r.banned(), wanted, "after {source}");
    }
    let ipsum = r.run("ipsum");
    assert_eq!(ipsum["status"], "unchanged", "{ipsum}");
    assert_eq!(ipsum["below_score"], 2, "{ipsum}");
    let out = r.daemon.ctl(&["blocklist", "show", "ipsum"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("score at least 3"), "{text}");
    assert!(text.contains("2 below the score"), "{text}");
}

#[test]
fn broken_or_oversized_archives_fail_the_run_and_change_nothing() {
    let r = rig("max_body = 20000\n");
    let first = "45.33.70.1\n45.33.70.2\n";
    r.serve("list.gz", gzip(first));
    r.add("packed", "list.gz", &[]);
    assert_eq!(r.run("packed")["status"], "completed");
    let before = r.banned();
    assert_eq!(before, set(&["45.33.70.1", "45.33.70.2"]));

    // Cut off half-way, as an interrupted mirror sync leaves it.
    let mut cut = gzip(&"45.33.71.1\n".repeat(2000));
    cut.truncate(cut.len() / 2);
    r.serve("list.gz", cut);
    let run = r.run("packed");
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("gzip-compressed"), "{error}");
    assert_eq!(r.banned(), before);

    // A few hundred bytes that unpack past max_body.
    let bomb = gzip(&"# padding padding padding\n".repeat(10_000));
    assert!(bomb.len() < 20_000);
    r.serve("list.gz", bomb);
    let run = r.run("packed");
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("once decompressed"), "{error}");
    assert_eq!(r.banned(), before);

    // A zip of two lists is ambiguous: refused, not guessed at.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in ["a.txt", "b.txt"] {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"45.33.72.1\n").unwrap();
    }
    r.serve("list.gz", w.finish().unwrap().into_inner());
    let run = r.run("packed");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains("holds 2 files"), "{run}");
    assert_eq!(r.banned(), before);

    // Floors broader than bangui ever bans are refused at add, with the range.
    let out = r.daemon.ctl(&[
        "blocklist",
        "add",
        "wide",
        &r.lists.url("list.gz"),
        "--local",
        "--min-prefix-v6",
        "8",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("from 16 to 128"), "{text}");
}
