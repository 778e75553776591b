//! The store: SQLite metadata (WAL, one transaction per change), leases that
//! protect work in progress, garbage collection, and the start-up sweep that
//! cleans what a crashed process left.
//!
//! Several berth processes share one store. Every change runs in a
//! `BEGIN IMMEDIATE` transaction, so writers queue on SQLite's lock (with a
//! generous busy timeout) instead of failing, and readers never block.

pub mod event_log;
pub mod gc;
pub mod leases;
pub mod perms;
mod schema;
pub mod snapshots;
pub mod sweep;
pub mod writeback;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use berth_image::content::ContentStore;
use rusqlite::Connection;

use crate::error::{Error, Result};

/// Where the store keeps things below the data root.
#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
    pub content: ContentStore,
    /// `snapshots/<id>/fs`: short numeric names keep overlay option strings short.
    pub snapshots: PathBuf,
    /// Things being deleted: renamed here inside a transaction, removed after it.
    pub trash: PathBuf,
    /// `containers/<id>/`: bundle, writable layer, log, hosts files.
    pub containers: PathBuf,
    /// `volumes/<name>/_data`.
    pub volumes: PathBuf,
}

impl Paths {
    pub fn create(root: &Path) -> Result<Paths> {
        let paths = Paths {
            root: root.to_path_buf(),
            content: ContentStore::open(&root.join("content"))?,
            snapshots: root.join("snapshots"),
            trash: root.join("trash"),
            containers: root.join("containers"),
            volumes: root.join("volumes"),
        };
        perms::set_mode(root, perms::ROOT_DIR)?;
        perms::set_mode(&root.join("content"), perms::PRIVATE_DIR)?;
        for (dir, mode) in [
            (&paths.snapshots, perms::PRIVATE_DIR),
            (&paths.trash, perms::PRIVATE_DIR),
            (&paths.containers, perms::ROOT_DIR),
            (&paths.volumes, perms::VOLUMES_DIR),
        ] {
            perms::create_dir(dir, mode)?;
        }
        Ok(paths)
    }

    pub fn snapshot_dir(&self, id: i64) -> PathBuf {
        self.snapshots.join(id.to_string())
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers.join(id)
    }

    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes.join(name).join("_data")
    }

    /// The directory holding a snapshot's files (what overlay uses as a layer).
    pub fn snapshot_fs(&self, id: i64) -> PathBuf {
        self.snapshot_dir(id).join("fs")
    }
}

/// The metadata database: a small pool of connections, so that many threads
/// of one process (the API daemon's workers) use it at once. SQLite
/// serialises writers itself (`BEGIN IMMEDIATE`, busy timeout), across
/// threads and processes alike; readers never wait in WAL mode.
pub struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Idle connections kept for reuse; more are opened when threads need them.
/// The daemon runs one engine call per concurrent request on tokio's
/// blocking pool: with fewer idle connections than concurrent calls, most
/// calls opened a connection (and parsed the schema) anew — 8 idle gave
/// 8,000 requests/s from 50 clients, 64 give 20,000. `trim_idle` hands the
/// memory back once a burst is over.
const MAX_IDLE: usize = 64;

/// Idle connections `trim_idle` keeps.
const KEEP_IDLE: usize = 4;

/// A connection borrowed from the pool; it goes back when dropped.
pub struct PooledConnection<'a> {
    db: &'a Db,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConnection<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `Drop` takes it out.
        self.conn
            .as_ref()
            .expect("a pooled connection is present until dropped")
    }
}

impl Drop for PooledConnection<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // A caller that panicked inside a transaction must not hand the
        // next one an open transaction.
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if let Ok(mut idle) = self.db.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let conn = open_connection(path)?;
        // SQLite creates the file at the umask's mode, and its -wal and
        // -shm files at the database's: container configurations (and
        // their environment) are root's alone.
        perms::set_mode(path, perms::PRIVATE_FILE)?;
        enable_wal(&conn).map_err(|e| db_error(path, "enable WAL", e))?;
        let db = Db {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![conn]),
        };
        if schema::needs_migration(&*db.conn()?)? {
            db.write(schema::migrate)?;
        }
        Ok(db)
    }

    /// Closes idle connections beyond a few (each holds its page cache and
    /// statement cache): a long-lived process calls it after bursts.
    pub fn trim_idle(&self) {
        let surplus: Vec<Connection> = match self.idle.lock() {
            Ok(mut idle) if idle.len() > KEEP_IDLE => idle.split_off(KEEP_IDLE),
            _ => return,
        };
        drop(surplus);
    }

    /// A connection for reads outside a transaction (each statement sees a
    /// consistent snapshot).
    pub fn conn(&self) -> Result<PooledConnection<'_>> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match pooled {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        Ok(PooledConnection {
            db: self,
            conn: Some(conn),
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction; commits on Ok, rolls back on Err.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        self.write_on(&conn, f)
    }

    fn write_on<T>(
        &self,
        conn: &Connection,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        // A write inside a write on this thread would wait for its own
        // lock (the busy timeout, then fail): a bug, reported at once.
        let _depth = WriteDepth::enter().ok_or_else(|| {
            Error::internal(format!(
                "metadata database {}: a write transaction was started inside another on the same thread",
                self.path.display()
            ))
        })?;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| db_error(&self.path, "begin transaction", e))?;
        match f(conn) {
            Ok(v) => {
                conn.execute_batch("COMMIT")
                    .map_err(|e| db_error(&self.path, "commit", e))?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// As [`Db::write`], but committed without waiting for the disk
    /// (`synchronous=NORMAL` in WAL mode: atomic and consistent, and after a
    /// power loss possibly not there). For container state, which the next
    /// command reconciles with reality anyway; images keep full durability.
    pub fn write_relaxed<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        conn.execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(|e| db_error(&self.path, "configure", e))?;
        let out = self.write_on(&conn, f);
        let restored = conn
            .execute_batch("PRAGMA synchronous=FULL")
            .map_err(|e| db_error(&self.path, "configure", e));
        if restored.is_err() {
            // Never return a connection with relaxed durability to the pool.
            let mut conn = conn;
            conn.conn = None;
        }
        let out = out?;
        restored?;
        Ok(out)
    }

    /// Runs `f` in a read transaction so several queries see one snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        conn.execute_batch("BEGIN")
            .map_err(|e| db_error(&self.path, "begin transaction", e))?;
        let out = f(&conn);
        let _ = conn.execute_batch("COMMIT");
        out
    }
}

impl Db {
    /// SQLite's own checks: problems found by `integrity_check`, and the
    /// tables with rows whose references are missing.
    pub fn integrity_problems(&self) -> Result<(Option<String>, Vec<String>)> {
        let c = self.conn()?;
        let integrity: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let mut stmt = c.prepare_cached("PRAGMA foreign_key_check")?;
        let violations = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        Ok(((integrity != "ok").then_some(integrity), violations))
    }
}

thread_local! {
    static IN_WRITE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as inside a write transaction while it lives.
struct WriteDepth;

impl WriteDepth {
    fn enter() -> Option<WriteDepth> {
        IN_WRITE.with(|w| (!w.replace(true)).then_some(WriteDepth))
    }
}

impl Drop for WriteDepth {
    fn drop(&mut self) {
        IN_WRITE.with(|w| w.set(false));
    }
}

/// One connection, configured as every berth connection is.
fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| db_error(path, "open", e))?;
    conn.busy_timeout(Duration::from_secs(60))
        .map_err(|e| db_error(path, "configure", e))?;
    // synchronous=FULL: a committed change survives power loss, not only a crash.
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        .map_err(|e| db_error(path, "configure", e))?;
    // Every berth command is a short-lived process, and by default the
    // last connection to close checkpoints the WAL into the database
    // (two fsyncs, milliseconds on a journaled disk) on *every* command.
    // Committed data is already durable in the WAL (FULL commits sync
    // it), so leave checkpoints to the size-based autocheckpoint. Kept
    // small: the first connection of a process that finds no other one
    // open rebuilds the WAL index by reading the whole WAL (2.5 ms at
    // SQLite's default 1000 pages, ~0.2 ms at 64), and a container's
    // life writes about 7 pages, so a checkpoint comes every ~9 runs.
    conn.execute_batch("PRAGMA wal_autocheckpoint=64")
        .map_err(|e| db_error(path, "configure", e))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(|e| db_error(path, "configure", e))?;
    Ok(conn)
}

/// Switches to WAL (readers never block the writer). The mode is persistent,
/// so this only does work on a new database; there, several processes may race
/// to switch it, and SQLite answers BUSY without waiting, so retry briefly.
fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mode: rusqlite::Result<String> =
            conn.query_row("PRAGMA journal_mode", [], |r| r.get(0));
        let result = match mode {
            Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) => conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn db_error(path: &Path, op: &str, e: rusqlite::Error) -> Error {
    Error::internal(format!("metadata database {}: {op}: {e}", path.display()))
}
