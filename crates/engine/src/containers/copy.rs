//! `cp` both ways, confined to the container's root: every container path
//! is resolved by the kernel inside the root (RESOLVE_IN_ROOT), and the
//! tree below it is walked through directory fds with O_NOFOLLOW, so no
//! symlink in the container can lead outside it.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use super::root::ContainerRoot;
use crate::error::{Error, IoContext, Result};

fn sys(op: &str, path: &Path, e: rustix::io::Errno) -> Error {
    let kind = if e == rustix::io::Errno::NOENT {
        crate::ErrorKind::NotFound
    } else {
        crate::ErrorKind::Internal
    };
    Error::new(kind, format!("{op} {}: {e}", path.display()))
}

fn in_root(root: &ContainerRoot, path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    rustix::fs::openat2(
        &root.fd,
        rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

/// Copies `src` (in the container) to `dest` on the host, with Docker's
/// rules: into `dest` if it is a directory, else as `dest`; `src/.` copies
/// a directory's contents.
pub fn copy_out(root: &ContainerRoot, src: &str, dest: &Path) -> Result<()> {
    copy_out_with(root, src, dest, false)
}

/// Fills a new, empty volume with what the image has at its mount point
/// (Docker's copy-up), owners and modes kept. Nothing to copy is fine.
pub fn populate_volume(root: &ContainerRoot, target: &str, volume: &Path) -> Result<()> {
    let empty = std::fs::read_dir(volume)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if !empty {
        return Ok(());
    }
    let src = format!("{}/.", target.trim_end_matches('/'));
    match in_root(root, Path::new(target), OFlags::RDONLY | OFlags::DIRECTORY) {
        Ok(_) => copy_out_with(root, &src, volume, true),
        Err(_) => Ok(()),
    }
}

fn copy_out_with(root: &ContainerRoot, src: &str, dest: &Path, owners: bool) -> Result<()> {
    let contents_only = src.ends_with("/.");
    let src_path = Path::new(src);
    let fd = in_root(root, src_path, OFlags::PATH | OFlags::NOFOLLOW)
        .map_err(|e| sys("Could not find the file", src_path, e))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| sys("stat", src_path, e))?;
    let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
    let target = if dest.is_dir() && !contents_only {
        let name = src_path
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        dest.join(name)
    } else {
        dest.to_path_buf()
    };
    if is_dir {
        std::fs::create_dir_all(&target).ctx("create", &target)?;
        std::fs::set_permissions(
            &target,
            std::fs::Permissions::from_mode(stat.st_mode & 0o7777),
        )
        .ctx("chmod", &target)?;
        keep_owner(owners, &target, &stat)?;
        let dir = rustix::fs::openat(
            &fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| sys("open", src_path, e))?;
        copy_dir_out(&dir, src_path, &target, owners)
    } else {
        copy_entry_out(&fd, src_path, &target, &stat, owners)
    }
}

fn keep_owner(owners: bool, target: &Path, stat: &rustix::fs::Stat) -> Result<()> {
    if owners {
        std::os::unix::fs::lchown(target, Some(stat.st_uid), Some(stat.st_gid))
            .ctx("chown", target)?;
    }
    Ok(())
}

fn copy_dir_out(dir: &OwnedFd, shown: &Path, target: &Path, owners: bool) -> Result<()> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir).map_err(|e| sys("read directory", shown, e))? {
        let entry = entry.map_err(|e| sys("read directory", shown, e))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(entry.file_name().to_owned());
        }
    }
    names.sort();
    for name in names {
        let shown = shown.join(name.to_string_lossy().as_ref());
        let child_target = target.join(name.to_string_lossy().as_ref());
        let fd = rustix::fs::openat(
            dir,
            &name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| sys("open", &shown, e))?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| sys("stat", &shown, e))?;
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            std::fs::create_dir_all(&child_target).ctx("create", &child_target)?;
            std::fs::set_permissions(
                &child_target,
                std::fs::Permissions::from_mode(stat.st_mode & 0o7777),
            )
            .ctx("chmod", &child_target)?;
            keep_owner(owners, &child_target, &stat)?;
            let sub = rustix::fs::openat(
                dir,
                &name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| sys("open", &shown, e))?;
            copy_dir_out(&sub, &shown, &child_target, owners)?;
        } else {
            copy_entry_out(&fd, &shown, &child_target, &stat, owners)?;
        }
    }
    Ok(())
}

/// A file, symlink or other non-directory, from its O_PATH fd.
fn copy_entry_out(
    fd: &OwnedFd,
    shown: &Path,
    target: &Path,
    stat: &rustix::fs::Stat,
    owners: bool,
) -> Result<()> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {
            let file = rustix::fs::openat(fd, "", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .or_else(|_| {
                    rustix::fs::open(
                        format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd)),
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                })
                .map_err(|e| sys("open", shown, e))?;
            let _ = std::fs::remove_file(target);
            let mut out = File::create(target).ctx("create", target)?;
            std::io::copy(&mut File::from(file), &mut out).ctx("copy to", target)?;
            out.set_permissions(std::fs::Permissions::from_mode(stat.st_mode & 0o7777))
                .ctx("chmod", target)?;
            keep_owner(owners, target, stat)?;
        }
        FileType::Symlink => {
            let link = rustix::fs::readlinkat(fd, "", Vec::new())
                .map_err(|e| sys("readlink", shown, e))?;
            let _ = std::fs::remove_file(target);
            std::os::unix::fs::symlink(link.to_string_lossy().as_ref(), target)
                .ctx("symlink", target)?;
            keep_owner(owners, target, stat)?;
        }
        _ => {} // devices, fifos and sockets are not copied out
    }
    Ok(())
}

/// Copies host `src` into the container at `dest` (Docker's rules as above).
pub fn copy_in(src: &Path, root: &ContainerRoot, dest: &str) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).ctx("Could not find the file", src)?;
    let contents_only = src.to_string_lossy().ends_with("/.");
    let dest_path = Path::new(dest);
    let existing_dir = in_root(root, dest_path, OFlags::RDONLY | OFlags::DIRECTORY).ok();
    let (parent, name) = match existing_dir {
        Some(dir) if !contents_only || !meta.is_dir() => {
            let name = src
                .file_name()
                .map(|n| n.to_os_string())
                .ok_or_else(|| Error::invalid(format!("cannot copy {}", src.display())))?;
            (dir, name)
        }
        Some(dir) => {
            return copy_dir_in(src, &dir, dest_path);
        }
        None => {
            if dest.ends_with('/') {
                return Err(Error::not_found(format!(
                    "destination directory {dest} must exist"
                )));
            }
            let parent_path = dest_path.parent().unwrap_or(Path::new("/"));
            let parent = in_root(root, parent_path, OFlags::RDONLY | OFlags::DIRECTORY)
                .map_err(|e| sys("open", parent_path, e))?;
            let name = dest_path
                .file_name()
                .map(|n| n.to_os_string())
                .ok_or_else(|| Error::invalid(format!("invalid destination {dest}")))?;
            (parent, name)
        }
    };
    copy_node_in(src, &meta, &parent, &name, &dest_path.join(&name))
}

fn copy_node_in(
    src: &Path,
    meta: &std::fs::Metadata,
    parent: &OwnedFd,
    name: &std::ffi::OsStr,
    shown: &Path,
) -> Result<()> {
    let mode = Mode::from_raw_mode(meta.mode() & 0o7777);
    if meta.is_dir() {
        match rustix::fs::mkdirat(parent, name, mode) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(sys("mkdir", shown, e)),
        }
        let dir = rustix::fs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| sys("open", shown, e))?;
        let _ = rustix::fs::fchmod(&dir, mode);
        copy_dir_in(src, &dir, shown)
    } else if meta.file_type().is_symlink() {
        let link = std::fs::read_link(src).ctx("readlink", src)?;
        let _ = rustix::fs::unlinkat(parent, name, AtFlags::empty());
        rustix::fs::symlinkat(&link, parent, name).map_err(|e| sys("symlink", shown, e))
    } else if meta.is_file() {
        let _ = rustix::fs::unlinkat(parent, name, AtFlags::empty());
        let fd = rustix::fs::openat(
            parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            mode,
        )
        .map_err(|e| sys("create", shown, e))?;
        let _ = rustix::fs::fchmod(&fd, mode);
        let mut out = File::from(fd);
        let mut input = File::open(src).ctx("open", src)?;
        std::io::copy(&mut input, &mut out).ctx("copy to", shown)?;
        Ok(())
    } else {
        Ok(())
    }
}

fn copy_dir_in(src: &Path, dir: &OwnedFd, shown: &Path) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .ctx("read directory", src)?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let meta = e.path().symlink_metadata().ctx("stat", &e.path())?;
        copy_node_in(
            &e.path(),
            &meta,
            dir,
            &e.file_name(),
            &shown.join(e.file_name()),
        )?;
    }
    let _ = dir.as_fd();
    Ok(())
}

/// What `docker cp` learns about a container path before copying (the
/// API's `X-Docker-Container-Path-Stat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: u64,
    /// Go's `os.FileMode` bits: permissions, plus 1<<31 for a directory
    /// and 1<<27 for a symlink.
    pub mode: u32,
    pub mtime_unix: i64,
    pub link_target: String,
}

/// Stats `path` in the container (the last component not followed, as
/// Docker's `lstat`).
pub fn stat_path(root: &ContainerRoot, path: &str) -> Result<PathStat> {
    let p = Path::new(path);
    let (parent, name) = match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => (parent, name.to_string_lossy().into_owned()),
        _ => (Path::new("/"), String::from("/")),
    };
    let dir =
        in_root(root, parent, OFlags::PATH | OFlags::DIRECTORY).map_err(|e| sys("stat", p, e))?;
    let target = if name == "/" { "." } else { name.as_str() };
    let st = rustix::fs::statat(&dir, target, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| sys("stat", p, e))?;
    let kind = FileType::from_raw_mode(st.st_mode);
    let mut mode = st.st_mode & 0o777;
    let mut link_target = String::new();
    match kind {
        FileType::Directory => mode |= 1 << 31,
        FileType::Symlink => {
            mode |= 1 << 27;
            link_target = rustix::fs::readlinkat(&dir, target, Vec::new())
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        _ => {}
    }
    Ok(PathStat {
        name,
        size: st.st_size as u64,
        mode,
        mtime_unix: st.st_mtime,
        link_target,
    })
}
