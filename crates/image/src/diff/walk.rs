//! The walk: the upper directory depth first, each directory's names sorted
//! bytewise, every entry written as soon as it is met.
//!
//! The stack holds one open directory per level below the root (with its
//! sorted names), never a path string: every lookup is a single component
//! relative to its parent's fd, with `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW`.
//! Symlinks, devices and fifos are never opened; their attributes are read
//! through `/proc/self/fd/DIR/NAME`, which does not follow the last component.
//! Depth costs one fd per level: a tree deeper than the fd limit fails with
//! EMFILE naming the directory.

use std::collections::HashMap;
use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::DiffStats;
use super::error::DiffError;
use super::header::{self, Encoder, Meta};
use super::sink::{FillError, Sink};
use super::xattr::{Source, Xattrs};

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// `NONBLOCK` and `NOCTTY` make opening harmless should the name have become a
/// fifo or a terminal since it was listed; the type is checked after `fstat`.
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";

/// What the walk needs of a `stat`, in fixed types: the kernel's struct has
/// different field widths per architecture.
#[derive(Clone, Copy)]
struct Info {
    kind: FileType,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    nlink: u64,
    rdev: (u32, u32),
    /// (device, inode): identifies a file across its hard links.
    inode: (u64, u64),
}

// The casts are identities on some architectures and widenings on others.
#[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
fn info(st: &Stat) -> Info {
    let rdev = st.st_rdev as rfs::Dev;
    Info {
        kind: FileType::from_raw_mode(st.st_mode as rfs::RawMode),
        mode: (st.st_mode as u32) & 0o7777,
        uid: st.st_uid as u32,
        gid: st.st_gid as u32,
        // A regular file's size is never negative.
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: st.st_mtime as i64,
        nlink: st.st_nlink as u64,
        rdev: (rfs::major(rdev), rfs::minor(rdev)),
        inode: (st.st_dev as u64, st.st_ino as u64),
    }
}

/// One directory being walked.
struct Frame {
    dir: Dir,
    names: Names,
    next: usize,
    /// Length of the walker's path up to and including this directory's `/`
    /// (0 for the upper directory itself).
    base: usize,
}

/// A directory's names in one buffer, with spans sorted bytewise.
struct Names {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize, FileType)>,
}

pub struct Walker<'a, W: Write> {
    upper: &'a Path,
    /// The directory to walk, when given as an fd (`upper` then only
    /// names it in messages).
    root: Option<BorrowedFd<'a>>,
    sink: Sink<W>,
    encoder: Encoder,
    xattrs: Xattrs,
    /// The current entry's path relative to `upper`.
    path: Vec<u8>,
    /// The name written for the current entry.
    name: Vec<u8>,
    /// Symlink target or hard link source of the current entry.
    link: Vec<u8>,
    proc_path: Vec<u8>,
    /// First path of every multiply-linked inode met so far.
    links: HashMap<(u64, u64), Box<[u8]>>,
    entries: u64,
    /// No mtime later than this (reproducible builds' SOURCE_DATE_EPOCH).
    clamp_mtime: Option<i64>,
}

impl<'a, W: Write> Walker<'a, W> {
    pub fn new(upper: &'a Path, out: W) -> Walker<'a, W> {
        Walker {
            upper,
            root: None,
            sink: Sink::new(out),
            encoder: Encoder::default(),
            xattrs: Xattrs::new(),
            path: Vec::with_capacity(4096),
            name: Vec::with_capacity(4096),
            link: Vec::with_capacity(4096),
            proc_path: Vec::with_capacity(512),
            links: HashMap::new(),
            entries: 0,
            clamp_mtime: None,
        }
    }

    /// Writes no mtime later than `epoch` (seconds).
    pub fn clamp_mtime(mut self, epoch: Option<i64>) -> Walker<'a, W> {
        self.clamp_mtime = epoch;
        self
    }

    fn clamped(&self, mut st: Info) -> Info {
        if let Some(epoch) = self.clamp_mtime {
            st.mtime = st.mtime.min(epoch);
        }
        st
    }

    /// Walks the directory `dir` instead of opening `upper`.
    pub fn at(mut self, dir: BorrowedFd<'a>) -> Walker<'a, W> {
        self.root = Some(dir);
        self
    }

    pub fn run(mut self) -> Result<DiffStats, DiffError> {
        let root = match self.root {
            Some(dir) => rfs::openat(dir, ".", DIR_FLAGS, Mode::empty()),
            None => rfs::open(self.upper, DIR_FLAGS, Mode::empty()),
        }
        .map_err(|e| self.io("open upper directory", e))?;
        self.read_xattrs(Source::Fd(root.as_fd()))?;
        // The root gets no entry of its own, but an opaque root still hides
        // everything below it.
        if self.xattrs.opaque {
            self.opaque_marker()?;
        }
        let mut stack = vec![self.frame(root, 0)?];

        while let Some(frame) = stack.last_mut() {
            let Some(&(start, end, listed)) = frame.names.spans.get(frame.next) else {
                stack.pop();
                continue;
            };
            frame.next += 1;
            self.path.truncate(frame.base);
            self.path.extend_from_slice(&frame.names.bytes[start..end]);
            let base = frame.base;
            let dir = frame.dir.fd().map_err(|e| self.io("read directory", e))?;
            if let Some(child) = self.visit(dir, base, listed)? {
                stack.push(child);
            }
        }

        // Errors from here on concern the stream, not an entry.
        self.path.clear();
        let end = self.sink.zeros(1024);
        end.map_err(|e| self.write_error(e))?;
        let upper = self.upper;
        let bytes = self.sink.finish().map_err(|source| DiffError::Write {
            path: upper.to_path_buf(),
            source,
        })?;
        Ok(DiffStats {
            entries: self.entries,
            bytes,
        })
    }

    /// Writes the entry at `self.path` (whose last component starts at
    /// `name_start`) found in `dir`; returns the frame to walk next if it is a
    /// directory.
    fn visit(
        &mut self,
        dir: BorrowedFd<'_>,
        name_start: usize,
        listed: FileType,
    ) -> Result<Option<Frame>, DiffError> {
        let kind = match listed {
            // Filesystems without d_type (overlayfs refuses them as upper, but
            // the function may be pointed at any directory).
            FileType::Unknown => self.lstat(dir, name_start)?.kind,
            known => known,
        };
        match kind {
            FileType::Directory => self.directory(dir, name_start).map(Some),
            FileType::RegularFile => self.regular(dir, name_start).map(|()| None),
            _ => self.special(dir, name_start).map(|()| None),
        }
    }

    fn directory(&mut self, dir: BorrowedFd<'_>, name_start: usize) -> Result<Frame, DiffError> {
        let name = OsStr::from_bytes(&self.path[name_start..]);
        let fd = rfs::openat(dir, name, DIR_FLAGS, Mode::empty())
            .map_err(|e| self.io("open directory", e))?;
        let st = self.clamped(info(&rfs::fstat(&fd).map_err(|e| self.io("stat", e))?));
        self.read_xattrs(Source::Fd(fd.as_fd()))?;

        self.name.clear();
        self.name.extend_from_slice(&self.path);
        self.name.push(b'/');
        let meta = Meta {
            kind: header::DIRECTORY,
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            mtime: st.mtime,
            size: 0,
            dev: (0, 0),
        };
        self.emit(&meta, false, true)?;
        if self.xattrs.opaque {
            self.opaque_marker()?;
        }

        let depth = self.path.len() + 1;
        let frame = self.frame(fd, depth)?;
        self.path.push(b'/');
        Ok(frame)
    }

    fn regular(&mut self, dir: BorrowedFd<'_>, name_start: usize) -> Result<(), DiffError> {
        let name = OsStr::from_bytes(&self.path[name_start..]);
        let fd = rfs::openat(dir, name, FILE_FLAGS, Mode::empty())
            .map_err(|e| self.io("open file", e))?;
        let st = self.clamped(info(&rfs::fstat(&fd).map_err(|e| self.io("stat", e))?));
        if st.kind != FileType::RegularFile {
            return Err(self.changed(format!("a regular file became a {}", type_name(st.kind))));
        }
        if self.hard_link(&st)? {
            return Ok(());
        }
        self.read_xattrs(Source::Fd(fd.as_fd()))?;

        self.name.clear();
        self.name.extend_from_slice(&self.path);
        let meta = Meta {
            kind: header::REGULAR,
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            mtime: st.mtime,
            size: st.size,
            dev: (0, 0),
        };
        self.emit(&meta, false, true)?;
        self.copy_contents(File::from(fd), st.size)
    }

    /// Streams exactly `size` bytes (the size in the header) into the sink.
    fn copy_contents(&mut self, mut file: File, size: u64) -> Result<(), DiffError> {
        let mut remaining = size;
        while remaining > 0 {
            match self.sink.fill_from(&mut file, remaining) {
                Ok(0) => {
                    return Err(self.changed(format!(
                        "the file shrank below the {size} bytes it had when its header was written"
                    )));
                }
                Ok(n) => remaining -= n as u64,
                Err(FillError::Read(e)) => return Err(self.io_error("read file", e)),
                Err(FillError::Write(e)) => return Err(self.write_error(e)),
            }
        }
        let pad = self.sink.pad(size);
        pad.map_err(|e| self.write_error(e))
    }

    /// Symlinks, devices, fifos, whiteouts and sockets: never opened.
    fn special(&mut self, dir: BorrowedFd<'_>, name_start: usize) -> Result<(), DiffError> {
        let st = self.lstat(dir, name_start)?;
        let kind = match st.kind {
            FileType::Socket => return Ok(()),
            FileType::CharacterDevice if st.rdev == (0, 0) => {
                return self.whiteout(name_start);
            }
            FileType::CharacterDevice => header::CHAR,
            FileType::BlockDevice => header::BLOCK,
            FileType::Fifo => header::FIFO,
            FileType::Symlink => header::SYMLINK,
            other => {
                return Err(self.changed(format!(
                    "a symlink, device or fifo became a {}",
                    type_name(other)
                )));
            }
        };
        if self.hard_link(&st)? {
            return Ok(());
        }

        self.proc_path.clear();
        self.proc_path.extend_from_slice(b"/proc/self/fd/");
        self.proc_path
            .extend_from_slice(dir.as_raw_fd().to_string().as_bytes());
        self.proc_path.push(b'/');
        self.proc_path.extend_from_slice(&self.path[name_start..]);
        self.proc_path.push(0);
        let proc_path = std::mem::take(&mut self.proc_path);
        let read = match CStr::from_bytes_with_nul(&proc_path) {
            Ok(p) => self.read_xattrs(Source::Path(p)),
            // Names from readdir hold no NUL.
            Err(e) => Err(self.io_error("read attributes of", io::Error::other(e))),
        };
        self.proc_path = proc_path;
        read?;

        self.link.clear();
        if kind == header::SYMLINK {
            let name = OsStr::from_bytes(&self.path[name_start..]);
            // Linux caps a symlink target at 4095 bytes; the buffer's spare
            // byte tells a full read from a cut one.
            self.link.resize(4096, 0);
            let n = rfs::readlinkat_raw(dir, name, &mut self.link[..])
                .map_err(|e| self.io("read symlink", e))?;
            if n >= self.link.len() {
                return Err(self.changed("the symlink target grew past 4095 bytes".into()));
            }
            self.link.truncate(n);
        }

        self.name.clear();
        self.name.extend_from_slice(&self.path);
        let meta = Meta {
            kind,
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            mtime: st.mtime,
            size: 0,
            dev: if matches!(kind, header::CHAR | header::BLOCK) {
                st.rdev
            } else {
                (0, 0)
            },
        };
        self.emit(&meta, kind == header::SYMLINK, true)
    }

    /// A 0/0 character device: `NAME` deleted in this layer.
    fn whiteout(&mut self, name_start: usize) -> Result<(), DiffError> {
        self.name.clear();
        self.name.extend_from_slice(&self.path[..name_start]);
        self.name.extend_from_slice(WHITEOUT_PREFIX);
        self.name.extend_from_slice(&self.path[name_start..]);
        self.emit(&MARKER, false, false)
    }

    /// `DIR/.wh..wh..opq` after the opaque directory at `self.path`.
    fn opaque_marker(&mut self) -> Result<(), DiffError> {
        self.name.clear();
        self.name.extend_from_slice(&self.path);
        if !self.path.is_empty() {
            self.name.push(b'/');
        }
        self.name.extend_from_slice(OPAQUE_MARKER);
        self.emit(&MARKER, false, false)
    }

    /// For an inode with several links: the first path met is recorded and
    /// written normally (false); later paths become hard link entries (true).
    fn hard_link(&mut self, st: &Info) -> Result<bool, DiffError> {
        if st.nlink <= 1 {
            return Ok(false);
        }
        let Some(first) = self.links.get(&st.inode) else {
            self.links
                .insert(st.inode, self.path.clone().into_boxed_slice());
            return Ok(false);
        };
        self.link.clear();
        self.link.extend_from_slice(first);
        self.name.clear();
        self.name.extend_from_slice(&self.path);
        let meta = Meta {
            kind: header::HARDLINK,
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            mtime: st.mtime,
            size: 0,
            dev: (0, 0),
        };
        // Attributes belong to the inode and travel with its first entry.
        self.emit(&meta, true, false)?;
        Ok(true)
    }

    /// Writes the header(s) for `self.name`, with `self.link` as link target
    /// if `with_link` and the current attributes if `with_xattrs`.
    fn emit(&mut self, meta: &Meta, with_link: bool, with_xattrs: bool) -> Result<(), DiffError> {
        let link: &[u8] = if with_link { &self.link } else { &[] };
        let xattrs = with_xattrs
            .then(|| self.xattrs.kept())
            .into_iter()
            .flatten();
        let written = self
            .encoder
            .write(&mut self.sink, &self.name, link, meta, xattrs);
        written.map_err(|e| self.write_error(e))?;
        self.entries += 1;
        Ok(())
    }

    /// Opens `fd` as a directory stream and reads its names, sorted.
    fn frame(&mut self, fd: OwnedFd, base: usize) -> Result<Frame, DiffError> {
        let mut dir = Dir::new(fd).map_err(|e| self.io("read directory", e))?;
        let mut names = Names {
            bytes: Vec::new(),
            spans: Vec::new(),
        };
        for entry in &mut dir {
            let entry = entry.map_err(|e| self.io("read directory", e))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let start = names.bytes.len();
            names.bytes.extend_from_slice(name);
            names
                .spans
                .push((start, names.bytes.len(), entry.file_type()));
        }
        let bytes = &names.bytes;
        names
            .spans
            .sort_unstable_by(|a, b| bytes[a.0..a.1].cmp(&bytes[b.0..b.1]));
        Ok(Frame {
            dir,
            names,
            next: 0,
            base,
        })
    }

    fn lstat(&self, dir: BorrowedFd<'_>, name_start: usize) -> Result<Info, DiffError> {
        let name = OsStr::from_bytes(&self.path[name_start..]);
        rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| self.clamped(info(&st)))
            .map_err(|e| self.io("stat", e))
    }

    fn read_xattrs(&mut self, src: Source<'_>) -> Result<(), DiffError> {
        let read = self.xattrs.read(src);
        read.map_err(|e| self.io("read extended attributes of", e))?;
        if let Some(reason) = self.xattrs.refused.take() {
            return Err(DiffError::Unsupported {
                op: "read extended attributes of",
                path: self.full_path(),
                reason,
            });
        }
        Ok(())
    }

    fn full_path(&self) -> PathBuf {
        let rel = self.path.strip_suffix(b"/").unwrap_or(&self.path);
        if rel.is_empty() {
            self.upper.to_path_buf()
        } else {
            self.upper.join(OsStr::from_bytes(rel))
        }
    }

    fn io(&self, op: &'static str, e: Errno) -> DiffError {
        self.io_error(op, e.into())
    }

    fn io_error(&self, op: &'static str, source: io::Error) -> DiffError {
        DiffError::Io {
            op,
            path: self.full_path(),
            source,
        }
    }

    fn write_error(&self, source: io::Error) -> DiffError {
        DiffError::Write {
            path: self.full_path(),
            source,
        }
    }

    fn changed(&self, what: String) -> DiffError {
        DiffError::Changed {
            path: self.full_path(),
            what,
        }
    }
}

/// Whiteouts and opaque markers: empty, mode 0, owned by root, mtime 0. No
/// unpacker materialises them as files (they become a device node or an xattr
/// dated at unpack time), so a fixed date loses nothing and makes two deletions
/// of the same file encode identically.
const MARKER: Meta = Meta {
    kind: header::REGULAR,
    mode: 0,
    uid: 0,
    gid: 0,
    mtime: 0,
    size: 0,
    dev: (0, 0),
};

fn type_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Unknown => "file of unknown type",
    }
}
