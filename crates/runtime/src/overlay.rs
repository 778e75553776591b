//! The engine's container roots: an overlay of image layers under a writable
//! layer, mounted in a private mount namespace so the host never sees it.
//!
//! Mounting in the monitor's own mount namespace means no mount can leak: it
//! lives exactly as long as the monitor and the container that copied it.
//! The layers are passed one by one with fsconfig `lowerdir+` (Linux 6.8+),
//! so there is no limit from the one-page mount option string; older kernels
//! get the classic `lowerdir=a:b:c` string.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountPropagationFlags, MoveMountFlags,
};

use crate::error::{Error, Result};
use crate::sys;

/// Moves this (single-threaded) process into a mount namespace of its own
/// whose mounts receive the host's (slave) but never propagate back.
pub fn enter_private_mount_namespace() -> Result<()> {
    // unshare moves only the calling thread: in a multi-threaded process
    // the others would stay behind, a trap for whoever mounts next.
    crate::container::ensure_single_threaded("enter a private mount namespace")?;
    sys::unshare_mount_namespace()
        .map_err(|e| Error::system(format!("unshare the mount namespace: {e}")))?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| Error::system(format!("make / a slave mount: {e}")))
}

/// An overlay mount: `lowers` top-most first, as overlayfs lists them.
#[derive(Clone, Debug)]
pub struct Overlay {
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// overlayfs' `volatile` (Linux 5.10+; ignored where unknown): no sync
    /// of the upper file system, which otherwise happens on every unmount
    /// and costs milliseconds on a journaled disk. For writable layers that
    /// are thrown away with the container (`--rm`): after a host crash
    /// their contents may be incomplete. See [`clear_volatile_marker`].
    pub volatile: bool,
}

/// After a clean unmount of a volatile overlay, lets the same upper and work
/// directories be mounted again: the kernel refuses while the marker it left
/// (`work/incompat/volatile` in the work dir) exists, as it would after a
/// crash, when the upper may be damaged.
pub fn clear_volatile_marker(work: &Path) {
    let _ = std::fs::remove_dir(work.join("work/incompat/volatile"));
}

impl Overlay {
    /// Mounts the overlay on `target`.
    pub fn mount(&self, target: &Path) -> Result<()> {
        match self.mount_with_fsconfig(target) {
            Ok(()) => Ok(()),
            // EINVAL from `lowerdir+`: a kernel older than 6.8.
            Err(e) if e == rustix::io::Errno::INVAL => self.mount_with_string(target),
            Err(e) => Err(self.error(target, e)),
        }
    }

    /// Mounts the overlay nowhere: the returned fd is the root of a mount
    /// that no path names and that is gone when the fd is closed. Changes
    /// nothing about the calling process (no namespace, no mount table), so
    /// any thread may call it.
    pub fn mount_detached(&self) -> Result<OwnedFd> {
        let with_list = self.detached(true);
        match with_list {
            // EINVAL from `lowerdir+`: a kernel older than 6.8.
            Err(e) if e == rustix::io::Errno::INVAL => self.detached(false),
            other => other,
        }
        .map_err(|e| {
            Error::system(format!(
                "mount overlay of {} layers (upper {}): {e}",
                self.lowers.len(),
                self.upper.display()
            ))
        })
    }

    /// As [`Overlay::mount_detached`], with no upper directory: a
    /// read-only overlay of two or more lower layers.
    pub fn mount_detached_readonly(&self) -> Result<OwnedFd> {
        self.mount_detached()
    }

    fn detached(&self, one_by_one: bool) -> rustix::io::Result<OwnedFd> {
        let fs = self.configure(one_by_one)?;
        rustix::mount::fsmount(
            fs.as_fd(),
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::empty(),
        )
    }

    /// A configured overlay superblock: layers as `lowerdir+` one by one,
    /// or (older kernels) as one `lowerdir=a:b:c` string.
    fn configure(&self, one_by_one: bool) -> rustix::io::Result<OwnedFd> {
        let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        if one_by_one {
            for lower in &self.lowers {
                rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir+", lower)?;
            }
        } else {
            let joined: Vec<String> = self
                .lowers
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir", joined.join(":"))?;
        }
        // No upper directory: a read-only overlay of the lowers alone.
        if !self.upper.as_os_str().is_empty() {
            rustix::mount::fsconfig_set_string(fs.as_fd(), "upperdir", &self.upper)?;
            rustix::mount::fsconfig_set_string(fs.as_fd(), "workdir", &self.work)?;
        }
        // commit turns the upper dir back into a layer: no redirects or
        // metacopy entries, which have no OCI form.
        rustix::mount::fsconfig_set_string(fs.as_fd(), "redirect_dir", "off")?;
        rustix::mount::fsconfig_set_string(fs.as_fd(), "metacopy", "off")?;
        rustix::mount::fsconfig_set_string(fs.as_fd(), "index", "off")?;
        if self.volatile {
            // Older kernels do not know the flag: then it is a plain mount.
            let _ = rustix::mount::fsconfig_set_flag(fs.as_fd(), "volatile");
        }
        rustix::mount::fsconfig_create(fs.as_fd())?;
        Ok(fs)
    }

    fn mount_with_fsconfig(&self, target: &Path) -> rustix::io::Result<()> {
        let mnt = self.detached(true)?;
        rustix::mount::move_mount(
            mnt.as_fd(),
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
    }

    fn mount_with_string(&self, target: &Path) -> Result<()> {
        let lowers: Vec<String> = self
            .lowers
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let data = format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off,index=off",
            lowers.join(":"),
            self.upper.display(),
            self.work.display()
        );
        let data = std::ffi::CString::new(data)
            .map_err(|_| Error::invalid("overlay mount options hold a NUL byte"))?;
        rustix::mount::mount(
            "overlay",
            target,
            "overlay",
            rustix::mount::MountFlags::empty(),
            Some(data.as_c_str()),
        )
        .map_err(|e| self.error(target, e))
    }

    fn error(&self, target: &Path, e: rustix::io::Errno) -> Error {
        Error::system(format!(
            "mount overlay of {} layers on {} (upper {}): {e}",
            self.lowers.len(),
            target.display(),
            self.upper.display()
        ))
    }
}

/// A read-only view of one directory, mounted nowhere (a detached bind
/// made read-only); the fd is its root.
pub fn readonly_view(dir: &Path) -> Result<OwnedFd> {
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        dir,
        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
            | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| Error::system(format!("open_tree {}: {e}", dir.display())))?;
    sys::mount_setattr_readonly(&tree)
        .map_err(|e| Error::system(format!("make a view of {} read-only: {e}", dir.display())))?;
    Ok(tree)
}
