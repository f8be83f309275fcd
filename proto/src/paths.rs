//! Default locations, shared by the daemon and the ctl so that both find the
//! same socket with no configuration at all.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where things live when nothing says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultPaths {
    pub config_file: PathBuf,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
}

/// The defaults for the current process: system paths for root, the XDG base
/// directories for everyone else.
pub fn defaults() -> DefaultPaths {
    defaults_for(
        nix::unistd::geteuid().is_root(),
        |k| std::env::var_os(k),
        home_of_euid,
    )
}

/// Whether this process runs as root (the system paths apply).
pub fn euid_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The home directory of the effective user, from the user database.
pub fn home_of_euid() -> Option<PathBuf> {
    let euid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(euid)
        .ok()
        .flatten()
        .map(|u| u.dir)
}

/// The defaults for a root or non-root process with the given environment.
/// `home_fallback` is asked for the home directory only when `$HOME` is unset.
pub fn defaults_for(
    root: bool,
    env: impl Fn(&str) -> Option<OsString>,
    home_fallback: impl FnOnce() -> Option<PathBuf>,
) -> DefaultPaths {
    if root {
        return DefaultPaths {
            config_file: PathBuf::from(SYSTEM_CONFIG),
            state_dir: PathBuf::from("/var/lib/bangui"),
            socket: PathBuf::from(SYSTEM_SOCKET),
        };
    }
    // The XDG spec says relative values are invalid and must be ignored.
    let xdg = |key: &str| env(key).map(PathBuf::from).filter(|p| p.is_absolute());
    let home = env("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(home_fallback)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let config_home = xdg("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
    let state_home = xdg("XDG_STATE_HOME").unwrap_or_else(|| home.join(".local/state"));
    let state_dir = state_home.join("bangui");
    // Without a runtime directory the state directory is the one place that is
    // certainly ours; a guessable name under /tmp could be planted by another user.
    let socket = match xdg("XDG_RUNTIME_DIR") {
        Some(run) => run.join("bangui").join("bangui.sock"),
        None => state_dir.join("bangui.sock"),
    };
    DefaultPaths {
        config_file: config_home.join("bangui").join("bangui.toml"),
        state_dir,
        socket,
    }
}

/// The system daemon's config file and socket, as the packages install them.
pub const SYSTEM_CONFIG: &str = "/etc/bangui/bangui.toml";
pub const SYSTEM_SOCKET: &str = "/run/bangui/bangui.sock";

/// One place a client looks for the daemon's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketCandidate {
    pub path: PathBuf,
    /// Why this place, for the "not running" message: "daemon.socket in
    /// /etc/bangui/bangui.toml", "the per-user socket", "the system socket".
    pub origin: String,
}

/// Where a client looks for the socket when none is given (`--socket`,
/// `BANGUI_SOCKET`), in order: `daemon.socket` from the config files it can
/// read (`$BANGUI_CONFIG`, the per-user file, then [`SYSTEM_CONFIG`]), the
/// per-user socket, then [`SYSTEM_SOCKET`]. `configured` reads `daemon.socket`
/// from one file, if it is readable and sets one. Duplicates are dropped.
pub fn socket_candidates(
    root: bool,
    env: impl Fn(&str) -> Option<OsString>,
    home_fallback: impl FnOnce() -> Option<PathBuf>,
    configured: impl Fn(&Path) -> Option<PathBuf>,
) -> Vec<SocketCandidate> {
    let explicit_config = env("BANGUI_CONFIG").map(PathBuf::from);
    let own = defaults_for(root, &env, home_fallback);
    let mut files: Vec<PathBuf> = explicit_config.into_iter().collect();
    files.push(own.config_file.clone());
    files.push(PathBuf::from(SYSTEM_CONFIG));
    let mut out: Vec<SocketCandidate> = Vec::new();
    let mut add = |path: PathBuf, origin: String| {
        if !out.iter().any(|c| c.path == path) {
            out.push(SocketCandidate { path, origin });
        }
    };
    let mut seen_files: Vec<PathBuf> = Vec::new();
    for file in files {
        if seen_files.contains(&file) {
            continue;
        }
        if let Some(socket) = configured(&file) {
            add(socket, format!("daemon.socket in {}", file.display()));
        }
        seen_files.push(file);
    }
    if !root {
        add(own.socket, "the per-user socket".into());
    }
    add(PathBuf::from(SYSTEM_SOCKET), "the system socket".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn root_uses_system_paths() {
        let p = defaults_for(true, env_of(&[("XDG_RUNTIME_DIR", "/run/user/0")]), || None);
        assert_eq!(p.socket, PathBuf::from("/run/bangui/bangui.sock"));
        assert_eq!(p.state_dir, PathBuf::from("/var/lib/bangui"));
        assert_eq!(p.config_file, PathBuf::from("/etc/bangui/bangui.toml"));
    }

    #[test]
    fn user_uses_xdg_dirs() {
        let p = defaults_for(
            false,
            env_of(&[
                ("HOME", "/home/ann"),
                ("XDG_RUNTIME_DIR", "/run/user/1000"),
                ("XDG_STATE_HOME", "/srv/state"),
                ("XDG_CONFIG_HOME", "/srv/conf"),
            ]),
            || None,
        );
        assert_eq!(p.socket, PathBuf::from("/run/user/1000/bangui/bangui.sock"));
        assert_eq!(p.state_dir, PathBuf::from("/srv/state/bangui"));
        assert_eq!(p.config_file, PathBuf::from("/srv/conf/bangui/bangui.toml"));
    }

    #[test]
    fn user_fallbacks_ignore_relative_xdg_values() {
        let p = defaults_for(
            false,
            env_of(&[("HOME", "/home/ann"), ("XDG_STATE_HOME", "relative")]),
            || None,
        );
        assert_eq!(p.state_dir, PathBuf::from("/home/ann/.local/state/bangui"));
        assert_eq!(
            p.socket,
            PathBuf::from("/home/ann/.local/state/bangui/bangui.sock")
        );
        assert_eq!(
            p.config_file,
            PathBuf::from("/home/ann/.config/bangui/bangui.toml")
        );
    }

    #[test]
    fn socket_search_order() {
        let env = env_of(&[("HOME", "/home/ann"), ("XDG_RUNTIME_DIR", "/run/user/1000")]);
        // Only the system file names a socket.
        let found = socket_candidates(
            false,
            &env,
            || None,
            |file| (file == Path::new(SYSTEM_CONFIG)).then(|| PathBuf::from("/srv/b.sock")),
        );
        let paths: Vec<&Path> = found.iter().map(|c| c.path.as_path()).collect();
        assert_eq!(
            paths,
            [
                Path::new("/srv/b.sock"),
                Path::new("/run/user/1000/bangui/bangui.sock"),
                Path::new(SYSTEM_SOCKET),
            ]
        );
        assert_eq!(found[0].origin, "daemon.socket in /etc/bangui/bangui.toml");
        // The user's file comes before the system's; BANGUI_CONFIG before both.
        let env = env_of(&[("HOME", "/home/ann"), ("BANGUI_CONFIG", "/x.toml")]);
        let found = socket_candidates(
            false,
            &env,
            || None,
            |file| Some(PathBuf::from(format!("{}.sock", file.display()))),
        );
        let paths: Vec<String> = found.iter().map(|c| c.path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "/x.toml.sock",
                "/home/ann/.config/bangui/bangui.toml.sock",
                "/etc/bangui/bangui.toml.sock",
                "/home/ann/.local/state/bangui/bangui.sock",
                SYSTEM_SOCKET,
            ]
        );
        // Root: the per-user socket is the system socket; listed once.
        let found = socket_candidates(true, env_of(&[]), || None, |_| None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, Path::new(SYSTEM_SOCKET));
    }

    #[test]
    fn missing_home_asks_the_fallback() {
        let p = defaults_for(false, env_of(&[]), || Some(PathBuf::from("/var/ann")));
        assert_eq!(p.state_dir, PathBuf::from("/var/ann/.local/state/bangui"));
    }
}
