//! berth-engine: the model behind every front door. Images today (containers,
//! volumes and networks as their issues land), their metadata in SQLite, and
//! the [`Engine`] facade the CLI (and later the API daemon) calls.
//!
//! Synchronous by design: the CLI is one short-lived process per command; the
//! few parallel parts (unpacking layers) use scoped threads.

#![forbid(unsafe_code)]
// serde_json::json! of a whole `inspect` document nests deeply.
#![recursion_limit = "256"]

pub mod config;
pub mod containers;
pub mod error;
pub mod failpoint;
pub mod images;
pub mod progress;
pub mod registry_settings;
pub mod store;
pub mod system;

use std::path::{Path, PathBuf};

use berth_image::owner::ProcessToken;

pub use berth_registry::Credentials;
pub use config::EngineConfig;
pub use error::{Error, ErrorKind, Result};
pub use registry_settings::normalize_server;
use store::{Db, Paths};

/// Where an engine keeps its state.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Persistent data (`/var/lib/berth`).
    pub root: PathBuf,
    /// Runtime state that does not survive a reboot (`/run/berth`).
    pub run_root: PathBuf,
}

pub struct Engine {
    paths: Paths,
    run_root: PathBuf,
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
        let db = Db::open(&root.join("berth.db"))?;
        let config = EngineConfig::load(root)?;
        let engine = Engine {
            paths,
            run_root: options.run_root.clone(),
            db,
            config,
            owner: ProcessToken::current(),
        };
        store::sweep::sweep(&engine.db, &engine.paths)?;
        Ok(engine)
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
}

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
