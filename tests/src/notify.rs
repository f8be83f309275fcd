//! A stand-in for systemd's notification socket: a Unix datagram socket in
//! `NOTIFY_SOCKET` that records every message with the time it arrived.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Message {
    pub at: Instant,
    pub text: String,
    /// When the message holds READY=1: did `bangui-ctl ping` answer at once?
    pub ping_on_ready: Option<bool>,
}

impl Message {
    pub fn has(&self, assignment: &str) -> bool {
        self.text.lines().any(|l| l == assignment)
    }

    pub fn value(&self, key: &str) -> Option<String> {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
    }
}

pub struct NotifySocket {
    pub path: PathBuf,
    messages: Arc<Mutex<Vec<Message>>>,
}

impl NotifySocket {
    /// Listens at `path`; on READY=1 runs `bangui-ctl ping` against `probe`.
    pub fn start(path: &Path, probe: Option<PathBuf>) -> NotifySocket {
        let socket = UnixDatagram::bind(path).unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = Arc::clone(&messages);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok(n) = socket.recv(&mut buf) else { return };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let at = Instant::now();
                let ping_on_ready = match (&probe, text.lines().any(|l| l == "READY=1")) {
                    (Some(sock), true) => Some(
                        std::process::Command::new(crate::bin("bangui-ctl"))
                            .arg("--socket")
                            .arg(sock)
                            .arg("ping")
                            .output()
                            .is_ok_and(|o| o.status.success()),
                    ),
                    _ => None,
                };
                m.lock().unwrap().push(Message {
                    at,
                    text,
                    ping_on_ready,
                });
            }
        });
        NotifySocket {
            path: path.to_path_buf(),
            messages,
        }
    }

    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until a message holds `assignment` (e.g. "READY=1") and returns it.
    pub fn wait_for(&self, assignment: &str) -> Message {
        crate::wait_for(&format!("{assignment} on the notify socket"), || {
            self.messages().into_iter().find(|m| m.has(assignment))
        })
    }

    /// Waits until a message sets `key`, whatever its value.
    pub fn wait_for_key(&self, key: &str) -> Message {
        crate::wait_for(&format!("{key} on the notify socket"), || {
            self.messages().into_iter().find(|m| m.value(key).is_some())
        })
    }

    /// Messages holding `assignment` that arrived after `since`.
    pub fn count_since(&self, assignment: &str, since: Instant) -> Vec<Instant> {
        self.messages()
            .into_iter()
            .filter(|m| m.at >= since && m.has(assignment))
            .map(|m| m.at)
            .collect()
    }
}
