//! A fail2ban stand-in that answers with what a test wants, for replies a
//! real fail2ban never gives (a version string with a newline in it). It is
//! Python with the standard pickle module, as fail2ban's own server is.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const SCRIPT: &str = r#"
import os, pickle, socket, sys, threading, time
path, version, mode = sys.argv[1], sys.argv[2], sys.argv[3]
END = b"<F2B_END_COMMAND>"
def hostile(cmd, data):
    # Only the version request is answered with trouble; ping and status stay sane.
    if cmd != ["version"] or mode == "normal": return data
    if mode == "terminator": return pickle.dumps((0, "1.0" + END.decode() + "2"), protocol=4) + END
    if mode == "eof": return data[: len(data) // 2]
    if mode == "huge": return pickle.dumps((0, "x" * (100 * 1024 * 1024)), protocol=4) + END
    if mode == "nested":
        n = 200000
        return b"\x80\x02K\x00" + b"]" * n + b"a" * (n - 1) + b"\x86." + END
    return data
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
            cmd = pickle.loads(msg)
            data = hostile(cmd, pickle.dumps(reply(cmd), protocol=4) + END)
            if mode == "terminator" and cmd == ["version"]:
                # Split right after the terminator inside the string.
                cut = data.index(END) + len(END)
                conn.sendall(data[:cut]); time.sleep(0.05); conn.sendall(data[cut:])
            elif mode == "trickle":
                for i in range(len(data)):
                    conn.sendall(data[i:i + 1])
                    time.sleep(0.002)
            else:
                conn.sendall(data)
            if mode == "eof" and cmd == ["version"]:
                conn.close()
                return
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
        FakeFail2ban::hostile(socket, version, "normal")
    }

    /// As [`FakeFail2ban::start`], with every reply (`trickle`: one byte at a
    /// time) or the version reply (`terminator` inside the string, `eof`
    /// half-way, a `huge` 100 MB string, lists `nested` 200,000 deep) hostile.
    pub fn hostile(socket: &Path, version: &str, mode: &str) -> FakeFail2ban {
        let child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(socket)
            .arg(version)
            .arg(mode)
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
