//! COPY and ADD into a stage's root (a writable snapshot mounted nowhere,
//! open as a directory fd): Docker's rules for sources and destinations,
//! `--chown`, `--chmod`, and ADD's extraction of local tar archives.
//!
//! Destination paths are resolved by the kernel inside the merged root
//! (`RESOLVE_IN_ROOT`), so a symlink in the image cannot send a write out
//! of it. The destination directory is then copied up (overlayfs makes it,
//! with its attributes, in the writable layer) and the files are written
//! into the writable layer's directory itself: creating thousands of files
//! through overlayfs costs several times what it costs on the file system
//! under it, and the result is the same (a new name in the upper layer
//! hides the lower's). Entries are created relative to their parent's fd,
//! never following a link.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};

use super::tree::{Source, Tree, join, list, on_two_threads, open_dir};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `--chown`: (uid, gid); else root's, or the source's own with
    /// `preserve_owner`.
    pub chown: Option<(u32, u32)>,
    /// `--chmod`: the mode of every file and directory copied.
    pub chmod: Option<u32>,
    /// `COPY --from`: owners as in the other stage.
    pub preserve_owner: bool,
    /// `ADD`: a local tar archive is extracted, not copied.
    pub extract_archives: bool,
    /// No mtime later than this (the build's epoch): set so when written,
    /// the layer needs no second pass.
    pub clamp_mtime: Option<i64>,
}

impl Options {
    fn mtime(&self, mtime: i64) -> i64 {
        self.clamp_mtime.map_or(mtime, |c| mtime.min(c))
    }
}

/// Where a step writes: the merged root (for resolving paths) and the
/// writable layer's directory under it.
pub struct Dest {
    pub merged: OwnedFd,
    pub upper: OwnedFd,
}

impl Dest {
    /// The writable layer's directory for a directory of the merged root
    /// (open as `dir`), copied up first.
    fn upper_of(&self, dir: &OwnedFd) -> Result<OwnedFd> {
        let st = rustix::fs::fstat(dir).map_err(|e| Error::internal(format!("stat: {e}")))?;
        // A change of owner to the same owner makes overlayfs copy the
        // directory up (with its mode, owner, times and xattrs).
        rustix::fs::fchown(
            dir,
            Some(rustix::process::Uid::from_raw(st.st_uid)),
            Some(rustix::process::Gid::from_raw(st.st_gid)),
        )
        .map_err(|e| Error::internal(format!("copy up a directory: {e}")))?;
        // Where it is in the mount (a detached mount names paths from its
        // root).
        let path = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(dir)
        ))
        .map_err(|e| Error::internal(format!("locate a directory in the snapshot: {e}")))?;
        let rel = path.to_string_lossy().trim_start_matches('/').to_string();
        let upper = rustix::fs::openat2(
            &self.upper,
            if rel.is_empty() { "." } else { rel.as_str() },
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        )
        .map_err(|e| {
            Error::internal(format!(
                "/{rel} is not in the writable layer after its copy-up: {e}"
            ))
        })?;
        let ust = rustix::fs::fstat(&upper).map_err(|e| Error::internal(format!("stat: {e}")))?;
        if (ust.st_mode & 0o7777, ust.st_uid, ust.st_gid)
            != (st.st_mode & 0o7777, st.st_uid, st.st_gid)
        {
            return Err(Error::internal(format!(
                "/{rel} in the writable layer is not the directory the snapshot shows"
            )));
        }
        Ok(upper)
    }

    /// `mkdir -p` in the merged root, then its writable layer's directory.
    fn dir(&self, path: &str, owner: (u32, u32)) -> Result<OwnedFd> {
        let merged = mkdir_all(&self.merged, path, owner)?;
        self.upper_of(&merged)
    }
}

/// Copies `sources` of `tree` to `dest` (absolute, in the root) with
/// Docker's rules: a directory's contents go into `dest`; a file goes to
/// `dest` itself unless `dest` ends in `/` or is a directory.
pub fn copy(
    root: &Dest,
    tree: &Tree,
    sources: &[Source],
    dest: &str,
    options: &Options,
) -> Result<()> {
    let dest_is_dir = dest.ends_with('/') || dest.ends_with("/.") || dest == ".";
    if sources.len() > 1 && !dest_is_dir {
        return Err(Error::invalid(
            "When using COPY with more than one source file, the destination must be a directory and end with a /",
        ));
    }
    let owner = options.chown.unwrap_or((0, 0));
    for source in sources {
        let fd = tree
            .open_in(&source.rel, OFlags::RDONLY | OFlags::NONBLOCK)
            .map_err(|e| tree.error("open", &source.rel, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| tree.error("stat", &source.rel, e))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::Directory {
            let dir = root.dir(dest, owner)?;
            copy_children(tree, &fd, &source.rel, &dir, options, true)?;
            continue;
        }
        if options.extract_archives
            && kind == FileType::RegularFile
            && let Some(archive) = archive_reader(&fd)?
        {
            let dir = root.dir(dest, owner)?;
            extract(archive, &dir, options)
                .map_err(|e| e.context(format!("extract {:?} to {dest}", source.rel)))?;
            continue;
        }
        let base = source.rel.rsplit('/').next().unwrap_or_default();
        let (parent, name) = if dest_is_dir || is_dir(&root.merged, dest) {
            (root.dir(dest, owner)?, base.to_string())
        } else {
            let (dir, name) = split(dest);
            (root.dir(dir, owner)?, name.to_string())
        };
        copy_entry(tree, fd.as_fd(), &st, &source.rel, &parent, &name, options)?;
    }
    Ok(())
}

/// Writes `contents` as the file `dest` (a heredoc `COPY <<EOF /dst`).
pub fn write_file(
    root: &Dest,
    dest: &str,
    contents: &[u8],
    options: &Options,
    mtime: i64,
) -> Result<()> {
    let owner = options.chown.unwrap_or((0, 0));
    let (parent, name) = if dest.ends_with('/') {
        return Err(Error::invalid(format!(
            "a heredoc needs a file name as its destination, not the directory {dest}"
        )));
    } else {
        let (dir, name) = split(dest);
        (root.dir(dir, owner)?, name)
    };
    let (file, _) = create_file(&parent, name, options.chmod.unwrap_or(0o644))?;
    let mut f = std::fs::File::from(file);
    std::io::Write::write_all(&mut f, contents)
        .map_err(|e| Error::internal(format!("write {dest}: {e}")))?;
    finish(
        f.as_fd(),
        owner,
        options.chmod.unwrap_or(0o644),
        options.mtime(mtime),
    )
}

fn split(path: &str) -> (&str, &str) {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some((dir, name)) => (if dir.is_empty() { "/" } else { dir }, name),
        None => ("/", path),
    }
}

fn in_root(root: &OwnedFd, path: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let rel = path.trim_start_matches('/');
    rustix::fs::openat2(
        root,
        if rel.is_empty() { "." } else { rel },
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

fn is_dir(root: &OwnedFd, path: &str) -> bool {
    in_root(root, path, OFlags::RDONLY | OFlags::DIRECTORY).is_ok()
}

/// `mkdir -p` inside the root: missing directories 0755, owned by `owner`.
pub fn mkdir_all(root: &OwnedFd, path: &str, owner: (u32, u32)) -> Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY;
    let mut done = String::from("/");
    let mut dir = in_root(root, "/", flags).map_err(|e| Error::internal(format!("open /: {e}")))?;
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let next = if done == "/" {
            format!("/{part}")
        } else {
            format!("{done}/{part}")
        };
        match in_root(root, &next, flags) {
            Ok(fd) => dir = fd,
            Err(rustix::io::Errno::NOENT) => {
                match rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(Error::invalid(format!("mkdir {next}: {e}"))),
                }
                let fd = in_root(root, &next, flags)
                    .map_err(|e| Error::invalid(format!("open {next}: {e}")))?;
                rustix::fs::fchown(
                    &fd,
                    Some(rustix::process::Uid::from_raw(owner.0)),
                    Some(rustix::process::Gid::from_raw(owner.1)),
                )
                .map_err(|e| Error::internal(format!("chown {next}: {e}")))?;
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755))
                    .map_err(|e| Error::internal(format!("chmod {next}: {e}")))?;
                dir = fd;
            }
            Err(rustix::io::Errno::NOTDIR) => {
                return Err(Error::invalid(format!(
                    "cannot copy to {path}: {next} is not a directory"
                )));
            }
            Err(e) => return Err(Error::invalid(format!("open {next}: {e}"))),
        }
        done = next;
    }
    Ok(dir)
}

/// A directory's children. A COPY's top directory is split over two
/// threads (`parallel`): copying thousands of small files is system
/// calls, and the build's critical path waits on it while the other core
/// idles. Each thread takes whole entries (a subdirectory with everything
/// in it), so no directory is finished (its times set) before its
/// children are written.
fn copy_children(
    tree: &Tree,
    src: &OwnedFd,
    rel: &str,
    dest: &OwnedFd,
    options: &Options,
    parallel: bool,
) -> Result<()> {
    let mut names = list(src, &tree.name)?;
    names.sort();
    if !parallel || names.len() < 2 {
        return copy_named(tree, src, rel, dest, options, &names);
    }
    on_two_threads(&names, |half| {
        copy_named(tree, src, rel, dest, options, half)
    })
    .map(drop)
}

fn copy_named(
    tree: &Tree,
    src: &OwnedFd,
    rel: &str,
    dest: &OwnedFd,
    options: &Options,
    names: &[String],
) -> Result<()> {
    for name in names {
        let name = name.clone();
        let child_rel = join(rel, &name);
        let excluded = tree.ignore.excludes(&child_rel);
        if excluded && !tree.ignore.may_include_below(&child_rel) {
            continue;
        }
        let st = rustix::fs::statat(src, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| tree.error("stat", &child_rel, e))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if excluded && kind != FileType::Directory {
            continue;
        }
        let fd = match kind {
            FileType::Symlink | FileType::Fifo | FileType::Socket => None,
            FileType::Directory => {
                Some(open_dir(src, name.as_str()).map_err(|e| tree.error("open", &child_rel, e))?)
            }
            _ => Some(
                rustix::fs::openat(
                    src,
                    name.as_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| tree.error("open", &child_rel, e))?,
            ),
        };
        match fd {
            Some(fd) => copy_entry(tree, fd.as_fd(), &st, &child_rel, dest, &name, options)?,
            None => copy_special(tree, src, &name, &st, &child_rel, dest, options)?,
        }
    }
    Ok(())
}

fn owner_of(st: &rustix::fs::Stat, options: &Options) -> (u32, u32) {
    match (options.chown, options.preserve_owner) {
        (Some(o), _) => o,
        (None, true) => (st.st_uid, st.st_gid),
        (None, false) => (0, 0),
    }
}

fn mode_of(st: &rustix::fs::Stat, options: &Options) -> u32 {
    options.chmod.unwrap_or(st.st_mode & 0o7777)
}

/// Copies one file or directory (open as `src`) to `name` in `dest`.
fn copy_entry(
    tree: &Tree,
    src: BorrowedFd<'_>,
    st: &rustix::fs::Stat,
    rel: &str,
    dest: &OwnedFd,
    name: &str,
    options: &Options,
) -> Result<()> {
    let owner = owner_of(st, options);
    let mode = mode_of(st, options);
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            match rustix::fs::mkdirat(dest, name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(Error::invalid(format!("mkdir {name}: {e}"))),
            }
            let dir = open_dir(dest, name).map_err(|e| {
                Error::invalid(format!(
                    "cannot copy {rel:?}: {name} is not a directory: {e}"
                ))
            })?;
            let src_dir = rustix::io::fcntl_dupfd_cloexec(src, 3)
                .map_err(|e| Error::internal(format!("dup: {e}")))?;
            copy_children(tree, &src_dir, rel, &dir, options, false)?;
            finish(dir.as_fd(), owner, mode, options.mtime(st.st_mtime))
        }
        FileType::RegularFile => {
            let (file, fresh) = create_file(dest, name, mode)?;
            copy_data(src, &file, st.st_size as u64)
                .map_err(|e| Error::internal(format!("copy {rel:?} from {}: {e}", tree.name)))?;
            if fresh && new_file_is(&file, owner, mode)? {
                set_mtime(file.as_fd(), options.mtime(st.st_mtime))
            } else {
                finish(file.as_fd(), owner, mode, options.mtime(st.st_mtime))
            }
        }
        _ => Ok(()),
    }
}

/// Symlinks and fifos: made anew (a link is copied, never followed).
fn copy_special(
    tree: &Tree,
    src_dir: &OwnedFd,
    src_name: &str,
    st: &rustix::fs::Stat,
    rel: &str,
    dest: &OwnedFd,
    options: &Options,
) -> Result<()> {
    let owner = owner_of(st, options);
    remove_non_dir(dest, src_name);
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src_dir, src_name, Vec::new())
                .map_err(|e| tree.error("read link", rel, e))?;
            rustix::fs::symlinkat(target.as_c_str(), dest, src_name)
                .map_err(|e| Error::invalid(format!("symlink {rel:?}: {e}")))?;
        }
        FileType::Fifo => {
            rustix::fs::mknodat(
                dest,
                src_name,
                FileType::Fifo,
                Mode::from_raw_mode(mode_of(st, options)),
                0,
            )
            .map_err(|e| Error::invalid(format!("mkfifo {rel:?}: {e}")))?;
        }
        // Sockets cannot be copied (nor put in a layer).
        _ => return Ok(()),
    }
    set_link_meta(dest, src_name, owner, options.mtime(st.st_mtime))
}

fn set_link_meta(dir: &OwnedFd, name: &str, owner: (u32, u32), mtime: i64) -> Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::process::Uid::from_raw(owner.0)),
        Some(rustix::process::Gid::from_raw(owner.1)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| Error::internal(format!("chown {name}: {e}")))?;
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        dir,
        name,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| Error::internal(format!("set times of {name}: {e}")))
}

/// A file or link in the way of a new entry goes; a directory stays (and
/// then the creation fails with its own message).
fn remove_non_dir(dir: &OwnedFd, name: &str) {
    let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
}

/// A file `name` in `dir`, and whether it is new (created by this call,
/// with the process's owner and `mode` less the umask).
fn create_file(dir: &OwnedFd, name: &str, mode: u32) -> Result<(OwnedFd, bool)> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let perm = Mode::from_raw_mode(mode & 0o777);
    match rustix::fs::openat(dir, name, flags | OFlags::EXCL, perm) {
        Ok(fd) => return Ok((fd, true)),
        Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(Error::invalid(format!("create {name}: {e}"))),
    }
    match rustix::fs::openat(dir, name, flags | OFlags::TRUNC, perm) {
        Ok(fd) => Ok((fd, false)),
        // A symlink (or other non-file) in the way is replaced, as Docker does.
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NXIO) => {
            remove_non_dir(dir, name);
            rustix::fs::openat(dir, name, flags | OFlags::TRUNC, perm)
                .map(|fd| (fd, false))
                .map_err(|e| Error::invalid(format!("create {name}: {e}")))
        }
        Err(e) => Err(Error::invalid(format!("create {name}: {e}"))),
    }
}

/// Whether a file just created already has `owner` and `mode`, so that
/// chown and chmod can be skipped: one fstat instead of two calls that
/// each dirty the inode. (Asked, not predicted: a setgid directory, a
/// `grpid` mount, a default ACL or the umask all shape a new file.)
fn new_file_is(file: &OwnedFd, owner: (u32, u32), mode: u32) -> Result<bool> {
    let st = rustix::fs::fstat(file).map_err(|e| Error::internal(format!("stat: {e}")))?;
    Ok((st.st_uid, st.st_gid, st.st_mode & 0o7777) == (owner.0, owner.1, mode))
}

/// The `size` bytes (as stat'ed: the size the step hashed) from the start
/// of `src` to `dst`: in the kernel when both are on one file system (one
/// call for a small file), else read and written. Reading from offset 0
/// needs no rewind of an fd someone else read (ADD's archive check).
fn copy_data(src: BorrowedFd<'_>, dst: &OwnedFd, size: u64) -> std::io::Result<()> {
    let mut offset: u64 = 0;
    while offset < size {
        let want = usize::try_from(size - offset)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        match rustix::fs::copy_file_range(src, Some(&mut offset), dst, None, want) {
            // Shrunk since, or a file system that copies nothing this way:
            // read and written, to the end there is.
            Ok(0) => return copy_data_slow(src, dst, offset),
            Ok(_) => {}
            Err(
                rustix::io::Errno::XDEV
                | rustix::io::Errno::NOSYS
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::OPNOTSUPP,
            ) => return copy_data_slow(src, dst, offset),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn copy_data_slow(src: BorrowedFd<'_>, dst: &OwnedFd, mut offset: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rustix::io::pread(src, &mut buf, offset)?;
        if n == 0 {
            return Ok(());
        }
        let mut written = 0;
        while written < n {
            written += rustix::io::write(dst, &buf[written..n])?;
        }
        offset += n as u64;
    }
}

fn set_mtime(fd: BorrowedFd<'_>, mtime: i64) -> Result<()> {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    rustix::fs::futimens(
        fd,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
    )
    .map_err(|e| Error::internal(format!("set times: {e}")))
}

fn finish(fd: BorrowedFd<'_>, owner: (u32, u32), mode: u32, mtime: i64) -> Result<()> {
    rustix::fs::fchown(
        fd,
        Some(rustix::process::Uid::from_raw(owner.0)),
        Some(rustix::process::Gid::from_raw(owner.1)),
    )
    .map_err(|e| Error::internal(format!("chown: {e}")))?;
    // After the chown, which clears setuid bits.
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
        .map_err(|e| Error::internal(format!("chmod: {e}")))?;
    set_mtime(fd, mtime)
}

/// The file as a tar stream, if it is a (possibly compressed) tar archive.
fn archive_reader(fd: &OwnedFd) -> Result<Option<Box<dyn Read>>> {
    let open = || -> Result<std::fs::File> {
        let dup = rustix::io::fcntl_dupfd_cloexec(fd, 3)
            .map_err(|e| Error::internal(format!("dup: {e}")))?;
        let file = std::fs::File::from(dup);
        std::io::Seek::rewind(&mut &file).map_err(|e| Error::internal(format!("seek: {e}")))?;
        Ok(file)
    };
    let Ok((_, mut reader)) = berth_image::compression::decompress(open()?) else {
        return Ok(None);
    };
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return Ok(None),
        }
    }
    if got < 512 || &head[257..262] != b"ustar" {
        return Ok(None);
    }
    let (_, reader) = berth_image::compression::decompress(open()?)
        .map_err(|e| Error::internal(format!("read the archive: {e}")))?;
    Ok(Some(reader))
}

/// Extracts a tar stream into `dest`: every path kept inside it, owners
/// as in the archive unless `--chown`.
pub(crate) fn extract(reader: impl Read, dest: &OwnedFd, options: &Options) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| Error::invalid(format!("read the archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::invalid(format!("read the archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| Error::invalid(format!("an archive entry's name: {e}")))?
            .to_string_lossy()
            .into_owned();
        let Ok(clean) = super::tree::clean_source(&path) else {
            continue; // a name that climbs out is skipped, as Docker does
        };
        if clean.is_empty() {
            continue;
        }
        let header = entry.header().clone();
        let mode = options
            .chmod
            .unwrap_or(header.mode().unwrap_or(0o644) & 0o7777);
        let owner = options.chown.unwrap_or((
            header.uid().unwrap_or(0) as u32,
            header.gid().unwrap_or(0) as u32,
        ));
        let mtime = options.mtime(header.mtime().unwrap_or(0) as i64);
        let (dir, name) = match clean.rsplit_once('/') {
            Some((d, n)) => (mkdir_below(dest, d)?, n.to_string()),
            None => (
                rustix::io::fcntl_dupfd_cloexec(dest, 3)
                    .map_err(|e| Error::internal(format!("dup: {e}")))?,
                clean.clone(),
            ),
        };
        match header.entry_type() {
            tar::EntryType::Directory => {
                match rustix::fs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(Error::invalid(format!("mkdir {clean}: {e}"))),
                }
                let fd = open_dir(&dir, name.as_str())
                    .map_err(|e| Error::invalid(format!("open {clean}: {e}")))?;
                finish(fd.as_fd(), owner, mode, mtime)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let (fd, _) = create_file(&dir, &name, mode)?;
                let mut to = std::fs::File::from(fd);
                std::io::copy(&mut entry, &mut to)
                    .map_err(|e| Error::invalid(format!("extract {clean}: {e}")))?;
                finish(to.as_fd(), owner, mode, mtime)?;
            }
            tar::EntryType::Symlink => {
                let target = header
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                remove_non_dir(&dir, &name);
                rustix::fs::symlinkat(target.as_str(), &dir, name.as_str())
                    .map_err(|e| Error::invalid(format!("symlink {clean}: {e}")))?;
                set_link_meta(&dir, &name, owner, mtime)?;
            }
            tar::EntryType::Link => {
                let target = header
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let Ok(target) = super::tree::clean_source(&target) else {
                    continue;
                };
                remove_non_dir(&dir, &name);
                rustix::fs::linkat(dest, target.as_str(), &dir, name.as_str(), AtFlags::empty())
                    .map_err(|e| Error::invalid(format!("link {clean} to {target}: {e}")))?;
            }
            // Devices and fifos are left out (a build runs unprivileged
            // copies; Docker's classic builder does the same for devices).
            _ => {}
        }
    }
    Ok(())
}

/// `mkdir -p` of a relative path below `dest`, never through a link.
fn mkdir_below(dest: &OwnedFd, rel: &str) -> Result<OwnedFd> {
    let mut dir = rustix::io::fcntl_dupfd_cloexec(dest, 3)
        .map_err(|e| Error::internal(format!("dup: {e}")))?;
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        match rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(Error::invalid(format!("mkdir {rel}: {e}"))),
        }
        dir = open_dir(&dir, part).map_err(|e| Error::invalid(format!("open {rel}: {e}")))?;
    }
    Ok(dir)
}
