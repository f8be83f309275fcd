//! Throw-away users and groups for the permission tests (the suite runs as
//! root), removed again when dropped.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique(kind: &str) -> String {
    format!(
        "bgt{kind}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (apt-get install passwd)"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn id_of(database: &str, name: &str) -> u32 {
    let out = Command::new("getent")
        .args([database, name])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    line.split(':')
        .nth(2)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!("getent {database} {name}: {line}");
        })
}

/// A group, with `members` as supplementary members.
pub struct Group {
    pub name: String,
    pub gid: u32,
}

impl Group {
    pub fn create(members: &[&str]) -> Group {
        let name = unique("g");
        run("groupadd", &[&name]);
        for m in members {
            run("gpasswd", &["-a", m, &name]);
        }
        let gid = id_of("group", &name);
        Group { name, gid }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("groupdel").arg(&self.name).output();
    }
}

/// A user without a home directory or login shell, in `group` as its primary group.
pub struct User {
    pub name: String,
    pub uid: u32,
}

impl User {
    pub fn create(group: &str) -> User {
        let name = unique("u");
        run(
            "useradd",
            &["-M", "-N", "-g", group, "-s", "/usr/sbin/nologin", &name],
        );
        let uid = id_of("passwd", &name);
        User { name, uid }
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}
