//! bangui's own state: one SQLite file in WAL mode, owned by one thread.
//!
//! Every change runs on that thread; async code sends it closures through
//! [`Db::call`] and awaits the answer, so SQLite never blocks a tokio worker.
//! Long queries that answer readers (history statistics and pages) go to a
//! second thread with a read-only connection ([`Db::read`]): in WAL mode
//! they see the last commit and never hold up a write.

pub mod migrate;
pub mod runs;
pub mod sessions;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

pub use migrate::MigrateError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is closed")]
    Closed,
    #[error("cannot start the database thread: {0}")]
    Thread(std::io::Error),
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

type Call = Box<dyn FnOnce(&mut Connection) + Send>;

enum Message {
    Call(Call),
    Close(oneshot::Sender<()>),
}

/// A handle to the database thread. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    tx: mpsc::Sender<Message>,
    /// The read-only connection's thread.
    read_tx: mpsc::Sender<Message>,
    /// The directory holding the file, for free-space checks.
    dir: Arc<PathBuf>,
    /// A write failed with "database or disk is full" and no space has come back since.
    full: Arc<AtomicBool>,
}

/// Free space in the state directory that counts as "space came back".
const ROOM: u64 = 1024 * 1024;

impl StoreError {
    /// SQLite could not write because the disk (or the file system) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Sqlite(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
    }
}

/// What opening found.
#[derive(Debug, Clone, Copy)]
pub struct Opened {
    pub schema_version: u32,
    pub migrations_applied: usize,
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Db {
    /// Opens (creating if needed) and migrates the database, then hands the
    /// connection to its own thread. Blocking: call it from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<(Db, Opened), StoreError> {
        Db::open_with(path, migrate::MIGRATIONS)
    }

    /// As [`Db::open`] with a given migration list (tests use their own).
    pub fn open_with(
        path: &Path,
        migrations: &[migrate::Migration],
    ) -> Result<(Db, Opened), StoreError> {
        let mut conn = open_connection(path)?;
        let opened = migrate::run(&mut conn, migrations, path)?;
        owner_only(path);
        let reader = open_reader(path)?;
        let (tx, rx) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("bangui-db".into())
            .spawn(move || serve(conn, rx, shut))
            .map_err(StoreError::Thread)?;
        let (read_tx, read_rx) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("bangui-db-read".into())
            .spawn(move || serve(reader, read_rx, close_reader))
            .map_err(StoreError::Thread)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((
            Db {
                tx,
                read_tx,
                dir: Arc::new(dir),
                full: Arc::new(AtomicBool::new(false)),
            },
            opened,
        ))
    }

    /// Runs `f` on the database thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let result = on(&self.tx, f).await;
        if let Err(e) = &result
            && e.is_disk_full()
            && !self.full.swap(true, Ordering::Relaxed)
        {
            tracing::error!(
                dir = %self.dir.display(),
                "the state directory's disk is full: changes fail, reads go on; free some space"
            );
        }
        result
    }

    /// Runs `f` on the read-only connection: for queries that may take a
    /// while and change nothing. A write there fails ("attempt to write a
    /// readonly database").
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        on(&self.read_tx, move |conn| f(conn)).await
    }

    /// Bytes free for the daemon in the state directory, if it can tell.
    pub fn free_space(&self) -> Option<u64> {
        let stat = nix::sys::statvfs::statvfs(self.dir.as_path()).ok()?;
        Some(stat.blocks_available() as u64 * stat.fragment_size() as u64)
    }

    /// Whether writes are failing for lack of space: set by a failed write,
    /// cleared once the state directory has room again.
    pub fn disk_full(&self) -> bool {
        if !self.full.load(Ordering::Relaxed) {
            return false;
        }
        if self.free_space().is_some_and(|free| free >= ROOM) {
            self.full.store(false, Ordering::Relaxed);
            tracing::info!(dir = %self.dir.display(), "the state directory has room again");
            return false;
        }
        true
    }

    /// Finishes queued work, checkpoints the WAL and closes the connections
    /// (the reader first, so the checkpoint can truncate the WAL).
    pub async fn close(&self) {
        for tx in [&self.read_tx, &self.tx] {
            let (done_tx, done_rx) = oneshot::channel();
            if tx.send(Message::Close(done_tx)).is_ok() {
                let _ = done_rx.await;
            }
        }
    }
}

/// Sends `f` to a connection's thread and awaits its result.
async fn on<R, F>(tx: &mpsc::Sender<Message>, f: F) -> Result<R, StoreError>
where
    F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    R: Send + 'static,
{
    let (reply_tx, reply_rx) = oneshot::channel();
    let call: Call = Box::new(move |conn| {
        let _ = reply_tx.send(f(conn));
    });
    tx.send(Message::Call(call))
        .map_err(|_| StoreError::Closed)?;
    reply_rx.await.map_err(|_| StoreError::Closed)?
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // FULL: a committed record (a run, a confirmed ban) survives power loss too.
    // auto_vacuum takes effect only on a new database (before its first
    // table); it lets pruning hand space back with `incremental_vacuum`.
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(open_err)?;
    Ok(conn)
}

/// The read-only connection, opened after the migrations.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    use rusqlite::OpenFlags;
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    Ok(conn)
}

fn serve(conn: Connection, rx: mpsc::Receiver<Message>, close: fn(Connection)) {
    let mut conn = conn;
    while let Ok(message) = rx.recv() {
        match message {
            Message::Call(call) => call(&mut conn),
            Message::Close(done) => {
                close(conn);
                let _ = done.send(());
                return;
            }
        }
    }
    close(conn);
}

fn close_reader(conn: Connection) {
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "the database's read connection did not close cleanly");
    }
}

fn shut(conn: Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "database checkpoint at close failed");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "database did not close cleanly");
    }
}

/// Size of the database file plus its WAL, in bytes.
pub fn size_on_disk(path: &Path) -> u64 {
    let wal = {
        let mut p = path.as_os_str().to_owned();
        p.push("-wal");
        PathBuf::from(p)
    };
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The database, its WAL and shared-memory file readable by the daemon's
/// user only: they hold the master password's hash and list URLs. New files
/// are so already (the daemon runs under umask 077); this also narrows files
/// an older release created.
fn owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = Path::new(&name);
        if let Ok(meta) = std::fs::symlink_metadata(file)
            && meta.is_file()
            && meta.permissions().mode() & 0o077 != 0
            && let Err(e) = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
        {
            tracing::warn!(file = %file.display(), error = %e, "cannot make the database file private");
        }
    }
}
