//! Writing one tar entry into the confined layer directory.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;
use tar::EntryType;

use super::confined::{self, Root};
use super::path::{self, RelPath, Target};
use crate::error::{Error, Result};

/// An entry failed: the stream broke (`Read`), the file system is full
/// (`NoSpace`: the store's fault, never the layer's), or the entry is
/// unsafe or malformed (`Invalid`, with a message the caller prefixes with
/// its name).
pub enum EntryError {
    Read(io::Error),
    NoSpace(io::Error),
    Invalid(String),
}

impl From<io::Error> for EntryError {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(code)
                if code == Errno::NOSPC.raw_os_error() || code == Errno::DQUOT.raw_os_error() =>
            {
                EntryError::NoSpace(e)
            }
            _ => EntryError::Invalid(confined::explain(&e)),
        }
    }
}

type EntryResult<T = ()> = std::result::Result<T, EntryError>;

/// Metadata carried by a header and its PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timespec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

pub struct Writer {
    root: Root,
    /// The last parent directory used, reused while entries stay in it.
    parent_cache: Option<(Vec<u8>, OwnedFd)>,
    /// Directory mtimes, applied at the end (writing children changes them).
    dir_times: Vec<(Vec<u8>, Timespec)>,
    /// Inodes already counted in `size` (hard links count once).
    seen_inodes: HashSet<u64>,
    buf: Vec<u8>,
    euid: u32,
    egid: u32,
    pub entries: u64,
    pub size: u64,
    /// Set by the caller before a GNU sparse entry: its extents and real
    /// size (the entry's data is then not read here; see `sparse.rs`).
    pub sparse_plan: Option<(Vec<(u64, u64)>, u64)>,
    /// After a sparse entry: the file its stored bytes go to, and the mtime
    /// to set once they have.
    pub pending_sparse: Option<SparseFile>,
}

/// A sparse file created, waiting for its stored bytes: (the file, its
/// extents, its real size, its mtime).
pub type SparseFile = (File, Vec<(u64, u64)>, u64, Timespec);

impl Writer {
    pub fn new(root: Root) -> Writer {
        Writer {
            root,
            parent_cache: None,
            dir_times: Vec::new(),
            seen_inodes: HashSet::new(),
            buf: vec![0u8; 256 * 1024],
            euid: rustix::process::geteuid().as_raw(),
            egid: rustix::process::getegid().as_raw(),
            entries: 0,
            size: 0,
            sparse_plan: None,
            pending_sparse: None,
        }
    }

    pub fn write<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> EntryResult {
        let raw_name = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader) {
            return Ok(());
        }
        let target = path::classify(&raw_name).map_err(EntryError::Invalid)?;
        match target {
            Target::Ignored => Ok(()),
            Target::Root => {
                if kind != EntryType::Directory {
                    return Err(EntryError::Invalid(
                        "the layer root must be a directory (a symlink or file named \".\" is refused)".into(),
                    ));
                }
                let meta = read_meta(entry)?;
                let fd = self.root.open_dir(b"")?;
                self.apply_dir_meta(&fd, b"", &meta)
            }
            Target::Whiteout { parent, name } => {
                let dir = self.parent(&parent)?;
                let name = OsStr::from_bytes(&name);
                confined::remove_all_at(&dir, name)?;
                rfs::mknodat(
                    &dir,
                    name,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rfs::makedev(0, 0),
                )
                .map_err(|e| EntryError::Invalid(format!("cannot create whiteout: {e}")))?;
                Ok(())
            }
            Target::Opaque { dir } => {
                let fd = self.root.ensure_dir(&dir)?;
                rfs::fsetxattr(&fd, "trusted.overlay.opaque", b"y", XattrFlags::empty()).map_err(
                    |e| EntryError::Invalid(format!("cannot mark directory opaque: {e}")),
                )?;
                Ok(())
            }
            Target::Path(rel) => self.write_path(entry, kind, &rel),
        }
    }

    fn write_path<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        kind: EntryType,
        rel: &RelPath,
    ) -> EntryResult {
        let (parent_rel, name_bytes) = rel.split_parent();
        let parent_rel = parent_rel.to_vec();
        let dir = self.parent(&parent_rel)?;
        let name = OsStr::from_bytes(name_bytes);
        let existing = confined::lstat_at(&dir, name)?;
        let meta = read_meta(entry)?;

        // A new directory over an existing one merges; anything else replaces.
        if kind == EntryType::Directory {
            if existing.as_ref().is_some_and(confined::is_dir) {
                let fd = confined::open_child_dir(&dir, name)?;
                return self.apply_dir_meta(&fd, &rel.0, &meta);
            }
            confined::remove_all_at(&dir, name)?;
            rfs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)).map_err(io::Error::from)?;
            let fd = confined::open_child_dir(&dir, name)?;
            self.invalidate_cache_below(&rel.0);
            return self.apply_dir_meta(&fd, &rel.0, &meta);
        }
        if existing.is_some() {
            if kind == EntryType::Link
                && entry
                    .link_name_bytes()
                    .is_some_and(|l| path::hardlink_target(&l).ok().as_ref() == Some(rel))
            {
                return Ok(()); // a hard link to itself changes nothing
            }
            confined::remove_all_at(&dir, name)?;
            self.invalidate_cache_below(&rel.0);
        }

        match kind {
            EntryType::GNUSparse if self.sparse_plan.is_some() => {
                let (extents, real_size) = self.sparse_plan.take().unwrap_or_default();
                let file = confined::create_file(&dir, name)?;
                let ino = rfs::fstat(&file).map_err(io::Error::from)?.st_ino;
                if self.seen_inodes.insert(ino) {
                    self.size += real_size;
                }
                self.apply_owner_mode(&file, &meta)?;
                set_xattrs_fd(&file, &meta.xattrs)?;
                self.pending_sparse = Some((file, extents, real_size, meta.mtime));
                Ok(())
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let file = confined::create_file(&dir, name)?;
                let written = self.copy_data(entry, &file)?;
                let ino = rfs::fstat(&file).map_err(io::Error::from)?.st_ino;
                if self.seen_inodes.insert(ino) {
                    self.size += written;
                }
                self.apply_owner_mode(&file, &meta)?;
                set_xattrs_fd(&file, &meta.xattrs)?;
                rfs::futimens(&file, &times(meta.mtime)).map_err(io::Error::from)?;
                Ok(())
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| EntryError::Invalid("symlink without a target".into()))?
                    .into_owned();
                rfs::symlinkat(OsStr::from_bytes(&target), &dir, name).map_err(io::Error::from)?;
                self.size += target.len() as u64;
                if (meta.uid, meta.gid) != (self.euid, self.egid) {
                    rfs::chownat(
                        &dir,
                        name,
                        uid(meta.uid),
                        gid(meta.gid),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(io::Error::from)?;
                }
                set_xattrs_symlink(&dir, name, &meta.xattrs)?;
                rfs::utimensat(&dir, name, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io::Error::from)?;
                Ok(())
            }
            EntryType::Link => {
                let raw_target = entry
                    .link_name_bytes()
                    .ok_or_else(|| EntryError::Invalid("hard link without a target".into()))?
                    .into_owned();
                let target = path::hardlink_target(&raw_target).map_err(|m| {
                    EntryError::Invalid(format!(
                        "hard link to {:?}: {m}",
                        String::from_utf8_lossy(&raw_target)
                    ))
                })?;
                let source = self.root.open_path(&target.0).map_err(|e| {
                    EntryError::Invalid(format!(
                        "hard link to {:?}: {}",
                        target.display(),
                        confined::explain(&e)
                    ))
                })?;
                rfs::linkat(&source, "", &dir, name, AtFlags::EMPTY_PATH).map_err(|e| {
                    EntryError::Invalid(format!("hard link to {:?}: {e}", target.display()))
                })?;
                Ok(())
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (file_type, dev) = match kind {
                    EntryType::Char => (FileType::CharacterDevice, device(entry)?),
                    EntryType::Block => (FileType::BlockDevice, device(entry)?),
                    _ => (FileType::Fifo, rfs::makedev(0, 0)),
                };
                rfs::mknodat(&dir, name, file_type, Mode::from_raw_mode(0o600), dev)
                    .map_err(io::Error::from)?;
                if (meta.uid, meta.gid) != (self.euid, self.egid) {
                    rfs::chownat(
                        &dir,
                        name,
                        uid(meta.uid),
                        gid(meta.gid),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(io::Error::from)?;
                }
                rfs::chmodat(
                    &dir,
                    name,
                    Mode::from_raw_mode(meta.mode & 0o7777),
                    AtFlags::empty(),
                )
                .map_err(io::Error::from)?;
                set_xattrs_symlink(&dir, name, &meta.xattrs)?;
                rfs::utimensat(&dir, name, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io::Error::from)?;
                Ok(())
            }
            other => Err(EntryError::Invalid(format!(
                "unsupported tar entry type {:?}",
                other.as_byte() as char
            ))),
        }
    }

    /// Applies the deferred directory mtimes, deepest first.
    pub fn finish(&mut self) -> Result<()> {
        self.parent_cache = None;
        for (rel, mtime) in self.dir_times.drain(..).rev() {
            let fd = match self.root.open_dir(&rel) {
                Ok(fd) => fd,
                // Replaced by a later entry: nothing to date.
                Err(_) => continue,
            };
            rfs::futimens(&fd, &times(mtime)).map_err(|e| {
                Error::Invalid(format!(
                    "entry {:?}: set mtime: {e}",
                    String::from_utf8_lossy(&rel)
                ))
            })?;
        }
        Ok(())
    }

    fn parent(&mut self, rel: &[u8]) -> EntryResult<OwnedFd> {
        if let Some((cached, fd)) = &self.parent_cache
            && cached == rel
        {
            return fd.try_clone().map_err(EntryError::Read);
        }
        let fd = self.root.ensure_dir(rel)?;
        self.parent_cache = Some((rel.to_vec(), fd.try_clone().map_err(EntryError::Read)?));
        Ok(fd)
    }

    fn invalidate_cache_below(&mut self, rel: &[u8]) {
        if let Some((cached, _)) = &self.parent_cache
            && (cached == rel || (cached.starts_with(rel) && cached.get(rel.len()) == Some(&b'/')))
        {
            self.parent_cache = None;
        }
    }

    fn apply_dir_meta(&mut self, fd: &OwnedFd, rel: &[u8], meta: &Meta) -> EntryResult {
        self.apply_owner_mode(fd, meta)?;
        set_xattrs_fd(fd, &meta.xattrs)?;
        self.dir_times.push((rel.to_vec(), meta.mtime));
        Ok(())
    }

    fn apply_owner_mode(&self, fd: impl std::os::fd::AsFd, meta: &Meta) -> EntryResult {
        // chown clears set-id bits, so ownership goes first and the mode after.
        if (meta.uid, meta.gid) != (self.euid, self.egid) {
            rfs::fchown(&fd, uid(meta.uid), gid(meta.gid)).map_err(io::Error::from)?;
        }
        rfs::fchmod(&fd, Mode::from_raw_mode(meta.mode & 0o7777)).map_err(io::Error::from)?;
        Ok(())
    }

    /// Copies the entry's data.
    fn copy_data<R: Read>(&mut self, entry: &mut tar::Entry<R>, file: &File) -> EntryResult<u64> {
        let mut out = file;
        let mut total = 0u64;
        loop {
            let n = entry.read(&mut self.buf).map_err(EntryError::Read)?;
            if n == 0 {
                break;
            }
            out.write_all(&self.buf[..n])?;
            total += n as u64;
        }
        Ok(total)
    }

    /// Ends a sparse file once its stored bytes were written: its real
    /// size (trailing holes) and its mtime.
    pub fn finish_sparse(file: &File, real_size: u64, mtime: Timespec) -> EntryResult {
        file.set_len(real_size)?;
        rfs::futimens(file, &times(mtime)).map_err(io::Error::from)?;
        Ok(())
    }
}

fn read_meta<R: Read>(entry: &mut tar::Entry<R>) -> EntryResult<Meta> {
    let header = entry.header();
    let bad = |what: &str, e: io::Error| EntryError::Invalid(format!("bad {what} in header: {e}"));
    let mut meta = Meta {
        mode: header.mode().map_err(|e| bad("mode", e))?,
        uid: header
            .uid()
            .map_err(|e| bad("uid", e))?
            .try_into()
            .unwrap_or(u32::MAX),
        gid: header
            .gid()
            .map_err(|e| bad("gid", e))?
            .try_into()
            .unwrap_or(u32::MAX),
        mtime: Timespec {
            tv_sec: header.mtime().map_err(|e| bad("mtime", e))? as i64,
            tv_nsec: 0,
        },
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions().map_err(EntryError::Read)? {
        for ext in pax {
            let ext = ext.map_err(EntryError::Read)?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            let number = || {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u32>().ok())
            };
            match key {
                b"uid" => {
                    meta.uid = number().ok_or_else(|| EntryError::Invalid("bad PAX uid".into()))?
                }
                b"gid" => {
                    meta.gid = number().ok_or_else(|| EntryError::Invalid("bad PAX gid".into()))?
                }
                b"mtime" => {
                    if let Some(t) = parse_pax_time(value) {
                        meta.mtime = t;
                    }
                }
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.")
                        && !name.starts_with(b"trusted.")
                    {
                        meta.xattrs.push((name.to_vec(), value.to_vec()));
                    }
                }
            }
        }
    }
    if meta.uid == u32::MAX || meta.gid == u32::MAX {
        return Err(EntryError::Invalid("uid or gid out of range".into()));
    }
    Ok(meta)
}

/// PAX times are decimal seconds with an optional fraction: `1700000000.123`.
fn parse_pax_time(value: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(value).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tv_nsec = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(Timespec { tv_sec, tv_nsec })
}

fn device<R: Read>(entry: &tar::Entry<R>) -> EntryResult<rfs::Dev> {
    let h = entry.header();
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    Ok(rfs::makedev(major, minor))
}

fn times(t: Timespec) -> Timestamps {
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn uid(raw: u32) -> Option<Uid> {
    Some(Uid::from_raw(raw))
}

fn gid(raw: u32) -> Option<Gid> {
    Some(Gid::from_raw(raw))
}

/// Sets xattrs on an open file; filesystems that do not support a namespace
/// (ENOTSUP) or refuse it (EPERM) are skipped, as Docker does.
fn set_xattrs_fd(fd: impl std::os::fd::AsFd, xattrs: &[(Vec<u8>, Vec<u8>)]) -> EntryResult {
    for (name, value) in xattrs {
        match rfs::fsetxattr(&fd, OsStr::from_bytes(name), value, XattrFlags::empty()) {
            Ok(()) | Err(Errno::NOTSUP) | Err(Errno::PERM) => {}
            Err(e) => {
                return Err(EntryError::Invalid(format!(
                    "set xattr {:?}: {e}",
                    String::from_utf8_lossy(name)
                )));
            }
        }
    }
    Ok(())
}

/// Sets xattrs on a symlink or device node by name: the parent is reached
/// through its fd's /proc link, so no path below the root is resolved by name.
fn set_xattrs_symlink(dir: &OwnedFd, name: &OsStr, xattrs: &[(Vec<u8>, Vec<u8>)]) -> EntryResult {
    if xattrs.is_empty() {
        return Ok(());
    }
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.as_bytes());
    for (xname, value) in xattrs {
        match rfs::lsetxattr(
            OsStr::from_bytes(&path),
            OsStr::from_bytes(xname),
            value,
            XattrFlags::empty(),
        ) {
            Ok(()) | Err(Errno::NOTSUP) | Err(Errno::PERM) => {}
            Err(e) => {
                return Err(EntryError::Invalid(format!(
                    "set xattr {:?}: {e}",
                    String::from_utf8_lossy(xname)
                )));
            }
        }
    }
    Ok(())
}
