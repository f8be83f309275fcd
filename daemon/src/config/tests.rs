use std::path::{Path, PathBuf};
use std::time::Duration;

use bangui_proto::paths::DefaultPaths;

use bangui_proto::messages::ValueSource;

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
        (
            "[[blocklist.source]]\nname = \"a\"\nurl = \"http://x/\"\nmin_prefix_v4 = 4\n",
            "blocklist.source[0].min_prefix_v4`: 4 cannot be: give a prefix length from 8 to 32",
        ),
        (
            "[[blocklist.source]]\nname = \"a\"\nurl = \"http://x/\"\njson_field = \"\"\n",
            "blocklist.source[0].json_field",
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
    // Every key the daemon knows (as `config show` lists them) is documented.
    for entry in default.entries() {
        if entry.key.starts_with("jobs.") {
            continue;
        }
        let leaf = entry.key.rsplit('.').next().unwrap();
        assert!(
            text.lines().any(|l| l
                .trim_start_matches("# ")
                .starts_with(&format!("{leaf} = "))),
            "{} is not documented",
            entry.key
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

fn value(config: &Config, key: &str) -> (String, ValueSource) {
    let entry = config
        .entries()
        .into_iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no entry {key}"));
    (entry.value.to_string(), entry.source)
}

#[test]
fn entries_name_every_value_and_its_source() {
    let overrides = Overrides {
        log_level: Some("debug".into()),
        log_format: Some("json".into()),
        origins: [("daemon.log_format", ValueSource::Environment)].into(),
        ..Overrides::default()
    };
    let c = parse("[history]\nretention_days = 30\n", &overrides).unwrap();
    let entries = c.entries();
    assert!(entries.len() >= 45, "{} entries", entries.len());
    assert_eq!(
        value(&c, "history.retention_days"),
        ("30".into(), ValueSource::File)
    );
    assert_eq!(
        value(&c, "daemon.log_level"),
        ("\"debug\"".into(), ValueSource::Flag)
    );
    assert_eq!(
        value(&c, "daemon.log_format"),
        ("\"json\"".into(), ValueSource::Environment)
    );
    assert_eq!(
        value(&c, "sessions.default_ttl"),
        ("\"1d\"".into(), ValueSource::Default)
    );
    assert_eq!(
        value(&c, "jobs.session_cleanup.interval"),
        ("\"6h\"".into(), ValueSource::Default)
    );
    assert_eq!(
        value(&c, "daemon.admin_group"),
        ("\"\"".into(), ValueSource::Default)
    );
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(!keys.iter().any(|k| k.starts_with("blocklist.source")));
}

/// The effective values, written back as a file, give the same configuration.
#[test]
fn entries_read_back_as_the_same_configuration() {
    let text = r#"
        [fail2ban]
        ban_chunk = 250
        database = "/var/lib/fail2ban/fail2ban.sqlite3"
        [allowlist]
        networks = ["192.0.2.0/24", "2001:db8::1"]
        [geo]
        maxmind_db = ""
        [jobs.session_cleanup]
        interval = "90m"
        enabled = false
    "#;
    let c = parse(text, &Overrides::default()).unwrap();
    let mut table = toml::Table::new();
    for e in c.entries() {
        layers::insert(&mut table, &e.key, e.value);
    }
    let again = parse(&toml::to_string(&table).unwrap(), &Overrides::default()).unwrap();
    let pairs = |c: &Config| {
        c.entries()
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&again), pairs(&c));
    assert_eq!(again.fail2ban, c.fail2ban);
    assert_eq!(again.allowlist, c.allowlist);
    assert_eq!(again.jobs, c.jobs);
    assert_eq!(again.geo.maxmind_db.path, None);
}

#[test]
fn a_persisted_setting_overrides_the_file_and_is_validated() {
    let c = parse("[history]\nretention_days = 30\n", &Overrides::default()).unwrap();
    let set = c
        .with_setting("history.retention_days", Some(parse_value("90")))
        .unwrap();
    assert_eq!(set.history_retention_days, 90);
    assert_eq!(
        value(&set, "history.retention_days"),
        ("90".into(), ValueSource::Persisted)
    );
    // Durations as typed, without quotes.
    let ttl = set
        .with_setting("sessions.default_ttl", Some(parse_value("2h")))
        .unwrap();
    assert_eq!(ttl.session_ttl, Duration::from_secs(7200));
    assert_eq!(ttl.history_retention_days, 90);
    let unset = ttl.with_setting("history.retention_days", None).unwrap();
    assert_eq!(
        value(&unset, "history.retention_days"),
        ("30".into(), ValueSource::File)
    );

    let refused = |key: &str, text: &str| c.with_setting(key, Some(parse_value(text))).unwrap_err();
    let e = refused("history.retention_days", "0");
    assert!(
        e.contains("history.retention_days") && e.contains("between 1 and 36500"),
        "{e}"
    );
    let e = refused("history.retention_days", "many");
    assert!(
        e.contains("history.retention_days") && e.contains("invalid"),
        "{e}"
    );
    let e = refused("sessions.default_ttl", "soon");
    assert!(e.contains("not a duration"), "{e}");
    let e = refused("retention_days", "5");
    assert!(e.contains("did you mean history.retention_days"), "{e}");
    let e = refused("no.such", "5");
    assert!(
        e.contains("no setting `no.such`") && e.contains("config show"),
        "{e}"
    );
    let e = refused("daemon.state_dir", "\"/tmp\"");
    assert!(e.contains("cannot be persisted"), "{e}");
    // Root's file decides who may use the daemon and what it opens.
    for key in [
        "daemon.admin_group",
        "fail2ban.socket",
        "fail2ban.config_dir",
    ] {
        let e = refused(key, "\"x\"");
        assert!(e.contains("only the config file"), "{key}: {e}");
    }
    let e = refused("jobs.session_cleanup.interval", "0");
    assert!(e.contains("longer than zero"), "{e}");
}

#[test]
fn overrides_win_over_persisted_settings() {
    let overrides = Overrides {
        log_level: Some("warn".into()),
        ..Overrides::default()
    };
    let c = parse("", &overrides).unwrap();
    let set = c
        .with_setting("daemon.log_level", Some(parse_value("debug")))
        .unwrap();
    assert_eq!(set.log_level, "warn");
    assert_eq!(set.layers.persisted.len(), 1);
}

#[test]
fn invalid_persisted_settings_are_ignored_at_start_with_the_reason() {
    let c = parse("", &Overrides::default()).unwrap();
    let persisted = [
        ("history.retention_days".to_string(), parse_value("0")),
        ("geo.queue_size".to_string(), parse_value("5000")),
        ("gone.key".to_string(), parse_value("1")),
    ]
    .into();
    let started = c.with_persisted(persisted);
    assert_eq!(started.geo.queue_size, 5000);
    assert_eq!(started.history_retention_days, 365);
    let ignored: Vec<&str> = started
        .layers
        .ignored
        .iter()
        .map(|i| i.key.as_str())
        .collect();
    assert_eq!(ignored, ["gone.key", "history.retention_days"]);
    assert!(
        started.layers.ignored[1]
            .reason
            .contains("between 1 and 36500")
    );
}

#[test]
fn typed_values_read_as_toml_or_else_as_text() {
    assert_eq!(parse_value("30"), toml::Value::Integer(30));
    assert_eq!(parse_value("true"), toml::Value::Boolean(true));
    assert_eq!(parse_value("10m"), toml::Value::String("10m".into()));
    assert_eq!(parse_value("\"x\""), toml::Value::String("x".into()));
    assert_eq!(parse_value("info"), toml::Value::String("info".into()));
    assert!(parse_value("[\"10.0.0.0/8\"]").is_array());
    // Never a second key smuggled in on another line.
    assert_eq!(
        parse_value("1\nother = 2"),
        toml::Value::String("1\nother = 2".into())
    );
}
