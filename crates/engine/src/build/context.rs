//! A context that comes as a tar stream (`build -`, the API's `POST
//! /build`): unpacked, every path kept inside, into a directory of the
//! store's named after the building process, so a killed build's copy is
//! removed by the next berth that starts (see `sweep_abandoned_builds`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Engine;
use crate::error::{Error, Result};

/// An unpacked context, removed when dropped.
pub struct ContextDir {
    path: PathBuf,
}

impl ContextDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ContextDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Engine {
    /// Unpacks a context tar stream (plain, gzip or zstd).
    pub fn unpack_build_context(&self, reader: impl Read) -> Result<ContextDir> {
        let base = self.paths.root.join("build");
        crate::store::perms::create_private_dir(&base)?;
        let path = base.join(format!(
            "{}-context-{}",
            self.owner.file_tag(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        crate::store::perms::create_private_dir(&path)?;
        let dir = ContextDir { path };
        let (_, stream) = berth_image::compression::decompress(reader)
            .map_err(|e| Error::invalid(format!("read the build context: {e}")))?;
        let root = rustix::fs::open(
            dir.path(),
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::internal(format!("open {}: {e}", dir.path().display())))?;
        super::copy::extract(stream, &root, &super::copy::Options::default())
            .map_err(|e| e.context("unpack the build context"))?;
        Ok(dir)
    }
}
