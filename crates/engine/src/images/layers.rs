//! Turning layer blobs into ready snapshots, in parallel, under a lease; and
//! committing blobs under the same lease. Shared by load and import (and by
//! pull and commit when they land).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_image::compression::{self, Compression};
use berth_image::content::Ingested;
use berth_image::digest::{HashingReader, is_limit_error};
use berth_image::unpack::{self, Limits};
use berth_image::{Digest, Error as ImageError};

use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::failpoint;
use crate::store::Paths;
use crate::store::gc::{self, Candidates};
use crate::store::leases::{self, Lease, RefKind};
use crate::store::snapshots::{self, Readied};

/// A layer to make available: its blob (in a file) and the diff ID the image
/// config promises for it.
pub struct LayerSource {
    pub diff_id: Digest,
    pub blob_digest: Digest,
    pub path: PathBuf,
    /// Names the layer in errors (`manifest.json: [0].Layers[1] "x/layer.tar"`).
    pub what: String,
    /// The diff ID was computed from this very file by this process (commit
    /// writes the tar and hashes it), so unpacking need not hash it again.
    pub diff_id_computed: bool,
}

/// A layer that is now a ready snapshot held by the lease.
#[derive(Clone, Debug)]
pub struct ReadyLayer {
    pub size: u64,
    pub compression: Compression,
}

/// Compression and unpacked size of one layer.
type TaskOutcome = Result<(Compression, u64)>;

enum Task {
    /// Unpack into a new snapshot and check the diff ID.
    Unpack { snapshot: i64 },
    /// The layer exists already but this blob was never seen with that diff
    /// ID: decompress and hash it to prove it matches before recording it.
    Verify { size: u64 },
    /// Known pair (blob, diff ID) with a ready snapshot: nothing to do.
    Reuse { size: u64 },
}

/// A lease that is released (and what it alone protected collected) when
/// dropped, unless the process dies first, in which case the next start does it.
pub struct LeaseGuard<'e> {
    engine: &'e Engine,
    pub lease: Lease,
    released: bool,
}

impl Engine {
    pub(crate) fn acquire_lease(&self) -> Result<LeaseGuard<'_>> {
        let lease = self.db.write(|c| leases::create(c, &self.owner))?;
        Ok(LeaseGuard {
            engine: self,
            lease,
            released: false,
        })
    }

    fn release_lease(&self, lease: Lease) -> Result<()> {
        let collected = self.db.write(|c| {
            let refs = leases::delete(c, lease)?;
            gc::collect(c, &self.paths, &Candidates::from_refs(&refs))
        })?;
        collected.empty_trash();
        Ok(())
    }

    /// Commits ingested blobs into the content store under `lease`.
    pub(crate) fn commit_blobs(&self, lease: Lease, blobs: Vec<Ingested>) -> Result<()> {
        self.db.write(|c| {
            for b in &blobs {
                leases::add_ref(c, lease, RefKind::Blob, b.digest().as_str())?;
            }
            Ok(())
        })?;
        for b in blobs {
            b.commit(None)?;
            failpoint::hit("load:blob-committed");
        }
        Ok(())
    }

    /// Makes every layer a ready snapshot, unpacking the missing ones in
    /// parallel. Returns one entry per source, in order.
    pub(crate) fn ensure_layers(
        &self,
        lease: Lease,
        sources: &[LayerSource],
    ) -> Result<Vec<ReadyLayer>> {
        // One task per distinct diff ID.
        let mut first_by_diff: HashMap<&Digest, usize> = HashMap::new();
        for (i, s) in sources.iter().enumerate() {
            first_by_diff.entry(&s.diff_id).or_insert(i);
        }
        let mut order: Vec<usize> = first_by_diff.values().copied().collect();
        order.sort_unstable();

        let tasks: Vec<(usize, Task)> = self.db.write(|c| {
            let mut tasks = Vec::new();
            for &i in &order {
                let s = &sources[i];
                let task = match snapshots::ready_for(c, s.diff_id.as_str())? {
                    Some(existing) => {
                        leases::add_ref(c, lease, RefKind::Snapshot, &existing.id.to_string())?;
                        let known = super::record::has_layer(
                            c,
                            s.blob_digest.as_str(),
                            s.diff_id.as_str(),
                        )?;
                        if known {
                            Task::Reuse {
                                size: existing.size,
                            }
                        } else {
                            Task::Verify {
                                size: existing.size,
                            }
                        }
                    }
                    None => Task::Unpack {
                        snapshot: snapshots::create_incomplete(c, lease, Some(s.diff_id.as_str()))?,
                    },
                };
                tasks.push((i, task));
            }
            Ok(tasks)
        })?;
        failpoint::hit("load:snapshot-created");

        let results = self.run_tasks(sources, &tasks)?;
        failpoint::hit("load:layer-unpacked");

        let any_unpacked = tasks.iter().any(|(_, t)| matches!(t, Task::Unpack { .. }));
        if any_unpacked {
            // One syncfs makes every unpacked file durable before any snapshot
            // is marked ready (far cheaper than an fsync per file).
            unpack::sync_filesystem(&self.paths.snapshots).ctx("sync", &self.paths.snapshots)?;
        }

        let ready: HashMap<&Digest, ReadyLayer> = self.db.write(|c| {
            let mut ready = HashMap::new();
            for ((i, task), (compression, size)) in tasks.iter().zip(&results) {
                let s = &sources[*i];
                let size = match task {
                    Task::Reuse { size, .. } | Task::Verify { size, .. } => *size,
                    Task::Unpack { snapshot } => {
                        // If another process readied the same layer first, ours
                        // stays incomplete and is collected with the lease.
                        let (Readied::Ours | Readied::Theirs) =
                            snapshots::mark_ready(c, lease, *snapshot, s.diff_id.as_str(), *size)?;
                        *size
                    }
                };
                ready.insert(
                    &s.diff_id,
                    ReadyLayer {
                        size,
                        compression: *compression,
                    },
                );
            }
            Ok(ready)
        })?;
        failpoint::hit("load:snapshot-ready");

        Ok(sources
            .iter()
            .map(|s| {
                let mut layer = ready[&s.diff_id].clone();
                // The same diff ID may come in differently compressed blobs.
                layer.compression = sniff(&s.path).unwrap_or(layer.compression);
                layer
            })
            .collect())
    }

    /// Runs the unpack/verify tasks on a small thread pool; returns
    /// (compression, size) per task in order.
    fn run_tasks(
        &self,
        sources: &[LayerSource],
        tasks: &[(usize, Task)],
    ) -> Result<Vec<(Compression, u64)>> {
        let limits = self.config.limits;
        let paths = &self.paths;
        let next = Mutex::new(0usize);
        let failed = AtomicBool::new(false);
        let results: Mutex<Vec<Option<TaskOutcome>>> =
            Mutex::new((0..tasks.len()).map(|_| None).collect());
        let threads = self.config.unpack_threads.clamp(1, tasks.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let k = {
                            let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                            let k = *n;
                            *n += 1;
                            k
                        };
                        if k >= tasks.len() || failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let (i, task) = &tasks[k];
                        let outcome = run_task(paths, &sources[*i], task, limits);
                        if outcome.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(outcome);
                    }
                });
            }
        });
        let mut out = Vec::with_capacity(tasks.len());
        let mut first_error = None;
        for r in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
            match r {
                Some(Ok(v)) => out.push(v),
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

fn run_task(
    paths: &Paths,
    source: &LayerSource,
    task: &Task,
    limits: Limits,
) -> Result<(Compression, u64)> {
    let file = File::open(&source.path).ctx("open layer", &source.path)?;
    let layer_error = |e: ImageError| Error::from(e.within(&source.what));
    match task {
        Task::Reuse { size, .. } => Ok((sniff(&source.path).unwrap_or(Compression::None), *size)),
        Task::Verify { size, .. } => {
            let (compression, reader) = compression::decompress(file)
                .map_err(|e| Error::invalid(format!("{}: {e}", source.what)))?;
            let hashing = HashingReader::with_limit(reader, limits.max_bytes);
            let (diff_id, _) = hashing.drain_and_finish().map_err(|e| {
                if is_limit_error(&e) {
                    Error::invalid(format!(
                        "{}: larger than the limit of {} bytes uncompressed",
                        source.what, limits.max_bytes
                    ))
                } else {
                    Error::invalid(format!("{}: cannot read layer: {e}", source.what))
                }
            })?;
            check_diff_id(source, &diff_id)?;
            Ok((compression, *size))
        }
        Task::Unpack { snapshot } => {
            let fs_dir = paths.snapshot_fs(*snapshot);
            crate::store::perms::create_snapshot_dir(&fs_dir)?;
            let stats = if source.diff_id_computed {
                unpack::unpack_layer_with_diff_id(file, &fs_dir, limits, &source.diff_id)
            } else {
                unpack::unpack_layer(file, &fs_dir, limits)
            }
            .map_err(layer_error)?;
            check_diff_id(source, &stats.diff_id)?;
            Ok((stats.compression, stats.size))
        }
    }
}

fn check_diff_id(source: &LayerSource, actual: &Digest) -> Result<()> {
    if actual != &source.diff_id {
        return Err(Error::invalid(format!(
            "{}: diff ID mismatch: the image config's rootfs.diff_ids says {} but the layer's content is {actual}",
            source.what, source.diff_id
        )));
    }
    Ok(())
}

/// The compression of a layer file, from its first bytes.
pub fn sniff(path: &Path) -> Option<Compression> {
    let mut head = [0u8; 8];
    let n = File::open(path).ok()?.read(&mut head).ok()?;
    Compression::detect(&head[..n]).ok()
}

impl LeaseGuard<'_> {
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.engine.release_lease(self.lease)
    }
}

impl Drop for LeaseGuard<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.engine.release_lease(self.lease);
        }
    }
}
