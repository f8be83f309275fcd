//! A real `fail2ban-server` per test, in the test's own directory: its own
//! socket, pidfile, database and log, a no-op ban action, and the jails the
//! test asks for. Stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{Home, wait_for};

pub const SERVER: &str = "/usr/bin/fail2ban-server";
pub const CLIENT: &str = "/usr/bin/fail2ban-client";

/// Fails the test with the install hint when fail2ban is missing.
pub fn require() {
    for tool in [SERVER, CLIENT] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: install Debian's fail2ban package (apt-get install fail2ban); scripts/test.sh does this"
        );
    }
}

/// A fail2ban configuration directory under a test home.
pub struct Fail2banConf {
    pub dir: PathBuf,
    pub run: PathBuf,
}

impl Fail2banConf {
    pub fn new(home: &Home) -> Fail2banConf {
        require();
        let dir = home.path().join("fail2ban");
        let run = home.path().join("f2b-run");
        for sub in ["action.d", "filter.d", "jail.d"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            dir.join("fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {run}/fail2ban.log\nsyslogsocket = auto\n\
                 socket = {run}/fail2ban.sock\npidfile = {run}/fail2ban.pid\n\
                 dbfile = {run}/fail2ban.sqlite3\ndbpurgeage = 1d\nallowipv6 = auto\n",
                run = run.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("action.d/bangui-noop.conf"),
            "[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban =\nactionunban =\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("jail.conf"),
            "[DEFAULT]\nbanaction = bangui-noop\nbanaction_allports = bangui-noop\n\
             action = %(banaction)s\nbantime = 1h\n",
        )
        .unwrap();
        Fail2banConf { dir, run }
    }

    pub fn socket(&self) -> PathBuf {
        self.run.join("fail2ban.sock")
    }

    /// As [`Fail2banConf::daemon_section`], with fail2ban's database for the
    /// history and `extra` lines.
    pub fn daemon_section_with_database(&self, extra: &str) -> String {
        format!(
            "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\ndatabase = {:?}\n{}{extra}",
            self.socket().display().to_string(),
            self.dir.display().to_string(),
            self.run.join("fail2ban.sqlite3").display().to_string(),
            firewall_line(extra),
        )
    }

    /// Copies fail2ban's stock nftables actions (`nftables`,
    /// `nftables-allports`) from the installed package into this
    /// configuration, for jails that compare with them.
    pub fn add_stock_nftables_actions(&self) {
        self.add_stock_actions(&["nftables.conf", "nftables-allports.conf"]);
    }

    /// Copies fail2ban's stock ipset action for iptables (`iptables-ipset`,
    /// sets `hash:ip`, and what it includes).
    pub fn add_stock_ipset_actions(&self) {
        self.add_stock_actions(&[
            "iptables.conf",
            "iptables-ipset.conf",
            "iptables-ipset-proto6-allports.conf",
        ]);
    }

    fn add_stock_actions(&self, files: &[&str]) {
        for f in files {
            std::fs::copy(
                format!("/etc/fail2ban/action.d/{f}"),
                self.dir.join("action.d").join(f),
            )
            .expect("fail2ban's stock actions (apt-get install fail2ban)");
        }
    }

    /// `fail2ban-client reload`, as an administrator runs it: the client
    /// reads this configuration and sends it to the running server.
    pub fn reload(&self) -> Result<String, String> {
        let mut command = Command::new(CLIENT);
        command
            .arg("-c")
            .arg(&self.dir)
            .arg("-s")
            .arg(self.socket());
        run_client(command.arg("reload"))
    }

    /// Adds a jail that watches nothing, with extra `key = value` lines.
    pub fn add_jail(&self, name: &str, extra: &str) {
        std::fs::write(
            self.dir.join(format!("jail.d/{name}.conf")),
            format!(
                "[{name}]\nenabled = true\nfilter =\nlogpath = /dev/null\nbackend = polling\n{extra}\n"
            ),
        )
        .unwrap();
    }

    /// The daemon's `[fail2ban]` section pointing at this server. bangui's
    /// jails use the stock (no-op) action: only tests in a private network
    /// namespace use a real firewall (see [`Fail2banConf::start`]).
    pub fn daemon_section(&self) -> String {
        format!(
            "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\nfirewall = \"stock\"\n",
            self.socket().display().to_string(),
            self.dir.display().to_string()
        )
    }

    /// Starts the server in the foreground and waits until it answers.
    /// Refuses when a jail would run a firewall action outside a private
    /// network namespace: no test touches the host's firewall.
    pub fn start(&self) -> Fail2banServer {
        let jails = std::fs::read_dir(self.dir.join("jail.d")).unwrap();
        let firewalled = jails.filter_map(Result::ok).any(|e| {
            std::fs::read_to_string(e.path()).is_ok_and(|t| {
                ["nftables", "ipset", "iptables"]
                    .iter()
                    .any(|firewall| t.contains(firewall))
            })
        });
        assert!(
            !firewalled || crate::netns::private(),
            "a jail in {} uses a firewall action outside a private network namespace",
            self.dir.display()
        );
        let log = std::fs::File::create(self.run.join("server.out")).unwrap();
        let child = Command::new(SERVER)
            .arg("-c")
            .arg(&self.dir)
            .args(["-f", "-x"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Fail2banServer {
            child: Some(child),
            socket: self.socket(),
            run: self.run.clone(),
        };
        wait_for("fail2ban-server to answer", || {
            server.assert_running();
            server.client(&["ping"]).ok().map(|_| ())
        });
        server
    }
}

/// A `fail2ban-client` run: what it printed, or why it failed.
fn run_client(command: &mut Command) -> Result<String, String> {
    let out = command.stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

pub struct Fail2banServer {
    child: Option<Child>,
    pub socket: PathBuf,
    run: PathBuf,
}

impl Fail2banServer {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn assert_running(&self) {
        if let Some(child) = &self.child {
            // try_wait needs &mut; a zero-signal kill tells liveness without it.
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            if nix::sys::signal::kill(pid, None).is_err() {
                let out = std::fs::read_to_string(self.run.join("server.out")).unwrap_or_default();
                panic!("fail2ban-server died:\n{out}");
            }
        }
    }

    /// Runs the real `fail2ban-client` against this server: an oracle
    /// independent of bangui's own client.
    pub fn client(&self, args: &[&str]) -> Result<String, String> {
        let mut command = Command::new(CLIENT);
        run_client(command.arg("-s").arg(&self.socket).args(args))
    }

    /// The addresses a jail bans now, as fail2ban-client prints them.
    pub fn banned(&self, jail: &str) -> Vec<String> {
        let text = self.client(&["get", jail, "banned"]).unwrap();
        text.split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    /// SIGKILL, like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Fail2banServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let stopped = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(20));
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `n` distinct public IPv4 addresses (11.0.0.0/8) for ban tests.
pub fn addresses(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("11.{}.{}.{}", i / 62_500, (i / 250) % 250, i % 250 + 1))
        .collect()
}

impl Fail2banServer {
    /// Lines of fail2ban's own log containing `needle`.
    pub fn log_lines(&self, needle: &str) -> usize {
        std::fs::read_to_string(self.run.join("fail2ban.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// fail2ban's database: (distinct addresses, ban rows) for a jail in `bans`.
    pub fn stored_bans(&self, jail: &str) -> (i64, i64) {
        let conn = rusqlite::Connection::open_with_flags(
            self.run.join("fail2ban.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.query_row(
            "SELECT count(DISTINCT ip), count(*) FROM bans WHERE jail = ?1",
            [jail],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0))
    }

    /// Whether fail2ban's database has stored the ban of `ip` in `jail`.
    pub fn has_stored(&self, jail: &str, ip: &str) -> bool {
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            self.run.join("fail2ban.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return false;
        };
        let _ = conn.busy_timeout(Duration::from_secs(5));
        conn.query_row(
            "SELECT count(*) FROM bips WHERE jail = ?1 AND ip = ?2",
            [jail, ip],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0)
            > 0
    }

    /// SIGTERM and wait: fail2ban writes what it has and stops.
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }
}

impl Fail2banConf {
    /// Forgets everything fail2ban stored (its bans come back empty at the next start).
    pub fn wipe_database(&self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(self.run.join(format!("fail2ban.sqlite3{suffix}")));
        }
    }
}

/// A relay on its own socket in front of fail2ban's, counting the ban and
/// unban requests that pass through it: the boundary where requests are counted.
pub struct Relay {
    pub socket: PathBuf,
    counts: std::sync::Arc<std::sync::Mutex<(usize, usize)>>,
}

impl Relay {
    pub fn start(upstream: PathBuf, socket: PathBuf) -> Relay {
        use std::os::unix::net::{UnixListener, UnixStream};
        let listener = UnixListener::bind(&socket).unwrap();
        let counts = std::sync::Arc::new(std::sync::Mutex::new((0, 0)));
        let c = std::sync::Arc::clone(&counts);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = UnixStream::connect(&upstream) else {
                    continue;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                let counts = std::sync::Arc::clone(&c);
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut carry: Vec<u8> = Vec::new();
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match c_read.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        carry.extend_from_slice(&buf[..n]);
                        let mut i = 0;
                        while i + 5 <= carry.len() {
                            if &carry[i..i + 5] == b"banip" {
                                let mut counts = counts.lock().unwrap();
                                if i >= 2 && &carry[i - 2..i] == b"un" {
                                    counts.1 += 1;
                                } else {
                                    counts.0 += 1;
                                }
                                i += 5;
                            } else {
                                i += 1;
                            }
                        }
                        // Keep the unscanned tail and two bytes before it (an "un").
                        carry.drain(..i.saturating_sub(2));
                        if s_write.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    // fail2ban went away: so does the client's connection.
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Relay { socket, counts }
    }

    /// (ban requests, unban requests) so far.
    pub fn counts(&self) -> (usize, usize) {
        *self.counts.lock().unwrap()
    }
}

/// Addresses as the daemon's fail2ban client takes them for a ban: parsed
/// and passed through an allowlist that protects nothing beyond loopback
/// (the minimal-client baselines send what bangui would).
pub fn allowed(list: &[String]) -> Vec<bangui_daemon::allowlist::Allowed> {
    let allowlist = bangui_daemon::allowlist::Allowlist::new(vec![], false, false, false);
    let ctx = bangui_daemon::allowlist::Context::default();
    list.iter()
        .map(|a| {
            let target = bangui_daemon::targets::Target::parse(a).unwrap();
            allowlist.admit(target, &ctx).unwrap()
        })
        .collect()
}

/// `firewall = "stock"` unless `extra` chooses.
fn firewall_line(extra: &str) -> &'static str {
    if extra.contains("firewall") {
        ""
    } else {
        "firewall = \"stock\"\n"
    }
}
