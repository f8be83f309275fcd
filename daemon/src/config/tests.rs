use std::path::{Path, PathBuf};
use std::time::Duration;

use bangui_proto::paths::DefaultPaths;

use super::*;
use crate::scheduler::JobSpec;

fn defaults() -> DefaultPaths {
    DefaultPaths {
        config_file: PathBuf::from("/etc/bangui/bangui.toml"),
        state_dir: PathBuf::from("/var/lib/bangui"),
        socket: PathBuf::from("/run/bangui/bangui.sock"),
    }
}

fn jobs() -> Vec<JobSpec> {
    vec![JobSpec::new(
        "session_cleanup",
        Duration::from_secs(6 * 3600),
        Duration::from_secs(30),
    )]
}

fn parse(text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
    Config::from_toml(
        &defaults(),
        overrides,
        Path::new("/etc/bangui/bangui.toml"),
        text,
        &jobs(),
    )
}

#[test]
fn empty_file_gives_defaults() {
    let c = parse("", &Overrides::default()).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/bangui"));
    assert_eq!(c.socket, PathBuf::from("/run/bangui/bangui.sock"));
    assert_eq!(c.shutdown_grace, Duration::from_secs(10));
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.jobs, jobs());
}

#[test]
fn file_values_apply_and_overrides_win() {
    let text = r#"
        [daemon]
        state_dir = "/srv/bangui"
        socket = "/srv/bangui/s.sock"
        shutdown_grace = "30s"
        log_level = "debug"
        log_format = "json"

        [jobs.session_cleanup]
        interval = "1h"
        timeout = 5
        enabled = false
    "#;
    let c = parse(text, &Overrides::default()).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/srv/bangui"));
    assert_eq!(c.shutdown_grace, Duration::from_secs(30));
    assert_eq!(c.log_level, "debug");
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.jobs[0].interval, Duration::from_secs(3600));
    assert_eq!(c.jobs[0].timeout, Duration::from_secs(5));
    assert!(!c.jobs[0].enabled);

    let overrides = Overrides {
        state_dir: Some(PathBuf::from("/tmp/flag")),
        log_level: Some("warn".into()),
        ..Overrides::default()
    };
    let c = parse(text, &overrides).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/tmp/flag"));
    assert_eq!(c.log_level, "warn");
    assert_eq!(c.socket, PathBuf::from("/srv/bangui/s.sock"));
}

#[test]
fn unknown_keys_name_the_key_and_the_file() {
    let err = parse("[daemon]\nsokcet = \"/x\"\n", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("/etc/bangui/bangui.toml"), "{err}");
    assert!(err.contains("sokcet"), "{err}");

    let err = parse("[deamon]\n", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("deamon"), "{err}");

    let err = parse("[jobs.no_such_job]\ninterval = 5\n", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("jobs.no_such_job"), "{err}");
    assert!(err.contains("session_cleanup"), "{err}");
    assert!(err.contains("/etc/bangui/bangui.toml"), "{err}");

    let err = parse("[jobs.session_cleanup]\nevery = 5\n", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("every"), "{err}");
}

#[test]
fn bad_values_are_explained() {
    let cases = [
        ("[daemon]\nlog_format = \"xml\"\n", "log_format"),
        ("[daemon]\nstate_dir = \"relative\"\n", "absolute"),
        ("[daemon]\nshutdown_grace = \"soon\"\n", "not a duration"),
        (
            "[jobs.session_cleanup]\ninterval = 0\n",
            "jobs.session_cleanup.interval",
        ),
        ("[daemon]\nmax_connections = 0\n", "max_connections"),
        ("[daemon]\nlog_level = \"[[\"\n", "log_level"),
        ("[fail2ban]\nban_chunk = 0\n", "fail2ban.ban_chunk"),
        ("[fail2ban]\nban_chunk = 50000\n", "fail2ban.ban_chunk"),
        (
            "[fail2ban]\nban_chunk = 500\nban_chunk_max = 200\n",
            "fail2ban.ban_chunk_max",
        ),
        (
            "[fail2ban]\nmanual_jail = \"a b\"\n",
            "fail2ban.manual_jail",
        ),
        ("[fail2ban]\nmax_reply = 10\n", "fail2ban.max_reply"),
        (
            "[allowlist]\nnetworks = [\"not-a-net\"]\n",
            "allowlist.networks",
        ),
        (
            "[allowlist]\nnetworks = [\"198.51.100.7/24\"]\n",
            "host bits",
        ),
        ("[allowlist]\nprivate = true\n", "private"),
        ("[geo]\nip_api_url = \"ftp://x\"\n", "geo.ip_api_url"),
        ("[geo]\nip_api_url = \"nonsense\"\n", "geo.ip_api_url"),
        ("[geo]\nip_api_timeout = 0\n", "geo.ip_api_timeout"),
        ("[geo]\nmaxmind_db = \"relative.mmdb\"\n", "geo.maxmind_db"),
        ("[geo]\nqueue_size = 1\n", "geo.queue_size"),
        ("[blocklist]\nmax_body = 10\n", "blocklist.max_body"),
        ("[history]\nretention_days = 0\n", "history.retention_days"),
        ("[fail2ban]\ndatabase = \"rel.db\"\n", "fail2ban.database"),
        (
            "[blocklist]\ndefault_interval = \"10s\"\n",
            "blocklist.default_interval",
        ),
        (
            "[[blocklist.source]]\nname = \"a b\"\nurl = \"http://x/\"\n",
            "blocklist.source[0].name",
        ),
        (
            "[[blocklist.source]]\nname = \"a\"\nurl = \"gopher://x/\"\n",
            "blocklist.source[0].url",
        ),
        (
            "[[blocklist.source]]\nname = \"a\"\nurl = \"http://x/\"\n[[blocklist.source]]\nname = \"a\"\nurl = \"http://y/\"\n",
            "named twice",
        ),
        (
            "[[blocklist.source]]\nname = \"a\"\nurl = \"http://x/\"\njail = \"no way\"\n",
            "blocklist.source[0].jail",
        ),
    ];
    for (text, needle) in cases {
        let err = parse(text, &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?} gave {err}");
    }
    let long = format!("[daemon]\nsocket = \"/{}\"\n", "s".repeat(120));
    let err = parse(&long, &Overrides::default()).unwrap_err().to_string();
    assert!(err.contains("at most 107"), "{err}");
}

#[test]
fn missing_default_file_is_fine_missing_named_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = defaults();
    d.config_file = dir.path().join("absent.toml");
    let c = Config::load(&d, &Overrides::default(), &jobs()).unwrap();
    assert!(c.config_file.is_none());

    let named = Overrides {
        config_file: Some(dir.path().join("absent.toml")),
        ..Overrides::default()
    };
    let err = Config::load(&d, &named, &jobs()).unwrap_err().to_string();
    assert!(err.contains("absent.toml"), "{err}");
}

/// The packaged config documents every key with its default: uncommented, it
/// must parse and change nothing.
#[test]
fn the_packaged_config_documents_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/bangui.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Groups are examples, not defaults: there is none by default.
    let uncommented = uncommented
        .lines()
        .filter(|l| !l.starts_with("socket_group") && !l.starts_with("admin_group"))
        .collect::<Vec<_>>()
        .join("\n");
    let real_jobs = crate::jobs::defaults(false);
    let with_real_jobs = |text: &str| {
        Config::from_toml(&defaults(), &Overrides::default(), &path, text, &real_jobs).unwrap()
    };
    let documented = with_real_jobs(&uncommented);
    let default = with_real_jobs("");
    assert_eq!(documented.state_dir, default.state_dir);
    assert_eq!(documented.socket, default.socket);
    assert_eq!(documented.shutdown_grace, default.shutdown_grace);
    assert_eq!(documented.log_level, default.log_level);
    assert_eq!(documented.log_format, default.log_format);
    assert_eq!(documented.max_connections, default.max_connections);
    assert_eq!(documented.handshake_timeout, default.handshake_timeout);
    assert_eq!(documented.idle_timeout, default.idle_timeout);
    assert_eq!(documented.job_runs_keep, default.job_runs_keep);
    assert_eq!(documented.session_ttl, default.session_ttl);
    assert_eq!(documented.fail2ban, default.fail2ban);
    assert_eq!(documented.allowlist, default.allowlist);
    // Written out, the default MaxMind paths count as named; the paths must agree.
    assert_eq!(documented.geo.maxmind_db.path, default.geo.maxmind_db.path);
    assert_eq!(
        documented.geo.maxmind_asn_db.path,
        default.geo.maxmind_asn_db.path
    );
    assert_eq!(documented.blocklist, default.blocklist);
    assert_eq!(
        documented.history_retention_days,
        default.history_retention_days
    );
    let mut geo = documented.geo.clone();
    geo.maxmind_db.explicit = false;
    geo.maxmind_asn_db.explicit = false;
    assert_eq!(geo, default.geo);
    assert_eq!(documented.jobs, default.jobs);
    for key in [
        "state_dir",
        "socket",
        "socket_group",
        "admin_group",
        "shutdown_grace",
        "log_level",
        "log_format",
        "max_connections",
        "handshake_timeout",
        "idle_timeout",
        "job_runs_keep",
        "default_ttl",
        "config_dir",
        "manage_jails",
        "manual_jail",
        "manual_bantime",
        "blocklist_jail",
        "blocklist_bantime",
        "ban_chunk",
        "ban_chunk_max",
        "ban_request_time",
        "request_timeout",
        "max_reply",
        "networks",
        "private_ranges",
        "reserved_ranges",
        "own_addresses",
        "maxmind_db",
        "maxmind_asn_db",
        "ip_api",
        "ip_api_url",
        "ip_api_timeout",
        "offline",
        "queue_size",
        "connect_timeout",
        "timeout",
        "max_body",
        "max_redirects",
        "retries",
        "default_interval",
        "default_max_entries",
        "database",
        "retention_days",
    ] {
        assert!(
            text.contains(&format!("# {key} = ")),
            "{key} is not documented"
        );
    }
    for job in &real_jobs {
        assert!(
            text.contains(&format!("[jobs.{}]", job.id)),
            "{} is not documented",
            job.id
        );
    }
}
