//! Layer unpack: a (compressed) tar stream into a snapshot directory, in the
//! form overlayfs reads.
//!
//! - gzip, zstd or plain tar, detected from the bytes;
//! - the diff ID (sha256 of the uncompressed stream) computed while reading;
//! - OCI whiteouts turned into overlayfs form (`.wh.name` -> a 0/0 character
//!   device, `.wh..wh..opq` -> `trusted.overlay.opaque=y`);
//! - hard links, symlinks, devices, fifos, xattrs (except `trusted.*`),
//!   ownership, modes, mtimes, GNU sparse files written with holes;
//! - every path resolved by the kernel below the root (`confined.rs`);
//! - limits on uncompressed bytes and entries, so a bomb stops early.
//!
//! The caller owns the directory and discards it on error: a failed unpack may
//! have written part of the layer, always inside `dest`.

mod confined;
mod entry;
pub mod path;

use std::io::{self, BufReader, Read};
use std::path::Path;

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
    let mut archive = tar::Archive::new(BufReader::with_capacity(256 * 1024, hashing));
    let root = confined::Root::open(dest).map_err(|source| Error::Io {
        op: "open layer directory",
        path: dest.to_path_buf(),
        source,
    })?;
    let mut writer = entry::Writer::new(root);
    let result = extract_all(&mut archive, &mut writer, limits);
    let hashing = archive.into_inner().into_inner();
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

fn extract_all<R: Read>(
    archive: &mut tar::Archive<R>,
    writer: &mut entry::Writer,
    limits: Limits,
) -> Result<()> {
    let entries = archive
        .entries()
        .map_err(|e| read_error(&e, None, limits))?;
    let mut last_name: Option<String> = None;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
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
        writer.write(&mut entry).map_err(|e| match e {
            entry::EntryError::Read(io) => {
                read_error(&io, Some(format!("reading entry {}", quote(&name))), limits)
            }
            entry::EntryError::Invalid(msg) => {
                Error::Invalid(format!("entry {}: {msg}", quote(&name)))
            }
        })?;
        last_name = Some(name);
    }
    Ok(())
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
