//! A private network namespace for one test: a thread that has unshared its
//! network namespace, so the sockets it opens and the processes it starts
//! (daemon, list servers, fail2ban) see only a loopback device the test
//! configures, never the host's interfaces or firewall.

use std::process::Command;

/// Runs `f` on a thread inside a fresh network namespace whose `lo` is up and
/// also carries `addresses` (e.g. a public address standing in for a list
/// host). The namespace goes when the thread and its children are gone.
pub fn run<T: Send + 'static>(addresses: &[&str], f: impl FnOnce() -> T + Send + 'static) -> T {
    let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("unshare(CLONE_NEWNET): the suite runs as root (scripts/test.sh)");
        ip(&["link", "set", "lo", "up"]);
        for a in &addresses {
            ip(&["addr", "add", a, "dev", "lo"]);
        }
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Whether the calling thread is in a network namespace other than the
/// host's (that of process 1).
pub fn private() -> bool {
    let ns = |p: &str| std::fs::read_link(p).ok();
    let mine = ns("/proc/thread-self/ns/net");
    mine.is_some() && mine != ns("/proc/1/ns/net")
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("`ip` is missing: apt-get install iproute2");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
