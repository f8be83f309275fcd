//! Test harness: starts the real `bangui` binary in a temporary directory and
//! talks to it with the real `bangui-ctl` binary or the proto client.
//!
//! The binaries are the workspace's own build (`cargo build --workspace`),
//! found next to the test executable. Waiting is done against deadlines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fail2ban;
pub mod geo;
pub mod http;
pub mod journal;
pub mod lists;
pub mod netns;
pub mod notify;
pub mod stand_in;
pub mod users;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use bangui_proto::Client;

/// How long anything in a test may take before it counts as hung.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Path of a workspace binary (`bangui`, `bangui-ctl`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace, as scripts/test.sh does)",
        path.display()
    );
    path
}

/// Polls `check` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temporary directory for one daemon: state, socket, config and log.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("bangui-test-")
            .tempdir_in("/tmp")
            .unwrap();
        // Readable by other users, for the tests that run the ctl as nobody.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Home { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }

    pub fn socket(&self) -> PathBuf {
        self.path().join("bangui.sock")
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("bangui.toml")
    }

    /// A copy of a workspace binary inside this home, executable by every
    /// user (the build tree itself may sit under a private home directory).
    pub fn shared_bin(&self, name: &str) -> PathBuf {
        let copy = self.path().join(name);
        if !copy.exists() {
            std::fs::copy(bin(name), &copy).unwrap();
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        copy
    }

    /// Everything every daemon started in this home wrote to stderr.
    pub fn all_daemon_logs(&self) -> String {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("daemon-"))
            })
            .collect();
        logs.sort();
        logs.iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn database(&self) -> PathBuf {
        self.state_dir().join("bangui.db")
    }

    /// Writes the config file: the state dir and socket of this home plus
    /// `extra`. Without a `[fail2ban]` section in `extra`, fail2ban is pointed
    /// at paths inside the home that do not exist, so that no test ever
    /// touches the machine's own fail2ban.
    pub fn write_config(&self, extra: &str) {
        let mut text = format!(
            "[daemon]\nstate_dir = {:?}\nsocket = {:?}\n{extra}\n",
            self.state_dir().display().to_string(),
            self.socket().display().to_string()
        );
        if !extra.contains("[fail2ban]") {
            text.push_str(&format!(
                "[fail2ban]\nsocket = {:?}\nconfig_dir = {:?}\n",
                self.path().join("no-fail2ban.sock").display().to_string(),
                self.path().join("no-fail2ban").display().to_string()
            ));
        }
        if !extra.contains("[blocklist]") {
            // file:// lists are read from this home's lists/ only.
            let lists = self.path().join("lists");
            std::fs::create_dir_all(&lists).unwrap();
            text.push_str(&format!(
                "[blocklist]\nfile_dir = {:?}\n",
                lists.display().to_string()
            ));
        }
        if !extra.contains("[geo]") {
            // Nothing from the host's /var/lib/GeoIP, and no network.
            text.push_str("[geo]\noffline = true\nmaxmind_db = \"\"\nmaxmind_asn_db = \"\"\n");
        }
        std::fs::write(self.config(), text).unwrap();
    }

    /// A `bangui` command on this home's config, with test hooks on.
    pub fn daemon_command(&self) -> Command {
        let mut cmd = Command::new(bin("bangui"));
        cmd.arg("--config")
            .arg(self.config())
            .env("BANGUI_TEST_HOOKS", "1")
            .env_remove("BANGUI_SOCKET")
            .env_remove("BANGUI_STATE_DIR")
            .env_remove("JOURNAL_STREAM")
            .env_remove("NOTIFY_SOCKET");
        cmd
    }

    /// Starts the daemon and waits until it answers.
    pub fn start(&self) -> Daemon {
        self.start_with(|_| {})
    }

    /// Starts the daemon as the last arguments of `wrapper` (e.g. `unshare -m
    /// sh -c SCRIPT sh`); `tweak` gets the daemon's command and its log file.
    pub fn start_under(&self, wrapper: &[&str], tweak: impl FnOnce(&mut Command, &Path)) -> Daemon {
        let mut daemon = self.spawn_custom(|cmd, log| {
            tweak(cmd, log);
            let mut wrapped = Command::new(wrapper[0]);
            wrapped
                .args(&wrapper[1..])
                .arg(cmd.get_program())
                .args(cmd.get_args());
            for (key, value) in cmd.get_envs() {
                match value {
                    Some(v) => wrapped.env(key, v),
                    None => wrapped.env_remove(key),
                };
            }
            let log = std::fs::OpenOptions::new().append(true).open(log).unwrap();
            wrapped
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            Some(wrapped)
        });
        daemon.wait_ready();
        daemon
    }

    pub fn start_with(&self, tweak: impl FnOnce(&mut Command)) -> Daemon {
        let mut daemon = self.spawn_with(tweak);
        daemon.wait_ready();
        daemon
    }

    /// Starts the daemon without waiting for it to answer (it may be meant to die early).
    pub fn spawn_with(&self, tweak: impl FnOnce(&mut Command)) -> Daemon {
        self.spawn_custom(|cmd, _| {
            tweak(cmd);
            None
        })
    }

    /// Spawns the daemon: `build` may change its command or return another
    /// one to run instead (stderr going to the log file it is given).
    fn spawn_custom(&self, build: impl FnOnce(&mut Command, &Path) -> Option<Command>) -> Daemon {
        if !self.config().exists() {
            self.write_config("");
        }
        let log_path = self.path().join(format!("daemon-{}.log", unique()));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = self.daemon_command();
        cmd.env("BANGUI_LOG_LEVEL", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut cmd = build(&mut cmd, &log_path).unwrap_or(cmd);
        let child = cmd.spawn().unwrap();
        Daemon {
            child: Some(child),
            socket: self.socket(),
            log: log_path,
        }
    }

    /// Runs the daemon to completion (for start-ups that must fail).
    pub fn run_to_exit(&self) -> Output {
        if !self.config().exists() {
            self.write_config("");
        }
        let mut child = self
            .daemon_command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the daemon to exit", || child.try_wait().unwrap());
        child.wait_with_output().unwrap()
    }
}

impl Default for Home {
    fn default() -> Self {
        Home::new()
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A running daemon; killed if the test forgets to stop it.
pub struct Daemon {
    child: Option<Child>,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    /// Whether the daemon completes a handshake now.
    pub fn answers(&self) -> bool {
        runtime()
            .block_on(Client::connect(
                &self.socket,
                "harness",
                Some(Duration::from_secs(2)),
            ))
            .is_ok()
    }

    fn wait_ready(&mut self) {
        wait_for("the daemon to answer", || {
            if let Some(status) = self.exited() {
                panic!(
                    "the daemon exited early ({status}); log:\n{}",
                    self.log_text()
                );
            }
            self.answers().then_some(())
        });
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) {
        wait_for(&format!("`{needle}` in the daemon log"), || {
            self.log_text().contains(needle).then_some(())
        });
    }

    /// Runs `bangui-ctl --socket <ours> args…`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.ctl_with(args, None)
    }

    /// As [`Daemon::ctl`], with `stdin` fed to the process.
    pub fn ctl_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_ctl(&bin("bangui-ctl"), &self.socket, args, stdin, |_| {})
    }

    /// As [`Daemon::ctl`] for work that is long by design (a 100 MiB list,
    /// a firewall import): no deadline but the ctl's own, so a loaded
    /// machine makes the test slower, not failed.
    pub fn ctl_long(&self, args: &[&str]) -> Output {
        Command::new(bin("bangui-ctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Starts `bangui-ctl ARGS` in the background, output discarded (for a
    /// command the test interrupts, such as an import it kills the daemon in).
    pub fn spawn_ctl(&self, args: &[&str]) -> std::process::Child {
        Command::new(bin("bangui-ctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Waits until the daemon's health check has seen fail2ban up.
    pub fn wait_fail2ban_up(&self) {
        wait_for("fail2ban to be up", || {
            (self.ctl_json(&["fail2ban", "status"])["state"] == "up").then_some(())
        });
    }

    /// Runs the ctl and returns its parsed `--json` output; panics on failure.
    pub fn ctl_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.ctl(&full);
        assert!(
            out.status.success(),
            "ctl {args:?} failed: {}",
            describe(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_exit()
    }

    /// Sends SIGKILL and waits for the exit.
    pub fn kill(mut self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        self.wait_exit();
    }

    /// The exit status if the daemon has ended on its own (it is reaped then).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        wait_for("the daemon to exit", || child.try_wait().unwrap())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a ctl binary against `socket`; `tweak` can change user, env and so on.
pub fn run_ctl(
    ctl: &Path,
    socket: &Path,
    args: &[&str],
    stdin: Option<&str>,
    tweak: impl FnOnce(&mut Command),
) -> Output {
    let mut cmd = Command::new(ctl);
    cmd.arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tweak(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).unwrap();
        }
    }
    wait_for("bangui-ctl to finish", || child.try_wait().unwrap());
    child.wait_with_output().unwrap()
}

/// Exit status, stdout and stderr of a finished command, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Resident memory of a process, KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A small current-thread runtime for tests that use the async client.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
