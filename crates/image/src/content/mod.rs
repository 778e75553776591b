//! The content store: content-addressed blobs under `blobs/sha256/<hex>`.
//!
//! Invariant: a file under `blobs/` always holds exactly the bytes its name
//! digests. New content is written to `ingest/` (named after its writer's
//! process token so a crash leaves a file the next process can attribute),
//! fsynced, hashed while written, and only then renamed into place.

mod ingest;
mod resumable;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use ingest::{Ingest, Ingested};
pub use resumable::{PARTIAL_LIFETIME, PartialDownload, ResumableIngest, is_partial};

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::owner::ProcessToken;

#[derive(Clone, Debug)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: &Path) -> Result<ContentStore> {
        let store = ContentStore {
            root: root.to_path_buf(),
        };
        for dir in [store.blobs_dir(), store.ingest_dir()] {
            fs::create_dir_all(&dir).ctx("create directory", &dir)?;
        }
        // Whatever the umask: only root lists or reads blobs.
        for dir in [
            root.to_path_buf(),
            root.join("blobs"),
            store.blobs_dir(),
            store.ingest_dir(),
        ] {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&dir).ctx("stat", &dir)?.permissions().mode() & 0o7777;
            if mode != 0o700 {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).ctx("chmod", &dir)?;
            }
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    pub fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }

    /// Where a blob lives. Only sha256 digests have a place.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        digest.is_sha256() && self.blob_path(digest).is_file()
    }

    /// Size of a stored blob.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(e).ctx("stat blob", &path),
        }
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        match File::open(&path) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(e).ctx("open blob", &path),
        }
    }

    /// Reads a small blob (a config or manifest) whole, checking its digest so
    /// that a corrupted document is never parsed as if it were the image's.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::BlobNotFound(digest.clone()));
            }
            Err(e) => return Err(e).ctx("read blob", &path),
        };
        let actual = Digest::of(&data);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", path.display()),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(data)
    }

    /// Starts writing a new blob.
    pub fn ingest(&self, owner: &ProcessToken) -> Result<Ingest> {
        Ingest::create(self, owner)
    }

    /// Writes a small document as a blob and commits it.
    pub fn write_blob(&self, owner: &ProcessToken, data: &[u8]) -> Result<Digest> {
        let mut ingest = self.ingest(owner)?;
        io::Write::write_all(&mut ingest, data).ctx("write", ingest.path())?;
        ingest.finish()?.commit(None)
    }

    /// Re-hashes a stored blob; `Ok(None)` when it is intact, else the digest it
    /// actually has.
    pub fn verify(&self, digest: &Digest) -> Result<Option<Digest>> {
        let file = self.open_blob(digest)?;
        let reader = HashingReader::new(io::BufReader::with_capacity(1 << 20, file));
        let (actual, _) = reader
            .drain_and_finish()
            .ctx("read blob", &self.blob_path(digest))?;
        Ok((&actual != digest).then_some(actual))
    }

    /// Every blob file name, as digests; names that are not digests are
    /// returned separately (they are corruption too).
    pub fn list(&self) -> Result<(Vec<Digest>, Vec<PathBuf>)> {
        let dir = self.blobs_dir();
        let mut digests = Vec::new();
        let mut strays = Vec::new();
        for entry in fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            match entry.file_name().to_str().map(Digest::from_sha256_hex) {
                Some(Ok(d)) => digests.push(d),
                _ => strays.push(entry.path()),
            }
        }
        digests.sort();
        Ok((digests, strays))
    }

    /// Ingest files whose writer has died, with their paths.
    pub fn abandoned_ingests(&self) -> Result<Vec<PathBuf>> {
        let dir = self.ingest_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            if is_partial(&entry.path()) {
                // Kept for a later resume; see stale_partials.
                continue;
            }
            let name = entry.file_name();
            let owner = name
                .to_str()
                .and_then(|n| n.split('-').next())
                .and_then(ProcessToken::from_file_tag);
            if !owner.is_some_and(|o| o.is_alive()) {
                out.push(entry.path());
            }
        }
        Ok(out)
    }

    /// Opens a blob for streaming with its size and digest checked at the end.
    pub fn verified_reader(&self, digest: &Digest) -> Result<VerifiedBlobReader> {
        let file = self.open_blob(digest)?;
        Ok(VerifiedBlobReader {
            inner: HashingReader::new(file),
            expected: digest.clone(),
        })
    }
}

/// A blob reader that fails at EOF if the bytes did not match the digest.
pub struct VerifiedBlobReader {
    inner: HashingReader<File>,
    expected: Digest,
}

impl Read for VerifiedBlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let actual = self.inner.digest_so_far();
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is corrupted (content hashes to {actual})",
                        self.expected
                    ),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
