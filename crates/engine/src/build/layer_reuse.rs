//! `COPY --from=STAGE /dir /dir` where `/dir` is the whole of one layer of
//! the other stage (that stage's own `COPY ... /dir`, say) and the stage
//! copying has no `/dir`: the layer the copy would write holds exactly the
//! entries of that layer, with the same owners, modes, link targets,
//! contents and (clamped) mtimes, so its tar is that layer's tar, byte for
//! byte. That layer is used as it is: no file is written and no tar made
//! for an answer content addressing would reach anyway after the work.
//!
//! Every condition under which the copy would write something else is
//! checked, and any doubt means "copy". The layer's tar must be one berth's
//! layer writer made (`built_layers`): another tool's tar of the same
//! files may differ in bytes. The copy makes `/dir` itself root's,
//! 0755, dated at the epoch; it carries no extended attributes, skips
//! devices, sockets and whiteouts, and writes each hard link as a file of
//! its own. A layer with any of those, an mtime past the epoch, another
//! top-level entry, or a destination the stage already has, is copied.

use std::path::Path;

use rusqlite::OptionalExtension;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::Build;
use super::stage::State;
use super::tree::{list, on_two_threads, open_dir};
use crate::error::{Error, Result};
use crate::images::record::{self as images, LayerRow};
use crate::store::leases::{self, RefKind};
use crate::store::snapshots;

/// A layer of another image that is what a copy would write.
pub(super) struct Reused {
    pub layer: LayerRow,
    pub size: u64,
}

impl Build<'_> {
    /// The layer of `source_image` that `COPY --from` of the directory
    /// `rel` (one path component) to `dest` would write again, if there is
    /// one; held by the build's lease.
    pub(super) fn reusable_layer(
        &self,
        source_image: &berth_image::Digest,
        rel: &str,
        dest: &str,
        state: &State,
    ) -> Result<Option<Reused>> {
        if rel.is_empty() || rel.contains('/') || rel == "." || rel == ".." {
            return Ok(None);
        }
        if dest.trim_end_matches('/') != format!("/{rel}") {
            return Ok(None);
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if state.epoch > now {
            // The directory the copy makes would be dated now, not at the
            // epoch.
            return Ok(None);
        }
        // A layer not unpacked: nothing to compare with, copy.
        let Ok(own) = self.layer_snapshots(&state.layers) else {
            return Ok(None);
        };
        for (_, id, _) in &own {
            if std::fs::symlink_metadata(self.engine.paths.snapshot_fs(*id).join(rel)).is_ok() {
                return Ok(None);
            }
        }
        let source_layers = self.engine.db.read(|c| images::layers(c, source_image))?;
        let Ok(theirs) = self.layer_snapshots(&source_layers) else {
            return Ok(None);
        };
        let holders: Vec<&(LayerRow, i64, u64)> = theirs
            .iter()
            .filter(|(_, id, _)| {
                std::fs::symlink_metadata(self.engine.paths.snapshot_fs(*id).join(rel)).is_ok()
            })
            .collect();
        let [(layer, snapshot, size)] = holders.as_slice() else {
            return Ok(None);
        };
        // Only a tar berth's writer made is the tar the copy's layer would
        // be: another tool's tar of the same files may differ in bytes.
        let built = self.engine.db.read(|c| {
            Ok(c.query_row(
                "SELECT 1 FROM built_layers WHERE diff_id = ?1",
                [layer.diff_id.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })?;
        if !built || layer.blob_digest != layer.diff_id {
            return Ok(None);
        }
        let root = self.engine.paths.snapshot_fs(*snapshot);
        // Any doubt (a file gone under a concurrent removal, an attribute
        // that cannot be listed): copy.
        if !written_as_copy(&root, rel, state.epoch).unwrap_or(false) {
            return Ok(None);
        }
        // Held until the image recording it is: a prune meanwhile must not
        // take the snapshot or the blob.
        let held = self.engine.db.write(|c| {
            let Some(ready) = snapshots::ready_for(c, layer.diff_id.as_str())? else {
                return Ok(false);
            };
            leases::add_ref(
                c,
                self.lease.lease,
                RefKind::Snapshot,
                &ready.id.to_string(),
            )?;
            leases::add_ref(
                c,
                self.lease.lease,
                RefKind::Blob,
                layer.blob_digest.as_str(),
            )?;
            Ok(true)
        })?;
        Ok(held.then(|| Reused {
            layer: layer.clone(),
            size: *size,
        }))
    }

    /// Each layer's ready snapshot (id) and size.
    fn layer_snapshots(&self, layers: &[LayerRow]) -> Result<Vec<(LayerRow, i64, u64)>> {
        self.engine.db.read(|c| {
            layers
                .iter()
                .map(|l| {
                    let snap = snapshots::ready_for(c, l.diff_id.as_str())?.ok_or_else(|| {
                        Error::internal(format!("layer {} is not unpacked", l.diff_id))
                    })?;
                    Ok((l.clone(), snap.id, snap.size))
                })
                .collect()
        })
    }
}

/// Whether the layer at `root` is exactly what copying `rel`'s contents
/// into a new `/rel` writes at `epoch`.
fn written_as_copy(root: &Path, rel: &str, epoch: i64) -> Result<bool> {
    let top = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::internal(format!("open {}: {e}", root.display())))?;
    if list(&top, "a layer")? != [rel] || has_xattrs(&top)? {
        return Ok(false);
    }
    let Ok(dir) = open_dir(&top, rel) else {
        return Ok(false);
    };
    let st = rustix::fs::fstat(&dir).map_err(|e| Error::internal(format!("stat: {e}")))?;
    // As the copy makes the destination directory.
    if (st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_mtime) != (0o755, 0, 0, epoch) {
        return Ok(false);
    }
    if has_xattrs(&dir)? {
        return Ok(false);
    }
    // On two threads, as the copy it stands for would run: thousands of
    // stat calls.
    let shown = root.join(rel);
    let names = list(&dir, "a layer")?;
    let (mine, theirs) =
        on_two_threads(&names, |half| entries_as_copied(&dir, &shown, half, epoch))?;
    Ok(mine && theirs)
}

fn below_as_copied(dir: &rustix::fd::OwnedFd, shown: &Path, epoch: i64) -> Result<bool> {
    if has_xattrs(dir)? {
        return Ok(false);
    }
    entries_as_copied(dir, shown, &list(dir, "a layer")?, epoch)
}

fn entries_as_copied(
    dir: &rustix::fd::OwnedFd,
    shown: &Path,
    names: &[String],
    epoch: i64,
) -> Result<bool> {
    for name in names {
        let st = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| Error::internal(format!("stat {}/{name}: {e}", shown.display())))?;
        if st.st_mtime > epoch {
            return Ok(false);
        }
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let child = open_dir(dir, name).map_err(|e| {
                    Error::internal(format!("open {}/{name}: {e}", shown.display()))
                })?;
                if !below_as_copied(&child, &shown.join(name), epoch)? {
                    return Ok(false);
                }
            }
            // A link's owner and time are its own; the copy recreates it
            // with both. Attributes the copy would not carry are refused.
            FileType::RegularFile | FileType::Symlink if st.st_nlink == 1 => {
                let path = shown.join(name);
                let n = rustix::fs::llistxattr(&path, &mut [0u8; 0][..]).map_err(|e| {
                    Error::internal(format!("list xattrs of {}: {e}", path.display()))
                })?;
                if n != 0 {
                    return Ok(false);
                }
            }
            _ => return Ok(false),
        }
    }
    Ok(true)
}

fn has_xattrs(fd: &rustix::fd::OwnedFd) -> Result<bool> {
    match rustix::fs::flistxattr(fd, &mut [0u8; 0][..]) {
        Ok(n) => Ok(n != 0),
        Err(rustix::io::Errno::NOTSUP) => Ok(false),
        Err(e) => Err(Error::internal(format!("list xattrs: {e}"))),
    }
}
