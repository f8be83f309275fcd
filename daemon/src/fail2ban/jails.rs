//! The jails bangui bans into, kept as files in fail2ban's `jail.d`, and the
//! firewall action they may use, in `action.d`. A file is written when
//! absent, rewritten when it still carries bangui's header and differs, and
//! never touched once an administrator has taken it over by removing the
//! header.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The first line of every file bangui manages.
pub const HEADER: &str = "# Managed by bangui.";

/// bangui's own fail2ban action (`action.d/bangui-nftables.py`): nftables
/// sets with networks, changes applied in batches.
pub const NFT_ACTION: &str = "bangui-nftables";
const NFT_ACTION_FILE: &str = include_str!("bangui-nftables.py");

/// bangui's action for hosts without `nft` (`action.d/bangui-ipset.py`):
/// ipset `hash:net` sets and an iptables chain.
pub const IPSET_ACTION: &str = "bangui-ipset";
const IPSET_ACTION_FILE: &str = include_str!("bangui-ipset.py");

/// How a managed jail's bans reach the firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JailAction {
    /// bangui's nftables action, in a table named after the jail.
    Nftables,
    /// bangui's ipset action, in sets and a chain named after the jail.
    Ipset,
    /// fail2ban's `banaction_allports`, whatever the host configured.
    Stock,
}

impl JailAction {
    /// The action file bangui writes for this, and its text.
    fn file(self) -> Option<(&'static str, &'static str)> {
        match self {
            JailAction::Nftables => Some((NFT_ACTION, NFT_ACTION_FILE)),
            JailAction::Ipset => Some((IPSET_ACTION, IPSET_ACTION_FILE)),
            JailAction::Stock => None,
        }
    }
}

/// The name of the ipset action's chain and (with -4 and -6) sets: the
/// jail's, prefixed `bangui-` unless it is already, so that a jail named
/// `INPUT` never names a chain of the host's. ipset names a set in at most
/// 31 bytes and iptables a chain in 28, so a longer name is cut, with a hash
/// of the whole.
pub fn ipset_name(jail: &str) -> String {
    const MOST: usize = 26;
    let jail = if jail.starts_with("bangui-") {
        jail.to_string()
    } else {
        format!("bangui-{jail}")
    };
    let jail = jail.as_str();
    if jail.len() <= MOST {
        return jail.to_string();
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = jail.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut start = MOST - 9;
    while !jail.is_char_boundary(start) {
        start -= 1;
    }
    format!("{}-{:08x}", &jail[..start], hash as u32)
}

/// A jail bangui needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedJail {
    pub name: String,
    pub bantime: Duration,
    /// One line saying what the jail is for.
    pub purpose: String,
    pub action: JailAction,
}

/// What happened to one jail file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOutcome {
    Written,
    Updated,
    Unchanged,
    /// The administrator's own file (no header): left alone.
    LeftAlone,
}

impl FileOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FileOutcome::Written => "written",
            FileOutcome::Updated => "updated",
            FileOutcome::Unchanged => "unchanged",
            FileOutcome::LeftAlone => "left alone (edited by an administrator)",
        }
    }
}

pub fn path(config_dir: &Path, jail: &str) -> PathBuf {
    config_dir.join("jail.d").join(format!("{jail}.conf"))
}

pub fn action_path(config_dir: &Path, action: &str) -> PathBuf {
    config_dir.join("action.d").join(format!("{action}.py"))
}

/// The file bangui wants for `jail`. No log is watched: bangui bans into the
/// jail directly, and the ban action covers every port.
pub fn render(jail: &ManagedJail) -> String {
    format!(
        "{HEADER} bangui rewrites this file when its own version changes.\n\
         # To take the file over, delete the first line; bangui then leaves it alone.\n\
         #\n\
         # {purpose}\n\
         [{name}]\n\
         enabled   = true\n\
         filter    =\n\
         logpath   = /dev/null\n\
         backend   = polling\n\
         maxretry  = 1\n\
         bantime   = {bantime}\n\
         {action}\n",
        purpose = jail.purpose,
        name = jail.name,
        bantime = jail.bantime.as_secs(),
        action = match jail.action {
            JailAction::Nftables => format!("action    = {NFT_ACTION}.py[table={}]", jail.name),
            JailAction::Ipset => format!(
                "action    = {IPSET_ACTION}.py[set={}]",
                ipset_name(&jail.name)
            ),
            JailAction::Stock => "banaction = %(banaction_allports)s".to_string(),
        },
    )
}

/// Makes sure each jail's file is as bangui wants it, within the rules above.
pub fn ensure(
    config_dir: &Path,
    jails: &[ManagedJail],
) -> std::io::Result<Vec<(String, FileOutcome)>> {
    let dir = config_dir.join("jail.d");
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} does not exist (is fail2ban installed?)", dir.display()),
        ));
    }
    // fail2ban runs the actions these files name, as root: a directory
    // others may write in is not one to put them in.
    crate::dirs::check_own("fail2ban jail directory", &dir).map_err(std::io::Error::other)?;
    let mut outcomes = Vec::with_capacity(jails.len() + 1);
    let mut files: Vec<(&str, &str)> = jails.iter().filter_map(|j| j.action.file()).collect();
    files.sort();
    files.dedup();
    for (action, text) in files {
        // The action runs inside fail2ban, as root: the same care as jail.d.
        let actions = config_dir.join("action.d");
        crate::dirs::check_own("fail2ban action directory", &actions)
            .map_err(std::io::Error::other)?;
        let outcome = ensure_file(&action_path(config_dir, action), text)?;
        outcomes.push((format!("action.d/{action}.py"), outcome));
    }
    for jail in jails {
        let outcome = ensure_file(&path(config_dir, &jail.name), &render(jail))?;
        outcomes.push((jail.name.clone(), outcome));
    }
    Ok(outcomes)
}

fn ensure_file(file: &Path, wanted: &str) -> std::io::Result<FileOutcome> {
    Ok(match std::fs::read_to_string(file) {
        Ok(current) if current == wanted => FileOutcome::Unchanged,
        Ok(current) if !current.starts_with(HEADER) => FileOutcome::LeftAlone,
        Ok(_) => {
            write_atomically(file, wanted)?;
            FileOutcome::Updated
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomically(file, wanted)?;
            FileOutcome::Written
        }
        Err(e) => return Err(e),
    })
}

/// fail2ban must never read half a file. The temporary file is created new
/// (a link or file planted at its name is removed, never followed), mode 0644
/// whatever the umask: fail2ban's files are root's to write, anyone's to read.
fn write_atomically(file: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".bangui-tmp");
    let tmp = PathBuf::from(tmp);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp)?;
        out.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
    }
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jail(bantime: u64) -> ManagedJail {
        ManagedJail {
            name: "bangui-manual".into(),
            bantime: Duration::from_secs(bantime),
            purpose: "Manual bans.".into(),
            action: JailAction::Stock,
        }
    }

    #[test]
    fn writes_updates_and_respects_edits() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure(dir.path(), &[jail(60)]).is_err(), "no jail.d");
        std::fs::create_dir(dir.path().join("jail.d")).unwrap();
        let file = path(dir.path(), "bangui-manual");

        assert_eq!(
            ensure(dir.path(), &[jail(60)]).unwrap()[0].1,
            FileOutcome::Written
        );
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains("bantime   = 60")
        );
        assert_eq!(
            ensure(dir.path(), &[jail(60)]).unwrap()[0].1,
            FileOutcome::Unchanged
        );
        assert_eq!(
            ensure(dir.path(), &[jail(120)]).unwrap()[0].1,
            FileOutcome::Updated
        );
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains("bantime   = 120")
        );

        let mine = "[bangui-manual]\nenabled = true\nbantime = 5\n";
        std::fs::write(&file, mine).unwrap();
        assert_eq!(
            ensure(dir.path(), &[jail(60)]).unwrap()[0].1,
            FileOutcome::LeftAlone
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), mine);
    }

    #[test]
    fn ipset_names_fit_ipset_and_iptables() {
        assert_eq!(ipset_name("bangui-blocklist"), "bangui-blocklist");
        assert_eq!(ipset_name("INPUT"), "bangui-INPUT");
        let long = "bangui-blocklists-of-the-whole-world";
        let name = ipset_name(long);
        assert!(name.len() <= 26, "{name}");
        assert!(name.starts_with("bangui-blockli"), "{name}");
        assert_ne!(name, ipset_name("bangui-blocklists-of-the-whole-worle"));
        assert_eq!(name, ipset_name(long), "stable");
    }
}
