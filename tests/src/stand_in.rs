//! A fail2ban stand-in that answers with what a test wants, for replies a
//! real fail2ban never gives (a version string with a newline in it). It is
//! Python with the standard pickle module, as fail2ban's own server is.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const SCRIPT: &str = r#"
import os, pickle, socket, sys, threading
path, version = sys.argv[1], sys.argv[2]
END = b"<F2B_END_COMMAND>"
def reply(cmd):
    if cmd == ["ping"]: return (0, "pong")
    if cmd == ["version"]: return (0, version)
    if cmd == ["status"]: return (0, [("Number of jail", 0), ("Jail list", "")])
    return (1, "unknown command")
def serve(conn):
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data: return
        buf += data
        while END in buf:
            msg, buf = buf.split(END, 1)
            conn.sendall(pickle.dumps(reply(pickle.loads(msg)), protocol=4) + END)
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

pub struct FakeFail2ban {
    pub socket: PathBuf,
    child: Child,
}

impl FakeFail2ban {
    /// Serves at `socket`, answering `version` with `version`.
    pub fn start(socket: &Path, version: &str) -> FakeFail2ban {
        let child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(socket)
            .arg(version)
            .spawn()
            .expect("python3 is missing: apt-get install python3 (fail2ban needs it too)");
        crate::wait_for("the fail2ban stand-in to listen", || {
            std::os::unix::net::UnixStream::connect(socket).ok()
        });
        FakeFail2ban {
            socket: socket.to_path_buf(),
            child,
        }
    }
}

impl Drop for FakeFail2ban {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
