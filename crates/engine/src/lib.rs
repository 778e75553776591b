//! berth-engine: the model behind every front door. Images, containers and
//! volumes, their metadata in SQLite, and the [`Engine`] facade the CLI
//! (and later the API daemon) calls.
//!
//! An [`Engine`] is `Send + Sync`: many threads of one long-lived process
//! call it at once (each call borrows a database connection from a small
//! pool), and no call changes the calling process — nothing forks it, moves
//! it into a namespace or replaces its stdio. Containers are created and
//! entered only by their monitor (see [`monitor`]), a separate
//! single-threaded process. Calls are synchronous; pull and push also come
//! as async functions for callers that run a tokio runtime.

#![forbid(unsafe_code)]
// serde_json::json! of a whole `inspect` document nests deeply.
#![recursion_limit = "256"]

pub mod build;
pub mod cancel;
pub mod config;
pub mod containers;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod images;
pub mod monitor;
pub mod networks;
pub mod progress;
pub mod registries;
pub mod runtimes;
pub(crate) mod snapshotter;
pub(crate) mod store;
pub mod system;
pub mod times;

use std::path::{Path, PathBuf};

use berth_image::owner::ProcessToken;

pub use berth_registry::Credentials;
pub use berth_runtime::ContainerStats;
pub use config::EngineConfig;
pub use error::{Error, ErrorKind, Result};
pub use registries::{SearchOptions, normalize_server};
use store::{Db, Paths};

/// Where an engine keeps its state.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Persistent data (`/var/lib/berth`).
    pub root: PathBuf,
    /// Runtime state that does not survive a reboot (`/run/berth`).
    pub run_root: PathBuf,
    /// berth's binary, started (sealed) as each container's monitor; None:
    /// the running one (a library caller that is not berth names it).
    pub binary: Option<PathBuf>,
}

pub struct Engine {
    paths: Paths,
    run_root: PathBuf,
    binary: Option<PathBuf>,
    db: Db,
    config: EngineConfig,
    owner: ProcessToken,
}

impl Engine {
    /// Opens (creating if needed) the store at `options.root`, then sweeps what
    /// crashed processes left behind.
    pub fn open(options: &EngineOptions) -> Result<Engine> {
        let root = &options.root;
        std::fs::create_dir_all(root).map_err(|e| {
            Error::new(
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    ErrorKind::PermissionDenied
                } else {
                    ErrorKind::Internal
                },
                format!("create data root {}: {e}", root.display()),
            )
        })?;
        let paths = Paths::create(root)?;
        // Monitor sockets and runtime state: root's alone (Docker's 0700).
        store::perms::create_private_dir(&options.run_root)?;
        let db = Db::open(&root.join("berth.db"))?;
        let config = EngineConfig::load(root)?;
        let engine = Engine {
            paths,
            run_root: options.run_root.clone(),
            binary: options.binary.clone(),
            db,
            config,
            owner: ProcessToken::current(),
        };
        if first_open_in_process(root) {
            engine.sweep()?;
        }
        Ok(engine)
    }

    /// Cleans what crashed processes left behind (see `store::sweep`) and
    /// closes surplus idle database connections.
    /// [`Engine::open`] does it once per process and data root; a
    /// long-lived process calls this now and then.
    pub fn sweep(&self) -> Result<store::sweep::SweepReport> {
        let report = store::sweep::sweep(&self.db, &self.paths)?;
        self.thaw_abandoned(&report.freezes_released)?;
        // Not from a monitor (started sealed): it may be one of those
        // containers' own.
        if std::env::var_os(berth_runtime::sealed::SEALED_ENV).is_none() {
            self.sweep_abandoned_builds()?;
        }
        self.db.trim_idle();
        Ok(report)
    }

    pub fn root(&self) -> &Path {
        &self.paths.root
    }

    pub fn run_root(&self) -> &Path {
        &self.run_root
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// What this engine was opened with (to open another in a new thread
    /// or process).
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            root: self.paths.root.clone(),
            run_root: self.run_root.clone(),
            binary: self.binary.clone(),
        }
    }
}

/// True the first time a process opens the store at `root`.
fn first_open_in_process(root: &Path) -> bool {
    static OPENED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut opened) = OPENED.lock() else {
        return true;
    };
    if opened.iter().any(|p| p == root) {
        return false;
    }
    opened.push(root.to_path_buf());
    true
}

// Every front door shares one engine across threads.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Engine>();
};

/// Unix time in nanoseconds (for ordering and timestamps in the database).
pub fn now_nanos() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
}

/// Now as RFC 3339 with nanoseconds, as Docker writes `created`.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
