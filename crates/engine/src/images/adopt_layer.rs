//! A layer the builder wrote as an overlay writable directory becomes its
//! snapshot by a rename, instead of an unpack of the tar just written from
//! it (which would create every file a second time).
//!
//! The directory is first made what unpacking its tar would make: no mtime
//! later than the layer's (clamped, as the tar has them), and no
//! overlayfs bookkeeping left on copied-up directories (`trusted.overlay.*`
//! attributes other than `opaque`, which the tar says as `.wh..wh..opq`).
//! Whiteouts are already in overlay's form. Only directories that no
//! overlay mount uses any more are adopted (the builder's own COPY
//! snapshots, mounted nowhere once written).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use berth_image::Digest;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};

use super::layers::ReadyLayer;
use crate::Engine;
use crate::error::{Error, Result};
use crate::store::leases::{self, Lease, RefKind};
use crate::store::snapshots;

impl Engine {
    /// Makes `dir` the ready snapshot of the layer `diff_id`, unless one is
    /// ready already (then `dir` is left as it is).
    pub(crate) fn adopt_layer(
        &self,
        lease: Lease,
        diff_id: &Digest,
        dir: &Path,
        clamp_mtime: Option<i64>,
    ) -> Result<ReadyLayer> {
        let existing_or_new = self.db.write(|c| {
            Ok(match snapshots::ready_for(c, diff_id.as_str())? {
                Some(existing) => {
                    leases::add_ref(c, lease, RefKind::Snapshot, &existing.id.to_string())?;
                    Err(existing.size)
                }
                None => Ok(snapshots::create_incomplete(
                    c,
                    lease,
                    Some(diff_id.as_str()),
                )?),
            })
        })?;
        let id = match existing_or_new {
            Err(size) => {
                return Ok(ReadyLayer {
                    size,
                    compression: berth_image::compression::Compression::None,
                });
            }
            Ok(id) => id,
        };
        let size = normalise(dir, clamp_mtime)?;
        let fs_dir = self.paths.snapshot_fs(id);
        if let Some(parent) = fs_dir.parent() {
            crate::store::perms::create_dir(parent, crate::store::perms::PRIVATE_DIR)?;
        }
        std::fs::rename(dir, &fs_dir).map_err(|e| {
            Error::internal(format!(
                "move {} to {}: {e}",
                dir.display(),
                fs_dir.display()
            ))
        })?;
        crate::store::perms::set_mode(&fs_dir, crate::store::perms::CONTENT_DIR)?;
        berth_image::unpack::sync_filesystem(&self.paths.snapshots).map_err(|e| {
            Error::internal(format!("sync {}: {e}", self.paths.snapshots.display()))
        })?;
        self.db.write(|c| {
            let _ = snapshots::mark_ready(c, lease, id, diff_id.as_str(), size)?;
            Ok(())
        })?;
        Ok(ReadyLayer {
            size,
            compression: berth_image::compression::Compression::None,
        })
    }
}

/// Clamps mtimes and drops overlay's bookkeeping below `dir`; returns the
/// layer's size as unpacking counts it (file and symlink sizes, each inode
/// once).
fn normalise(dir: &Path, clamp: Option<i64>) -> Result<u64> {
    let root = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::internal(format!("open {}: {e}", dir.display())))?;
    let mut seen = HashSet::new();
    let mut size = 0;
    walk(&root, dir, clamp, &mut seen, &mut size)?;
    Ok(size)
}

fn walk(
    dir: &rustix::fd::OwnedFd,
    shown: &Path,
    clamp: Option<i64>,
    seen: &mut HashSet<(u64, u64)>,
    size: &mut u64,
) -> Result<()> {
    let fail = |what: &str, e: rustix::io::Errno| {
        Error::internal(format!("{what} in {}: {e}", shown.display()))
    };
    strip_overlay_xattrs(dir).map_err(|e| fail("overlay attributes", e))?;
    let names = crate::build::tree::list(dir, "a layer")?;
    for name in names {
        let st = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| fail("stat", e))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        match kind {
            FileType::Directory => {
                let child = crate::build::tree::open_dir(dir, name.as_str())
                    .map_err(|e| fail("open", e))?;
                walk(&child, &shown.join(&name), clamp, seen, size)?;
            }
            // Each inode once (hard links).
            FileType::RegularFile | FileType::Symlink if seen.insert((st.st_dev, st.st_ino)) => {
                *size += st.st_size as u64;
            }
            _ => {}
        }
        // As the tar has it: whole seconds, none later than the epoch.
        let sec = clamp.map_or(st.st_mtime, |epoch| st.st_mtime.min(epoch));
        if sec != st.st_mtime || st.st_mtime_nsec != 0 {
            let t = Timespec {
                tv_sec: sec,
                tv_nsec: 0,
            };
            let times = Timestamps {
                last_access: t,
                last_modification: t,
            };
            rustix::fs::utimensat(dir, name.as_str(), &times, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fail("set times", e))?;
        }
    }
    Ok(())
}

/// Removes `trusted.overlay.*` attributes other than `opaque` from a
/// directory (origin, impure, nlink: a copy-up's notes to itself).
fn strip_overlay_xattrs(dir: &rustix::fd::OwnedFd) -> rustix::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let n = match rustix::fs::flistxattr(dir, &mut buf) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(e),
    };
    for name in buf[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.overlay.") && name != b"trusted.overlay.opaque" {
            rustix::fs::fremovexattr(dir, OsStr::from_bytes(name))?;
        }
    }
    Ok(())
}
