//! Writing a new blob: temp file, hash while writing, fsync, verify, rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::ContentStore;
use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, IoContext, Result};
use crate::owner::ProcessToken;

static NEXT_INGEST: AtomicU64 = AtomicU64::new(0);

/// A blob being written. Dropping it without [`Ingest::finish`] removes the
/// temp file.
pub struct Ingest {
    writer: Option<HashingWriter<BufWriter<File>>>,
    path: PathBuf,
    blobs_dir: PathBuf,
}

/// A fully written, fsynced temp file whose digest is known; not yet visible.
/// Dropping it removes the temp file.
#[derive(Debug)]
pub struct Ingested {
    path: PathBuf,
    blobs_dir: PathBuf,
    digest: Digest,
    size: u64,
    committed: bool,
    /// A resumable download's locked file: held until the blob is renamed
    /// into the store (or removed), so another pull of the same blob waits
    /// for the blob itself rather than finding the ingest file in flux.
    lock: Option<File>,
}

impl Ingest {
    pub(super) fn create(store: &ContentStore, owner: &ProcessToken) -> Result<Ingest> {
        let n = NEXT_INGEST.fetch_add(1, Ordering::Relaxed);
        let path = store.ingest_dir().join(format!("{}-{n}", owner.file_tag()));
        // Root's alone whatever the umask (an image config can hold secrets).
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .ctx("create ingest file", &path)?;
        Ok(Ingest {
            writer: Some(HashingWriter::new(BufWriter::with_capacity(1 << 20, file))),
            path,
            blobs_dir: store.blobs_dir(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn written(&self) -> u64 {
        self.writer.as_ref().map_or(0, HashingWriter::count)
    }

    /// Flushes the temp file and returns it with its digest. The fsync waits
    /// for [`Ingested::commit`]: content that is never committed (an archive's
    /// VERSION files, a failed load) need not reach the disk.
    pub fn finish(mut self) -> Result<Ingested> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| Error::Invalid("ingest finished twice".into()))?;
        let (buffered, digest, size) = writer.finish();
        buffered
            .into_inner()
            .map_err(|e| e.into_error())
            .ctx("write ingest file", &self.path)?;
        let path = std::mem::take(&mut self.path);
        Ok(Ingested {
            path,
            blobs_dir: self.blobs_dir.clone(),
            digest,
            size,
            committed: false,
            lock: None,
        })
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.writer {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("ingest already finished")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Ingested {
    /// A complete, verified file already in the ingest dir (a finished
    /// resumable download).
    pub(super) fn adopt(
        path: PathBuf,
        digest: Digest,
        size: u64,
        blobs_dir: PathBuf,
        lock: File,
    ) -> Ingested {
        Ingested {
            path,
            blobs_dir,
            digest,
            size,
            committed: false,
            lock: Some(lock),
        }
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The temp file, readable until commit (e.g. to unpack a layer from it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the expected digest (if any) and renames the file into the store.
    /// A blob that is already present is left as it is (same name, same bytes).
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<Digest> {
        if let Some(expected) = expected
            && expected != &self.digest
        {
            return Err(Error::DigestMismatch {
                what: format!("blob {expected}"),
                expected: expected.clone(),
                actual: self.digest.clone(),
            });
        }
        let target = self.blobs_dir.join(self.digest.hex());
        File::open(&self.path)
            .and_then(|f| f.sync_all())
            .ctx("fsync ingest file", &self.path)?;
        fs::rename(&self.path, &target).ctx("commit blob", &target)?;
        // The rename is durable only once the directory is.
        File::open(&self.blobs_dir)
            .and_then(|d| d.sync_all())
            .ctx("fsync", &self.blobs_dir)?;
        self.committed = true;
        // A waiting pull of this blob may go on: it finds it stored.
        self.lock = None;
        Ok(self.digest.clone())
    }
}

impl Drop for Ingested {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
        // Unlocked only now, after the removal: a waiter sees the file gone.
        self.lock = None;
    }
}
