//! Containers: created from an image, run under a per-container monitor,
//! listed, stopped, removed and committed, all without a daemon.
//!
//! The database row is the truth other commands read; the monitor (a
//! detached `berth` process, see `monitor/`) owns a running container and
//! records how it ended. Every command first reconciles rows whose owner died
//! (see `reconcile.rs`), so a killed monitor or CLI never leaves a container
//! that claims to run.

pub mod attach;
pub(crate) mod changes;
pub mod commit;
pub mod config;
pub mod copy;
pub mod copy_archive;
mod create;
pub mod exec;
pub(crate) mod exec_record;
pub(crate) mod files;
pub(crate) mod freeze;
pub mod health;
mod inspect;
pub use inspect::rfc3339;
pub(crate) mod lifecycle;
pub mod list;
pub mod logs;
pub(crate) mod names;
mod namespace_modes;
pub mod parse;
pub mod port_spec;
pub mod prune;
mod reconcile;
pub(crate) mod record;
mod remove;
pub(crate) mod rename;
mod restore;
pub mod root;
pub(crate) mod security;
pub(crate) mod spec;
#[cfg(test)]
mod spec_tests;
mod top;
pub mod update;
pub(crate) mod user;
pub(crate) mod validate;
pub(crate) mod volume_mounts;
pub mod volumes;
pub(crate) mod volumes_record;

pub use config::{
    ContainerConfig, EndpointConfig, HostConfig, MountKind, MountSpec, PortBinding, Resources,
    RestartPolicy,
};
pub use create::{CreateRequest, Created};
pub use record::{ContainerRow, State};

use crate::Engine;
use crate::error::Result;

/// The runtime state directory of the engine's containers.
pub fn runtime_root(run_root: &std::path::Path) -> std::path::PathBuf {
    run_root.join("runtime")
}

impl Engine {
    /// A container by ID, unique ID prefix or name, after reconciling.
    pub fn container(&self, name_or_id: &str) -> Result<ContainerRow> {
        let row = self.db.read(|c| record::resolve(c, name_or_id))?;
        self.reconcile_one(row)
    }

    /// Every container, newest first, after reconciling.
    pub fn containers(&self) -> Result<Vec<ContainerRow>> {
        let rows = self.db.read(record::all)?;
        let mut out = Vec::new();
        for row in rows {
            match self.reconcile_one(row) {
                Ok(r) => out.push(r),
                // A half-made container that reconciling removed.
                Err(e) if e.kind == crate::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}
