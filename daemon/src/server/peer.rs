//! Who is on the other end of a connection, and whether they may change things.

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Gid, Uid, User};
use tokio::net::UnixStream;

/// The peer's credentials as the kernel reported them at connect time.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
}

impl Peer {
    pub fn of(stream: &UnixStream) -> std::io::Result<Peer> {
        let cred = getsockopt(stream, PeerCredentials).map_err(std::io::Error::from)?;
        Ok(Peer {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        })
    }
}

/// Who may make mutating requests: root, the daemon's own user, and members
/// of the configured admin group.
#[derive(Debug, Clone)]
pub struct AdminPolicy {
    pub own_uid: u32,
    pub admin_gid: Option<u32>,
    /// The admin group's name as configured, for messages.
    pub admin_group: Option<String>,
    /// The socket's group: when set, only its members (and administrators)
    /// are served, whatever the socket file's mode lets through.
    pub socket_gid: Option<u32>,
}

impl AdminPolicy {
    /// Why a change was refused and how to be allowed, in the words of
    /// someone at a terminal. May consult the user database: call it off the
    /// async workers.
    pub fn denied_message(&self, uid: u32) -> String {
        let name = User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.name);
        let you = name.clone().unwrap_or_else(|| format!("uid {uid}"));
        let user = name.unwrap_or_else(|| "USER".into());
        match &self.admin_group {
            Some(group) => format!(
                "this changes state, which only root, the daemon's own user and members of group `{group}` may do; you are {you}. To be allowed: `sudo usermod -aG {group} {user}`, then log in again (or run the command with sudo)"
            ),
            None => format!(
                "this changes state, which only root and the daemon's own user may do (no daemon.admin_group is set); you are {you}. Run it with sudo, or set daemon.admin_group to a group of administrators"
            ),
        }
    }

    /// Whether `peer` is an administrator as far as can be told without a
    /// lookup: root, the daemon's own user, or `admin_group` as its primary
    /// group. Cheap enough for the accept loop.
    pub fn trusted_at_accept(&self, peer: &Peer) -> bool {
        peer.uid == 0 || peer.uid == self.own_uid || self.admin_gid == Some(peer.gid)
    }

    /// Whether `peer` is an administrator. May consult the user and group
    /// databases (NSS), so call it off the async workers.
    pub fn is_admin(&self, peer: &Peer) -> bool {
        if peer.uid == 0 || peer.uid == self.own_uid {
            return true;
        }
        self.admin_gid.is_some_and(|gid| in_group(peer, gid))
    }

    /// Whether `peer` may use the socket at all: the daemon checks the
    /// socket's group itself, so a socket file opened too wide (by a service
    /// manager, by hand, in the moment before its mode was set) lets no one
    /// else in. Off the async workers, as [`AdminPolicy::is_admin`].
    pub fn may_connect(&self, peer: &Peer) -> bool {
        match self.socket_gid {
            None => true,
            Some(gid) => self.is_admin(peer) || in_group(peer, gid),
        }
    }
}

/// Whether `peer` belongs to `gid`: its primary group from the credentials,
/// its supplementary groups from the group database (SO_PEERCRED carries
/// only the primary one).
fn in_group(peer: &Peer, gid: u32) -> bool {
    if peer.gid == gid {
        return true;
    }
    match User::from_uid(Uid::from_raw(peer.uid)) {
        Ok(Some(user)) => {
            let Ok(name) = std::ffi::CString::new(user.name) else {
                return false;
            };
            nix::unistd::getgrouplist(&name, user.gid)
                .map(|groups| groups.contains(&Gid::from_raw(gid)))
                .unwrap_or(false)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_self_are_admins_others_are_not() {
        let policy = AdminPolicy {
            own_uid: 1234,
            admin_gid: None,
            admin_group: None,
            socket_gid: None,
        };
        let peer = |uid, gid| Peer { uid, gid, pid: 1 };
        assert!(policy.is_admin(&peer(0, 0)));
        assert!(policy.is_admin(&peer(1234, 99)));
        assert!(!policy.is_admin(&peer(4321, 99)));
        let with_group = AdminPolicy {
            own_uid: 1234,
            admin_gid: Some(99),
            admin_group: Some("ops".into()),
            socket_gid: Some(98),
        };
        assert!(with_group.may_connect(&peer(4321, 98)));
        assert!(
            with_group.may_connect(&peer(4321, 99)),
            "administrators may"
        );
        assert!(!with_group.may_connect(&peer(4321, 97)));
        assert!(with_group.denied_message(4321).contains("usermod -aG ops"));
        assert!(with_group.is_admin(&peer(4321, 99)));
        assert!(!with_group.is_admin(&peer(4321, 98)));
    }
}
