//! Layer diff: an overlayfs upper directory turned into an OCI layer tar
//! stream, for `berth commit`. The inverse of [`crate::unpack`].
//!
//! The stream is a function of the directory's contents and metadata alone:
//!
//! - depth first, parents before children, names sorted bytewise at every
//!   level (a whiteout sorts by the name it deletes); the upper directory
//!   itself gets no entry;
//! - names relative, without `./`, directories with a trailing `/`;
//! - ustar headers with numeric ids, empty uname/gname, permission bits (with
//!   setuid, setgid, sticky) and the mtime in seconds; no atime or ctime;
//!   PAX records where ustar falls short (see `header.rs`);
//! - extended attributes as `SCHILY.xattr.*`, sorted by name, except
//!   overlayfs's own (see `xattr.rs`);
//! - overlay whiteouts (0/0 character devices) become empty `.wh.NAME` files
//!   and an opaque directory is followed by an empty `DIR/.wh..wh..opq`
//!   before its children; both with mode 0, owner 0 and mtime 0, so the same
//!   deletion always encodes the same way;
//! - a file with more than one link becomes a regular entry at the first path
//!   met and hard link entries at the later ones. Links leading outside the
//!   upper directory are not seen: such a file is a plain entry. Whiteouts are
//!   recognised first, since overlayfs may share one whiteout inode;
//! - sockets are skipped, as Docker does: a tar cannot hold them.
//!
//! The upper directory's root metadata (a chmod of `/` in the container) is
//! not carried, as in Docker's layers. A regular file the container itself
//! named `.wh.*` is written as is and reads back as a whiteout, as with
//! Docker: it can only delete what the container could have deleted.
//!
//! Files are opened with `O_NOFOLLOW` relative to their parent directory's fd,
//! so a path swapped for a symlink is never followed out of the upper
//! directory. The container should be paused (the engine's default): a file
//! that shrinks while read fails the commit with [`DiffError::Changed`]; bytes
//! appended after its size was taken are left out.

mod error;
mod header;
mod sink;
mod walk;
mod xattr;

use std::io::Write;
use std::path::Path;

pub use error::DiffError;

/// What [`write_layer`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiffStats {
    /// Tar entries, whiteouts and opaque markers included (PAX extended
    /// headers are part of the entry they describe).
    pub entries: u64,
    /// Bytes of tar written, end-of-archive blocks included.
    pub bytes: u64,
}

/// Writes the layer tar (uncompressed) of the overlay upper dir `upper` to `out`.
///
/// `out` is written in large chunks and flushed at the end; wrap it in a
/// hasher and a compressor to get the diff ID and the blob.
pub fn write_layer(upper: &Path, out: impl Write) -> Result<DiffStats, DiffError> {
    walk::Walker::new(upper, out).run()
}

/// As [`write_layer`], with no mtime later than `epoch` (seconds): the
/// builder's layers, reproducible whatever time their files were written.
pub fn write_layer_clamped(
    upper: &Path,
    out: impl Write,
    epoch: Option<i64>,
) -> Result<DiffStats, DiffError> {
    walk::Walker::new(upper, out).clamp_mtime(epoch).run()
}

/// As [`write_layer`], for the directory open as `dir` (a mount no path
/// names, say); `shown` names it in errors.
pub fn write_layer_at(
    dir: std::os::fd::BorrowedFd<'_>,
    shown: &Path,
    out: impl Write,
) -> Result<DiffStats, DiffError> {
    walk::Walker::new(shown, out).at(dir).run()
}

#[cfg(test)]
mod tests;
