//! One way to get a root filesystem, in the spirit of containerd's
//! snapshotter: a snapshot is a chain of read-only layers (an image's
//! unpacked layers, top-most first) under an optional writable layer;
//! *prepare* makes a writable snapshot on a chain, *view* a read-only one,
//! *commit* turns a writable layer's changes into a new image layer. A
//! snapshot is a mount description, not a mounted path: the caller mounts
//! it where it must be (the monitor in its own mount namespace) or nowhere
//! (a detached mount, for readers in any thread).
//!
//! Containers (their root), `cp`, `export` and `diff` (a stopped
//! container's root), `commit` and, next, the builder all get their roots
//! here.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use berth_image::Digest;

use crate::Engine;
use crate::containers::record::ContainerRow;
use crate::error::{Error, Result};
use crate::images::layers::{LayerSource, ReadyLayer};
use crate::images::record as images;
use crate::store::leases::Lease;
use crate::store::perms;
use crate::store::snapshots;

/// The writable top of a snapshot.
#[derive(Clone, Debug)]
pub struct Upper {
    /// Where changes go (overlay's upper directory).
    pub dir: PathBuf,
    /// overlay's work directory, on the same file system.
    pub work: PathBuf,
    /// Not synced on unmount: for layers thrown away with their container.
    pub volatile: bool,
}

/// A root filesystem as a mount description.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Read-only layers, top-most first (overlay's order).
    pub lowers: Vec<PathBuf>,
    pub upper: Option<Upper>,
}

impl Snapshot {
    fn overlay(&self) -> Result<berth_runtime::overlay::Overlay> {
        let upper = self
            .upper
            .as_ref()
            .ok_or_else(|| Error::internal("a read-only snapshot has no overlay of its own"))?;
        Ok(berth_runtime::overlay::Overlay {
            lowers: self.lowers.clone(),
            upper: upper.dir.clone(),
            work: upper.work.clone(),
            volatile: upper.volatile,
        })
    }

    /// Mounts the snapshot on `target`, in the caller's mount namespace
    /// (the monitor's own).
    pub fn mount(&self, target: &Path) -> Result<()> {
        Ok(self.overlay()?.mount(target)?)
    }

    /// Mounts the snapshot nowhere; the fd is its root. Changes nothing
    /// about the calling process, so any thread may call it.
    pub fn mount_detached(&self) -> Result<OwnedFd> {
        if self.upper.is_none() && self.lowers.len() == 1 {
            // One read-only layer: a read-only bind of it.
            return Ok(berth_runtime::overlay::readonly_view(&self.lowers[0])?);
        }
        match &self.upper {
            Some(_) => Ok(self.overlay()?.mount_detached()?),
            None => Ok(berth_runtime::overlay::Overlay {
                lowers: self.lowers.clone(),
                upper: PathBuf::new(),
                work: PathBuf::new(),
                volatile: false,
            }
            .mount_detached_readonly()?),
        }
    }
}

impl Engine {
    /// An image's unpacked layers, top-most first.
    pub(crate) fn image_layers(&self, image: &Digest) -> Result<Vec<PathBuf>> {
        let mut dirs = self.db.read(|c| {
            let mut dirs = Vec::new();
            for layer in images::layers(c, image)? {
                let snap = snapshots::ready_for(c, layer.diff_id.as_str())?.ok_or_else(|| {
                    Error::internal(format!(
                        "image {}: layer {} is not unpacked; run `berth system check --repair`",
                        image.short(),
                        layer.diff_id
                    ))
                })?;
                dirs.push(self.paths.snapshot_fs(snap.id));
            }
            Ok(dirs)
        })?;
        dirs.reverse();
        Ok(dirs)
    }

    /// A read-only view of an image's root.
    pub fn view(&self, image: &Digest) -> Result<Snapshot> {
        let lowers = self.image_layers(image)?;
        if lowers.is_empty() {
            return Err(Error::invalid(format!(
                "image {} has no layers to view",
                image.short()
            )));
        }
        Ok(Snapshot {
            lowers,
            upper: None,
        })
    }

    /// Makes a writable snapshot on `image`'s layers (plus `extra` read-only
    /// layers on top of them, such as a container's init layer) in `dir`
    /// (`dir/diff` and `dir/work`).
    pub(crate) fn prepare(
        &self,
        image: &Digest,
        extra: &[PathBuf],
        dir: &Path,
    ) -> Result<Snapshot> {
        let upper = Upper {
            dir: dir.join("diff"),
            work: dir.join("work"),
            volatile: false,
        };
        perms::create_dir(&upper.dir, perms::CONTENT_DIR)?;
        perms::create_dir(&upper.work, perms::PRIVATE_DIR)?;
        let mut lowers: Vec<PathBuf> = extra.iter().rev().cloned().collect();
        lowers.extend(self.image_layers(image)?);
        Ok(Snapshot {
            lowers,
            upper: Some(upper),
        })
    }

    /// A container's root: its writable layer over its init layer over its
    /// image's layers.
    pub(crate) fn container_snapshot(&self, row: &ContainerRow) -> Result<Snapshot> {
        let image = Digest::parse(&row.image_id)
            .map_err(|e| Error::internal(format!("container {}: image id: {e}", row.id)))?;
        let dir = self.paths.container_dir(&row.id);
        let mut lowers = vec![dir.join("init")];
        lowers.extend(self.image_layers(&image)?);
        Ok(Snapshot {
            lowers,
            upper: Some(Upper {
                dir: dir.join("diff"),
                work: dir.join("work"),
                // `--rm`: the layer dies with the container, no need to sync it.
                volatile: row.config.host.auto_remove,
            }),
        })
    }

    /// Commits a snapshot's writable layer as an image layer: written as a
    /// deterministic tar (overlay whiteouts back in `.wh.` form) and stored
    /// as a blob, whose digest is the diff ID; a layer some image has
    /// already is reused, a new one unpacked, all under `lease`.
    /// `clamp_mtime`: no mtime later than that in the layer (a
    /// reproducible build's epoch).
    pub(crate) fn commit_snapshot(
        &self,
        lease: Lease,
        snapshot: &Snapshot,
        what: String,
        clamp_mtime: Option<i64>,
    ) -> Result<(berth_image::content::Ingested, ReadyLayer)> {
        let blob = self.write_layer_blob(snapshot, clamp_mtime)?;
        // The layer is an uncompressed tar, so its digest is its diff ID.
        // Only now is the snapshot made: a layer whose content some image
        // has already reuses that one instead of unpacking a copy.
        let diff_id = blob.digest().clone();
        let mut ready = self.ensure_layers(
            lease,
            &[LayerSource {
                diff_id: diff_id.clone(),
                blob_digest: diff_id,
                path: blob.path().to_path_buf(),
                what,
                diff_id_computed: true,
            }],
        )?;
        let layer = ready
            .pop()
            .ok_or_else(|| Error::internal("commit: no layer came back"))?;
        Ok((blob, layer))
    }

    /// As `commit_snapshot`, for a snapshot no mount uses any more (the
    /// builder's COPY): its writable directory becomes the layer's
    /// snapshot (see `images/adopt_layer.rs`) instead of being unpacked
    /// again from the tar.
    pub(crate) fn commit_adopting(
        &self,
        lease: Lease,
        snapshot: &Snapshot,
        clamp_mtime: Option<i64>,
    ) -> Result<(berth_image::content::Ingested, ReadyLayer)> {
        let upper = snapshot
            .upper
            .as_ref()
            .ok_or_else(|| Error::internal("commit: the snapshot has no writable layer"))?;
        let blob = self.write_layer_blob(snapshot, clamp_mtime)?;
        let layer = self.adopt_layer(lease, blob.digest(), &upper.dir, clamp_mtime)?;
        Ok((blob, layer))
    }

    /// The writable layer as a tar blob (ingested, not yet committed).
    fn write_layer_blob(
        &self,
        snapshot: &Snapshot,
        clamp_mtime: Option<i64>,
    ) -> Result<berth_image::content::Ingested> {
        let upper = snapshot
            .upper
            .as_ref()
            .ok_or_else(|| Error::internal("commit: the snapshot has no writable layer"))?
            .dir
            .clone();
        // The blob and then the snapshot: ~2x the layer's size written
        // before the final sync; flushing as we go makes that sync short.
        let _writeback = crate::store::writeback::BackgroundSync::start_now(&self.paths.snapshots);
        let (reader, writer) =
            std::io::pipe().map_err(|e| Error::internal(format!("commit: create a pipe: {e}")))?;
        std::thread::scope(|s| {
            let producer = s
                .spawn(move || berth_image::diff::write_layer_clamped(&upper, writer, clamp_mtime));
            let stored = self.store_blob(reader);
            let produced = producer
                .join()
                .map_err(|_| Error::internal("commit: the layer writer panicked"))?;
            // The store's failure first: when it stops reading (a full
            // disk), the writer's broken pipe is only the consequence.
            let stored = stored?;
            produced.map_err(|e| Error::from(berth_image::Error::from(e)))?;
            Ok::<_, Error>(stored)
        })
    }
}
