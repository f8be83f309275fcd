//! Default locations, shared by the daemon and the ctl so that both find the
//! same socket with no configuration at all.

use std::ffi::OsString;
use std::path::PathBuf;

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
    let euid = nix::unistd::geteuid();
    let home = || {
        nix::unistd::User::from_uid(euid)
            .ok()
            .flatten()
            .map(|u| u.dir)
    };
    defaults_for(euid.is_root(), |k| std::env::var_os(k), home)
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
            config_file: PathBuf::from("/etc/bangui/bangui.toml"),
            state_dir: PathBuf::from("/var/lib/bangui"),
            socket: PathBuf::from("/run/bangui/bangui.sock"),
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
    fn missing_home_asks_the_fallback() {
        let p = defaults_for(false, env_of(&[]), || Some(PathBuf::from("/var/ann")));
        assert_eq!(p.state_dir, PathBuf::from("/var/ann/.local/state/bangui"));
    }
}
