//! A stand-in for journald's native socket: records every entry the daemon
//! sends, decoded from the journal's native protocol (`KEY=value` lines, or
//! `KEY`, a 64-bit little-endian length and the raw value).

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub type Entry = BTreeMap<String, String>;

pub struct Journal {
    pub socket: PathBuf,
    entries: Arc<Mutex<Vec<Entry>>>,
}

/// One datagram as fields; None if it breaks the protocol.
pub fn decode(mut data: &[u8]) -> Option<Entry> {
    let mut entry = Entry::new();
    while !data.is_empty() {
        let nl = data.iter().position(|&b| b == b'\n')?;
        let line = &data[..nl];
        data = &data[nl + 1..];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            let key = String::from_utf8(line[..eq].to_vec()).ok()?;
            entry.insert(key, String::from_utf8_lossy(&line[eq + 1..]).into_owned());
        } else {
            let key = String::from_utf8(line.to_vec()).ok()?;
            let len = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
            let len = usize::try_from(len).ok()?;
            let value = data.get(8..8 + len)?;
            entry.insert(key, String::from_utf8_lossy(value).into_owned());
            if data.get(8 + len) != Some(&b'\n') {
                return None;
            }
            data = &data[8 + len + 1..];
        }
    }
    Some(entry)
}

impl Journal {
    pub fn start(socket: &Path) -> Journal {
        let listener = UnixDatagram::bind(socket).unwrap();
        let entries = Arc::new(Mutex::new(Vec::new()));
        let e = Arc::clone(&entries);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let Ok(n) = listener.recv(&mut buf) else {
                    return;
                };
                if n == 0 {
                    continue;
                }
                let entry = decode(&buf[..n]).unwrap_or_else(|| {
                    let mut broken = Entry::new();
                    broken.insert(
                        "UNDECODABLE".into(),
                        String::from_utf8_lossy(&buf[..n]).into(),
                    );
                    broken
                });
                e.lock().unwrap().push(entry);
            }
        });
        Journal {
            socket: socket.to_path_buf(),
            entries,
        }
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap().clone()
    }

    /// What `journalctl FIELD=value` would show.
    pub fn matching(&self, field: &str, value: &str) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| e.get(field).is_some_and(|v| v == value))
            .collect()
    }

    /// The wrapper that runs a command with this socket as the journal's
    /// (a private mount namespace with its own /run/systemd).
    pub fn wrapper(&self) -> Vec<String> {
        let script = format!(
            "mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal && \
             ln -s {:?} /run/systemd/journal/socket && exec \"$@\"",
            self.socket.display().to_string()
        );
        ["unshare", "-m", "sh", "-c", &script, "sh"]
            .into_iter()
            .map(String::from)
            .collect()
    }
}
