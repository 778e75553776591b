//! A container's merged root for `cp`, `export` and `diff` readers.
//!
//! Running: this process joins the mount namespace of the container's
//! monitor, where the root is mounted alone (the container's /proc, /sys and
//! volumes are mounted in the container's own namespace, not there).
//! Stopped: its overlay is mounted in a private mount namespace of this
//! process. Either way the caller must be single-threaded, and the mount is
//! gone when the process ends.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};

use super::record::ContainerRow;
use crate::Engine;
use crate::error::{Error, Result};

pub struct ContainerRoot {
    /// The root's path in this process's (new) mount namespace.
    pub path: PathBuf,
    /// The root directory, for lookups confined beneath it.
    pub fd: OwnedFd,
}

impl ContainerRoot {
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

impl Engine {
    pub fn container_root(&self, row: &ContainerRow) -> Result<ContainerRoot> {
        let dir = self.paths.container_dir(&row.id);
        let target = dir.join("rootfs");
        if row.state.is_live() && row.owner.is_alive() {
            let ns_path = format!("/proc/{}/ns/mnt", row.owner.pid);
            let ns = rustix::fs::open(&ns_path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::internal(format!("open {ns_path}: {e}")))?;
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Mount),
            )
            .map_err(|e| {
                Error::internal(format!(
                    "join the mount namespace of container {}'s monitor: {e}",
                    row.id
                ))
            })?;
        } else {
            let lowers = super::monitor::layer_dirs(self, row)?;
            berth_runtime::overlay::enter_private_mount_namespace()?;
            berth_runtime::overlay::Overlay {
                lowers,
                upper: dir.join("diff"),
                work: dir.join("work"),
                volatile: false,
            }
            .mount(&target)?;
        }
        let fd = rustix::fs::open(
            &target,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::internal(format!("open {}: {e}", target.display())))?;
        Ok(ContainerRoot { path: target, fd })
    }
}
