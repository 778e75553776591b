//! A container's merged root for `cp`, `export` and `diff` readers, reached
//! through a file descriptor and never by changing the calling process (the
//! API daemon's threads call this at once).
//!
//! Running: the root as the container's monitor mounted it in its own mount
//! namespace, opened through `/proc/<monitor>/root/<container dir>/rootfs`
//! (the container's /proc, /sys and volumes are mounted in the container's
//! own namespace, not there). Stopped: the overlay mounted detached
//! (`fsmount`), a mount no path names, gone when the fd is closed.
//! Container paths are then resolved by the kernel beneath the fd
//! (`RESOLVE_IN_ROOT`).

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};

use super::record::ContainerRow;
use crate::Engine;
use crate::error::{Error, Result};

/// overlayfs' `statfs` magic number.
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

pub struct ContainerRoot {
    /// The root directory, for lookups confined beneath it.
    pub fd: OwnedFd,
}

impl Engine {
    pub fn container_root(&self, row: &ContainerRow) -> Result<ContainerRoot> {
        let dir = self.paths.container_dir(&row.id);
        if row.state.is_live() && row.owner.is_alive() {
            let target = dir.join("rootfs");
            let through = PathBuf::from(format!("/proc/{}/root", row.owner.pid)).join(
                target
                    .strip_prefix("/")
                    .map_err(|_| Error::internal("the data root is not an absolute path"))?,
            );
            let fd = rustix::fs::open(
                &through,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| {
                Error::internal(format!(
                    "open container {}'s root through its monitor ({}): {e}",
                    row.id,
                    through.display()
                ))
            })?;
            // The pid could have been reused, or the monitor not have
            // mounted the root yet: only its overlay is the container's root.
            let fs = rustix::fs::fstatfs(&fd)
                .map_err(|e| Error::internal(format!("statfs {}: {e}", through.display())))?;
            // f_type's width differs per architecture.
            #[allow(clippy::unnecessary_cast)]
            let kind = fs.f_type as i64;
            if kind != OVERLAYFS_SUPER_MAGIC || !row.owner.is_alive() {
                return Err(Error::conflict(format!(
                    "container {} is starting or stopping; try again",
                    row.id
                )));
            }
            return Ok(ContainerRoot { fd });
        }
        let mut snapshot = self.container_snapshot(row)?;
        if let Some(upper) = snapshot.upper.as_mut() {
            // A reader's mount: synced as usual whatever the container's.
            upper.volatile = false;
        }
        Ok(ContainerRoot {
            fd: snapshot.mount_detached()?,
        })
    }
}
