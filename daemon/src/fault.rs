//! Named fault points: the moments between a request to fail2ban (or a
//! write) and its database record, where the crash-recovery tests kill the
//! daemon on purpose. Compiled in only with the `fault-points` feature (the
//! test build); in release builds [`point`] is empty.
//!
//! `BANGUI_FAULT_POINT=<name>` and `BANGUI_FAULT_HIT=<n>` (default 1): the
//! n-th time the daemon passes `<name>`, it kills itself with SIGKILL.

/// Passes the named point.
#[inline]
pub fn point(name: &str) {
    #[cfg(feature = "fault-points")]
    armed::point(name);
    #[cfg(not(feature = "fault-points"))]
    let _ = name;
}

#[cfg(feature = "fault-points")]
mod armed {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);

    pub fn point(name: &str) {
        let armed = ARMED.get_or_init(|| {
            let name = std::env::var("BANGUI_FAULT_POINT").ok()?;
            let hit = std::env::var("BANGUI_FAULT_HIT")
                .ok()
                .and_then(|h| h.parse().ok())
                .unwrap_or(1);
            Some((name, hit))
        });
        if let Some((want, hit)) = armed
            && want == name
            && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *hit
        {
            eprintln!("fault point {name}: killing the daemon (SIGKILL)");
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
    }
}
