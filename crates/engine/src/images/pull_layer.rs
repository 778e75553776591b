//! The per-layer half of a pull that runs on a blocking thread: bytes arrive
//! from the download as they are received, are appended to the resumable
//! ingest file and hashed, and are decompressed and unpacked into the layer's
//! new snapshot at the same time — the layer is ready moments after its last
//! byte arrives. Nothing counts until the end: the blob digest and size and
//! the layer's diff ID must all match, else the snapshot stays incomplete
//! (collected with the lease) and the bad bytes are thrown away.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use berth_image::Digest;
use berth_image::compression::{self, Compression};
use berth_image::content::{Ingested, ResumableIngest};
use berth_image::digest::{Hasher, HashingReader, is_limit_error};
use berth_image::unpack::{self, Limits};
use bytes::Bytes;
use tokio::sync::mpsc::Receiver;

use crate::error::{Error, IoContext, Result};

/// What the download side sends the worker.
pub(crate) enum Feed {
    Data(Bytes),
    /// Every byte of the blob was sent.
    End,
    /// The download failed for good; the partial file is kept for a resume.
    Failed(String),
}

/// What to do with the bytes besides storing them.
pub(crate) enum Work {
    /// Unpack into this (new, incomplete) snapshot directory.
    Unpack { fs_dir: PathBuf },
    /// The layer is unpacked already; prove this blob is that layer.
    Verify,
}

/// Where the blob's bytes come from.
pub(crate) enum Source {
    /// Downloaded now, after whatever an earlier attempt left on disk.
    Download {
        ingest: ResumableIngest,
        feed: Receiver<Feed>,
    },
    /// Another pull committed the blob while we waited for it.
    Stored { path: PathBuf },
}

pub(crate) struct LayerWork {
    pub blob: Digest,
    pub size: u64,
    pub diff_id: Digest,
    pub work: Work,
    pub limits: Limits,
    /// Names the layer in errors.
    pub what: String,
}

pub(crate) struct LayerDone {
    /// The verified blob, to commit (None when it was in the store already).
    pub ingested: Option<Ingested>,
    /// Unpacked size (0 for Verify: the snapshot's size is known).
    pub unpacked_size: u64,
}

/// Runs on a blocking thread until the layer is verified (and unpacked).
pub(crate) fn run(job: LayerWork, source: Source) -> Result<LayerDone> {
    match source {
        Source::Stored { path } => {
            let file = File::open(&path).ctx("open blob", &path)?;
            let (_, unpacked_size) = consume(&job, file)?;
            Ok(LayerDone {
                ingested: None,
                unpacked_size,
            })
        }
        Source::Download { ingest, feed } => {
            let replay = ingest.replay()?;
            let mut reader = FeedReader {
                replay: Some(replay),
                feed,
                ingest: Some(ingest),
                hasher: Hasher::new(),
                count: 0,
                current: Bytes::new(),
                ended: false,
                feed_failed: false,
            };
            let outcome = consume(&job, &mut reader);
            let feed_failed = reader.feed_failed;
            let ingest = reader.ingest.take();
            let (_, unpacked_size) = match outcome {
                Ok(v) => v,
                Err(e) => {
                    if feed_failed {
                        // Cut short by the network: keep the bytes for a resume.
                        return Err(e);
                    }
                    // Bytes that failed to unpack must not be resumed from.
                    // If they also fail the blob digest, that is the real
                    // story (a corrupt download, not a bad image): read the
                    // rest to find out.
                    if let Some(i) = ingest {
                        i.discard();
                    }
                    let _ = io::copy(&mut reader, &mut io::sink());
                    let actual = reader.hasher.clone().finish();
                    if reader.ended && reader.count == job.size && actual != job.blob {
                        return Err(Error::invalid(format!(
                            "{}: digest mismatch: expected {}, got {actual}",
                            job.what, job.blob
                        )));
                    }
                    return Err(e);
                }
            };
            let ingest = ingest.ok_or_else(|| Error::internal("pull: ingest lost"))?;
            let digest = reader.hasher.finish();
            let ingested = ingest
                .finish(digest, reader.count)
                .map_err(|e| Error::invalid(format!("{}: {e}", job.what)))?;
            if ingested.size() != job.size {
                return Err(Error::invalid(format!(
                    "{}: {} bytes received, its descriptor says {}",
                    job.what,
                    ingested.size(),
                    job.size
                )));
            }
            Ok(LayerDone {
                ingested: Some(ingested),
                unpacked_size,
            })
        }
    }
}

/// Unpacks or verifies from `reader`, reads it to its end, and checks the
/// diff ID. Returns the compression and the unpacked size.
fn consume(job: &LayerWork, mut reader: impl Read) -> Result<(Compression, u64)> {
    let outcome = match &job.work {
        Work::Unpack { fs_dir } => {
            crate::store::perms::create_snapshot_dir(fs_dir)?;
            let stats = unpack::unpack_layer(&mut reader, fs_dir, job.limits)
                .map_err(|e| Error::from(e.within(&job.what)))?;
            (stats.compression, stats.size, stats.diff_id)
        }
        Work::Verify => {
            let (compression, decompressed) = compression::decompress(&mut reader)
                .map_err(|e| Error::invalid(format!("{}: {e}", job.what)))?;
            let hashing = HashingReader::with_limit(decompressed, job.limits.max_bytes);
            let (diff_id, _) = hashing.drain_and_finish().map_err(|e| {
                if is_limit_error(&e) {
                    Error::invalid(format!(
                        "{}: larger than the limit of {} bytes uncompressed",
                        job.what, job.limits.max_bytes
                    ))
                } else {
                    Error::invalid(format!("{}: cannot read layer: {e}", job.what))
                }
            })?;
            (compression, 0, diff_id)
        }
    };
    // The tar stream may end before the blob does (padding, trailers): the
    // digest covers every byte, so read the rest.
    io::copy(&mut reader, &mut io::sink())
        .map_err(|e| Error::invalid(format!("{}: {e}", job.what)))?;
    let (compression, size, diff_id) = outcome;
    if diff_id != job.diff_id {
        return Err(Error::invalid(format!(
            "{}: diff ID mismatch: the image config's rootfs.diff_ids says {} but the layer's content is {diff_id}",
            job.what, job.diff_id
        )));
    }
    Ok((compression, size))
}

/// Reads the bytes an earlier attempt left, then the download as it arrives,
/// storing and hashing every new chunk on the way through.
struct FeedReader {
    replay: Option<io::Take<File>>,
    feed: Receiver<Feed>,
    ingest: Option<ResumableIngest>,
    hasher: Hasher,
    count: u64,
    current: Bytes,
    ended: bool,
    feed_failed: bool,
}

impl Read for FeedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(replay) = &mut self.replay {
                let n = replay.read(buf)?;
                if n > 0 {
                    self.hasher.update(&buf[..n]);
                    self.count += n as u64;
                    return Ok(n);
                }
                self.replay = None;
            }
            if !self.current.is_empty() {
                let n = buf.len().min(self.current.len());
                buf[..n].copy_from_slice(&self.current[..n]);
                self.current = self.current.slice(n..);
                return Ok(n);
            }
            if self.ended {
                return Ok(0);
            }
            match self.feed.blocking_recv() {
                Some(Feed::Data(chunk)) => {
                    if let Some(ingest) = &mut self.ingest {
                        ingest
                            .append(&chunk)
                            .map_err(|e| io::Error::other(e.to_string()))?;
                    }
                    self.hasher.update(&chunk);
                    self.count += chunk.len() as u64;
                    self.current = chunk;
                }
                Some(Feed::End) => self.ended = true,
                Some(Feed::Failed(why)) => {
                    self.feed_failed = true;
                    return Err(io::Error::other(format!("download failed: {why}")));
                }
                None => {
                    self.feed_failed = true;
                    return Err(io::Error::other("download stopped"));
                }
            }
        }
    }
}
