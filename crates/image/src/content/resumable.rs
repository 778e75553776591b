//! Downloads that survive their process: a blob being fetched is written to
//! `ingest/partial-<algorithm>-<hex>`, named by the digest it must have, so
//! the next attempt (after a dropped connection or a kill -9) continues from
//! its end instead of starting over. An exclusive `flock` keeps two pulls from
//! writing one file; a file nobody holds is fair game. Nothing here is
//! visible as content until the bytes are verified and committed.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{FlockOperation, flock};

use super::ContentStore;
use super::ingest::Ingested;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};

const PREFIX: &str = "partial-";

/// How long an untouched partial download is kept for a later resume.
pub const PARTIAL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A partial download as `system df` and prunes see it.
#[derive(Debug, Clone)]
pub struct PartialDownload {
    pub path: PathBuf,
    pub size: u64,
    /// Since it was last written (None: unknown, or in the future).
    pub age: Option<Duration>,
    /// A pull is writing it now.
    pub held: bool,
}

/// A locked partial download of one blob.
pub struct ResumableIngest {
    file: File,
    path: PathBuf,
    expected: Digest,
    existing: u64,
    written: u64,
    blobs_dir: PathBuf,
}

impl ContentStore {
    /// Opens (or creates) the partial download of `expected`. When another
    /// live process is writing it: waits for it to finish if `wait`, else
    /// returns None.
    pub fn resumable_ingest(
        &self,
        expected: &Digest,
        wait: bool,
    ) -> Result<Option<ResumableIngest>> {
        let path = self.ingest_dir().join(format!(
            "{PREFIX}{}-{}",
            expected.algorithm(),
            expected.hex()
        ));
        let operation = if wait {
            FlockOperation::LockExclusive
        } else {
            FlockOperation::NonBlockingLockExclusive
        };
        // The holder may rename the file into blobs/ (committed) or remove
        // it (bad bytes) before it lets go: the lock we then get is on a
        // file no longer at `path`, so open it again.
        let file = loop {
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&path)
                .ctx("open partial download", &path)?;
            match flock(&file, operation) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
                Err(e) => return Err(io::Error::from(e)).ctx("lock partial download", &path),
            }
            let held = file.metadata().ctx("stat partial download", &path)?;
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => break file,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("stat partial download", &path),
            }
        };
        let existing = file.metadata().ctx("stat partial download", &path)?.len();
        Ok(Some(ResumableIngest {
            file,
            path,
            expected: expected.clone(),
            existing,
            written: 0,
            blobs_dir: self.blobs_dir(),
        }))
    }

    /// Every partial download, with its size and whether a pull holds it.
    pub fn partial_downloads(&self) -> Result<Vec<PartialDownload>> {
        let dir = self.ingest_dir();
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            if !is_partial(&entry.path()) {
                continue;
            }
            let Ok(file) = File::open(entry.path()) else {
                continue; // committed or removed meanwhile
            };
            let held = flock(&file, FlockOperation::NonBlockingLockShared).is_err();
            let meta = file.metadata().ok();
            out.push(PartialDownload {
                path: entry.path(),
                size: meta.as_ref().map_or(0, |m| m.len()),
                age: meta
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| SystemTime::now().duration_since(t).ok()),
                held,
            });
        }
        Ok(out)
    }

    /// Removes the partial downloads no pull holds; returns the bytes freed.
    pub fn remove_idle_partials(&self) -> Result<u64> {
        let mut freed = 0;
        for p in self.partial_downloads()?.into_iter().filter(|p| !p.held) {
            // Locked while removed: a pull starting now waits, then finds
            // the file gone and starts a new one.
            let Ok(file) = File::open(&p.path) else {
                continue;
            };
            if flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok()
                && std::fs::remove_file(&p.path).is_ok()
            {
                freed += p.size;
            }
        }
        Ok(freed)
    }

    /// Partial downloads nobody holds that are older than `max_age`.
    pub fn stale_partials(&self, max_age: Duration) -> Result<Vec<PathBuf>> {
        Ok(self
            .partial_downloads()?
            .into_iter()
            .filter(|p| !p.held && p.age.is_none_or(|age| age >= max_age))
            .map(|p| p.path)
            .collect())
    }
}

/// Whether an ingest-dir path is a resumable partial download.
pub fn is_partial(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(PREFIX))
}

impl ResumableIngest {
    /// Bytes already on disk from an earlier attempt.
    pub fn existing_len(&self) -> u64 {
        self.existing
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reader over the bytes an earlier attempt left (to hash and unpack
    /// them again: the digest covers the whole blob).
    pub fn replay(&self) -> Result<io::Take<File>> {
        let f = File::open(&self.path).ctx("read partial download", &self.path)?;
        Ok(io::Read::take(f, self.existing))
    }

    /// Forgets what an earlier attempt left (it did not verify).
    pub fn restart(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .ctx("truncate partial download", &self.path)?;
        self.existing = 0;
        self.written = 0;
        Ok(())
    }

    /// Appends freshly downloaded bytes.
    pub fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .ctx("write partial download", &self.path)?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// Hands the complete file over as an ingested blob, once the caller has
    /// hashed every byte to `digest` (`size` bytes). On a mismatch the file is
    /// removed: those bytes must never be resumed from.
    pub fn finish(self, digest: Digest, size: u64) -> Result<Ingested> {
        if digest != self.expected || size != self.existing + self.written {
            let _ = std::fs::remove_file(&self.path);
            return Err(Error::DigestMismatch {
                what: format!("download of blob {}", self.expected),
                expected: self.expected.clone(),
                actual: digest,
            });
        }
        Ok(Ingested::adopt(
            self.path.clone(),
            self.expected.clone(),
            size,
            self.blobs_dir.clone(),
            self.file,
        ))
    }

    /// Removes the partial file (its bytes are known to be bad).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
