//! Kernel-confined access to a layer directory.
//!
//! Every lookup below the root goes through `openat2(2)` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV`: the kernel refuses any resolution that would leave the
//! root, cross a symlink (a symlink written earlier in the same layer, or a
//! two-hop chain of them) or a mount point. Creation then happens with `*at`
//! calls on a single component relative to a directory fd obtained that way,
//! so no path string is ever resolved by hand.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A directory everything is confined to.
pub struct Root {
    fd: OwnedFd,
}

/// Why a confined lookup failed, in words a user can act on.
pub fn explain(err: &io::Error) -> String {
    match Errno::from_io_error(err) {
        Some(Errno::LOOP) => {
            "path crosses a symlink (entries may not be written through symlinks)".into()
        }
        Some(Errno::XDEV) => "path escapes the layer root".into(),
        Some(Errno::NOTDIR) => "a parent of this entry is not a directory".into(),
        Some(Errno::NOENT) => "no such file in the layer".into(),
        _ => err.to_string(),
    }
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::open(path, DIR_FLAGS, Mode::empty())?;
        Ok(Root { fd })
    }

    /// Opens a directory below the root (`b""` is the root itself).
    pub fn open_dir(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        if rel.is_empty() {
            return self.fd.try_clone();
        }
        match rfs::openat2(
            &self.fd,
            OsStr::from_bytes(rel),
            DIR_FLAGS,
            Mode::empty(),
            RESOLVE,
        ) {
            Ok(fd) => Ok(fd),
            // A symlink as the last component shows up as ENOTDIR (O_DIRECTORY
            // with O_NOFOLLOW); find out which it was for the error message.
            Err(Errno::NOTDIR) => Err(self.diagnose(rel)),
            Err(e) => Err(e.into()),
        }
    }

    /// Walks `rel` one component at a time to say why it is not a directory.
    fn diagnose(&self, rel: &[u8]) -> io::Error {
        let mut dir = match self.fd.try_clone() {
            Ok(fd) => fd,
            Err(e) => return e,
        };
        for component in rel.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            let name = OsStr::from_bytes(component);
            match lstat_at(&dir, name) {
                Ok(Some(st))
                    if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Symlink =>
                {
                    return Errno::LOOP.into();
                }
                Ok(Some(st)) if !is_dir(&st) => return Errno::NOTDIR.into(),
                Ok(Some(_)) => {}
                Ok(None) => return Errno::NOENT.into(),
                Err(e) => return e,
            }
            dir = match rfs::openat2(&dir, name, DIR_FLAGS, Mode::empty(), RESOLVE) {
                Ok(fd) => fd,
                Err(e) => return e.into(),
            };
        }
        Errno::NOTDIR.into()
    }

    /// Opens any object below the root without following a final symlink
    /// (an `O_PATH` handle, for hard links).
    pub fn open_path(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        let flags = OFlags::PATH.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);
        Ok(rfs::openat2(
            &self.fd,
            OsStr::from_bytes(rel),
            flags,
            Mode::empty(),
            RESOLVE,
        )?)
    }

    /// Opens a directory, creating missing components (root-owned, 0755) the
    /// way tar does for entries whose parents were not listed.
    pub fn ensure_dir(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        match self.open_dir(rel) {
            Err(e) if Errno::from_io_error(&e) == Some(Errno::NOENT) => {}
            other => return other,
        }
        let mut dir = self.fd.try_clone()?;
        for component in rel.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            let name = OsStr::from_bytes(component);
            match rfs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            dir = match rfs::openat2(&dir, name, DIR_FLAGS, Mode::empty(), RESOLVE) {
                Ok(fd) => fd,
                Err(Errno::NOTDIR) => return Err(self.diagnose(rel)),
                Err(e) => return Err(e.into()),
            };
        }
        Ok(dir)
    }
}

/// What is at `name` in `dir`, without following symlinks.
pub fn lstat_at(dir: impl AsFd, name: &OsStr) -> io::Result<Option<rfs::Stat>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn is_dir(st: &rfs::Stat) -> bool {
    rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory
}

/// Removes `name` in `dir`, recursively if it is a directory, never following
/// symlinks.
pub fn remove_all_at(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if !is_dir(&st) {
        return Ok(rfs::unlinkat(dir, name, AtFlags::empty())?);
    }
    let child = rfs::openat(dir, name, DIR_FLAGS, Mode::empty())?;
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(&child)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_all_at(&child, OsStr::from_bytes(&n))?;
    }
    Ok(rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}

/// Creates `name` in `dir` as a new regular file for writing.
pub fn create_file(dir: &OwnedFd, name: &OsStr) -> io::Result<File> {
    let flags = OFlags::WRONLY
        .union(OFlags::CREATE)
        .union(OFlags::EXCL)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);
    Ok(File::from(rfs::openat(
        dir,
        name,
        flags,
        Mode::from_raw_mode(0o600),
    )?))
}

/// Opens `name` in `dir` as a directory (no symlink following).
pub fn open_child_dir(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rfs::openat(dir, name, DIR_FLAGS, Mode::empty())?)
}

/// Flushes the whole filesystem holding `dir` (one call instead of an fsync per
/// unpacked file).
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let fd = rfs::open(dir, DIR_FLAGS, Mode::empty())?;
    Ok(rfs::syncfs(&fd)?)
}
