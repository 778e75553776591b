//! Layer unpack: a (compressed) tar stream into a snapshot directory, in the
//! form overlayfs reads.
//!
//! - gzip, zstd or plain tar, detected from the bytes;
//! - the diff ID (sha256 of the uncompressed stream) computed while reading;
//! - OCI whiteouts turned into overlayfs form (`.wh.name` -> a 0/0 character
//!   device, `.wh..wh..opq` -> `trusted.overlay.opaque=y`);
//! - hard links, symlinks, devices, fifos, xattrs (except `trusted.*`),
//!   ownership, modes, mtimes, GNU sparse files written with holes (in time
//!   proportional to their extents, never their size: `sparse.rs`);
//! - every path resolved by the kernel below the root (`confined.rs`);
//! - limits on uncompressed bytes and entries, so a bomb stops early.
//!
//! The caller owns the directory and discards it on error: a failed unpack may
//! have written part of the layer, always inside `dest`.

mod confined;
mod entry;
pub mod path;
mod sparse;

use std::cell::RefCell;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

pub use confined::sync_filesystem;

use crate::compression::{self, Compression};
use crate::digest::{Digest, HashingReader, is_limit_error};
use crate::error::{Error, Result};

/// Limits per layer. Defaults are generous; the engine reads them from its
/// configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Uncompressed bytes (the tar stream, headers included).
    pub max_bytes: u64,
    /// Tar entries, including whiteouts and directories.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 << 30,
            max_entries: 10_000_000,
        }
    }
}

/// What an unpack produced.
#[derive(Clone, Debug)]
pub struct UnpackStats {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    pub compression: Compression,
    /// Bytes of the uncompressed stream.
    pub tar_bytes: u64,
    pub entries: u64,
    /// Docker's notion of layer size: file and symlink sizes, each inode once.
    pub size: u64,
}

/// Unpacks a layer stream into `dest`, which must exist and be empty.
pub fn unpack_layer(reader: impl Read, dest: &Path, limits: Limits) -> Result<UnpackStats> {
    unpack(reader, dest, limits, None)
}

/// As [`unpack_layer`] for a layer whose diff ID the caller computed itself
/// while writing it (`commit`): the bytes are not hashed a second time.
pub fn unpack_layer_with_diff_id(
    reader: impl Read,
    dest: &Path,
    limits: Limits,
    diff_id: &Digest,
) -> Result<UnpackStats> {
    unpack(reader, dest, limits, Some(diff_id))
}

fn unpack(
    reader: impl Read,
    dest: &Path,
    limits: Limits,
    known_diff_id: Option<&Digest>,
) -> Result<UnpackStats> {
    let (compression, decompressed) = compression::decompress(reader)
        .map_err(|e| Error::Invalid(format!("cannot read layer: {e}")))?;
    let hashing = match known_diff_id {
        Some(_) => HashingReader::counting_only(decompressed, limits.max_bytes),
        None => HashingReader::with_limit(decompressed, limits.max_bytes),
    };
    let state = Rc::new(RefCell::new(sparse::TapState::default()));
    let mut archive = tar::Archive::new(sparse::Tap {
        inner: BufReader::with_capacity(256 * 1024, hashing),
        state: state.clone(),
    });
    let root = confined::Root::open(dest).map_err(|source| Error::Io {
        op: "open layer directory",
        path: dest.to_path_buf(),
        source,
    })?;
    let mut writer = entry::Writer::new(root);
    let result = extract_all(&mut archive, &mut writer, limits, &state, dest);
    let hashing = archive.into_inner().inner.into_inner();
    if hashing.count() > limits.max_bytes {
        return Err(Error::LimitExceeded(format!(
            "layer is larger than the limit of {} bytes uncompressed (set limits.layer_max_bytes to allow more)",
            limits.max_bytes
        )));
    }
    result?;
    writer.finish()?;
    let (diff_id, tar_bytes) = hashing
        .drain_and_finish()
        .map_err(|e| read_error(&e, Some("after the end of the archive".into()), limits))?;
    Ok(UnpackStats {
        diff_id: known_diff_id.cloned().unwrap_or(diff_id),
        compression,
        tar_bytes,
        entries: writer.entries,
        size: writer.size,
    })
}

/// A sparse file whose stored bytes the parser has yet to skip over.
struct PendingSparse {
    name: String,
    real_size: u64,
    mtime: rustix::fs::Timespec,
}

fn extract_all<R: Read>(
    archive: &mut tar::Archive<R>,
    writer: &mut entry::Writer,
    limits: Limits,
    state: &Rc<RefCell<sparse::TapState>>,
    dest: &Path,
) -> Result<()> {
    let entries = archive
        .entries()
        .map_err(|e| read_error(&e, None, limits))?;
    let mut last_name: Option<String> = None;
    let mut pending: Option<PendingSparse> = None;
    // Bytes that sparse files' holes add to the stream's: the limit counts
    // the apparent size.
    let mut holes = 0u64;
    for entry in entries {
        // Getting this entry skipped the last one's data: a sparse file's
        // went to the file (see `sparse.rs`).
        if let Some(p) = pending.take() {
            finish_sparse(state, p, limits, dest)?;
        }
        let mut entry = entry.map_err(|e| {
            if let Some(routed) = state.borrow_mut().route_error.take() {
                return Error::Invalid(format!("writing a sparse file: {routed}"));
            }
            let context = last_name
                .as_ref()
                .map(|n| format!("reading the entry after {}", quote(n)));
            read_error(&e, context, limits)
        })?;
        writer.entries += 1;
        if writer.entries > limits.max_entries {
            return Err(Error::LimitExceeded(format!(
                "layer has more than the limit of {} entries (set limits.layer_max_entries to allow more)",
                limits.max_entries
            )));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if entry.header().entry_type() == tar::EntryType::GNUSparse
            && let Some(gnu) = entry.header().as_gnu()
        {
            let bad =
                |e: io::Error| Error::Invalid(format!("entry {}: sparse map: {e}", quote(&name)));
            let extents =
                sparse::extents(gnu, entry.raw_file_position(), &state.borrow()).map_err(bad)?;
            let real_size = gnu.real_size().map_err(bad)?;
            holes = holes
                .saturating_add(real_size.saturating_sub(entry.header().entry_size().unwrap_or(0)));
            if state.borrow().pos.saturating_add(holes) > limits.max_bytes {
                return Err(Error::LimitExceeded(format!(
                    "layer is larger than the limit of {} bytes uncompressed, counting the holes of sparse files such as {} (set limits.layer_max_bytes to allow more)",
                    limits.max_bytes,
                    quote(&name)
                )));
            }
            writer.sparse_plan = Some((extents, real_size));
        }
        writer
            .write(&mut entry)
            .map_err(|e| entry_error(e, &name, dest, limits))?;
        writer.sparse_plan = None;
        if let Some((file, extents, real_size, mtime)) = writer.pending_sparse.take() {
            state.borrow_mut().route = Some(sparse::Route::new(file, extents));
            pending = Some(PendingSparse {
                name: name.clone(),
                real_size,
                mtime,
            });
        }
        last_name = Some(name);
    }
    if let Some(p) = pending.take() {
        finish_sparse(state, p, limits, dest)?;
    }
    Ok(())
}

fn entry_error(e: entry::EntryError, name: &str, dest: &Path, limits: Limits) -> Error {
    match e {
        entry::EntryError::Read(io) => {
            read_error(&io, Some(format!("reading entry {}", quote(name))), limits)
        }
        // The path it was written to: the user needs the file system.
        entry::EntryError::NoSpace(source) => Error::Io {
            op: "write",
            path: dest.join(name.trim_start_matches("./").trim_start_matches('/')),
            source,
        },
        entry::EntryError::Invalid(msg) => Error::Invalid(format!("entry {}: {msg}", quote(name))),
    }
}

/// The sparse file's stored bytes are in: its size and mtime.
fn finish_sparse(
    state: &Rc<RefCell<sparse::TapState>>,
    p: PendingSparse,
    limits: Limits,
    dest: &Path,
) -> Result<()> {
    let route = state.borrow_mut().route.take();
    let Some(route) = route else {
        return Ok(());
    };
    if let Some(e) = state.borrow_mut().route_error.take() {
        return Err(Error::Invalid(format!(
            "entry {}: writing a sparse file: {e}",
            quote(&p.name)
        )));
    }
    if !route.complete() {
        return Err(read_error(
            &io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in a sparse file's data"),
            Some(format!("reading entry {}", quote(&p.name))),
            limits,
        ));
    }
    entry::Writer::finish_sparse(&route.file, p.real_size, p.mtime).map_err(|e| match e {
        entry::EntryError::Read(io) => Error::Invalid(format!("entry {}: {io}", quote(&p.name))),
        e => entry_error(e, &p.name, dest, limits),
    })
}

/// Shows a name in an error, shortened if it is absurdly long.
pub fn quote(name: &str) -> String {
    if name.len() > 120 {
        let cut = (0..=100)
            .rev()
            .find(|&i| name.is_char_boundary(i))
            .unwrap_or(0);
        format!("{:?}… ({} bytes)", &name[..cut], name.len())
    } else {
        format!("{name:?}")
    }
}

fn read_error(err: &io::Error, context: Option<String>, limits: Limits) -> Error {
    if is_limit_error(err) {
        return Error::LimitExceeded(format!(
            "layer is larger than the limit of {} bytes uncompressed (set limits.layer_max_bytes to allow more)",
            limits.max_bytes
        ));
    }
    // The tar crate reports a short archive with its own messages, not always
    // as UnexpectedEof.
    let truncated = err.kind() == io::ErrorKind::UnexpectedEof || err.to_string().contains("EOF");
    let what = if truncated {
        "truncated layer"
    } else {
        "corrupt layer"
    };
    match context {
        Some(context) => Error::Invalid(format!("{what}: {context}: {err}")),
        None => Error::Invalid(format!("{what}: {err}")),
    }
}

#[cfg(test)]
mod tests;
