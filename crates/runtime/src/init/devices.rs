//! /dev inside the container: the default device nodes, the spec's devices,
//! and the standard symlinks, all created relative to a verified fd of the
//! container's /dev.

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::Failure;
use super::mounts::{fd_path, mountpoint};

/// The nodes every container gets (OCI's list), as (path, major, minor).
const DEFAULTS: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const SYMLINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
];

/// Creates device nodes and links under the rootfs's /dev. In a user
/// namespace (no mknod), nodes are bind mounts of the host's.
pub fn setup(root: &OwnedFd, devices: &[LinuxDevice], in_userns: bool) -> Result<(), Failure> {
    let dev = mountpoint(root, Path::new("/dev"), true)?;
    let dev = rfs::openat(
        &dev,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::new("open /dev in the rootfs", e))?;
    for (name, major, minor) in DEFAULTS {
        if devices
            .iter()
            .any(|d| d.path() == Path::new(&format!("/dev/{name}")))
        {
            continue;
        }
        let path = format!("/dev/{name}");
        let n = Node {
            path: Path::new(&path),
            kind: FileType::CharacterDevice,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        node(root, &dev, &n, in_userns)?;
    }
    for d in devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
            LinuxDeviceType::B => FileType::BlockDevice,
            LinuxDeviceType::P => FileType::Fifo,
            LinuxDeviceType::A => {
                return Err(Failure::msg(
                    format!("create device {}", d.path().display()),
                    "type \"a\" is not a device",
                ));
            }
        };
        let n = Node {
            path: d.path(),
            kind,
            major: d.major() as u32,
            minor: d.minor() as u32,
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        node(root, &dev, &n, in_userns)?;
    }
    for (name, target) in SYMLINKS {
        if *name == "core" && !Path::new("/proc/kcore").exists() {
            continue;
        }
        match rfs::symlinkat(*target, &dev, *name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(Failure::new(format!("create symlink /dev/{name}"), e)),
        }
    }
    Ok(())
}

/// Links /dev/ptmx to the container's own devpts instance.
pub fn link_ptmx(root: &OwnedFd) -> Result<(), Failure> {
    let dev = mountpoint(root, Path::new("/dev"), true)?;
    let dev = rfs::openat(
        &dev,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::new("open /dev in the rootfs", e))?;
    let _ = rfs::unlinkat(&dev, "ptmx", AtFlags::empty());
    rfs::symlinkat("pts/ptmx", &dev, "ptmx")
        .map_err(|e| Failure::new("create symlink /dev/ptmx", e))
}

#[derive(Clone, Copy)]
struct Node<'a> {
    path: &'a Path,
    kind: FileType,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
}

fn node(root: &OwnedFd, dev: &OwnedFd, n: &Node, in_userns: bool) -> Result<(), Failure> {
    let Node {
        path,
        kind,
        major,
        minor,
        mode,
        uid,
        gid,
    } = *n;
    let step = || format!("create device {}", path.display());
    let (parent_fd, name) = match path.strip_prefix("/dev") {
        Ok(rel) if rel.components().count() == 1 => (None, rel.as_os_str().to_owned()),
        _ => {
            let parent = path.parent().unwrap_or(Path::new("/"));
            let fd = mountpoint(root, parent, true)?;
            let fd = rfs::openat(
                &fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Failure::new(step(), e))?;
            (Some(fd), path.file_name().unwrap_or_default().to_owned())
        }
    };
    let dir = parent_fd.as_ref().unwrap_or(dev);
    if in_userns {
        // No mknod in a user namespace: bind the host's node over an empty file.
        let target = mountpoint(root, path, false)?;
        rustix::mount::mount(
            path,
            fd_path(&target),
            "",
            rustix::mount::MountFlags::BIND,
            None,
        )
        .map_err(|e| Failure::new(step(), e))?;
        return Ok(());
    }
    let _ = rfs::unlinkat(dir, &name, AtFlags::empty());
    rfs::mknodat(
        dir,
        &name,
        kind,
        Mode::from_raw_mode(mode & 0o7777),
        rfs::makedev(major, minor),
    )
    .map_err(|e| Failure::new(step(), e))?;
    // mknod applies the umask: set the mode exactly, then the owner.
    rfs::chmodat(
        dir,
        &name,
        Mode::from_raw_mode(mode & 0o7777),
        AtFlags::empty(),
    )
    .map_err(|e| Failure::new(step(), e))?;
    rfs::chownat(
        dir,
        &name,
        Some(rfs::Uid::from_raw(uid)),
        Some(rfs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| Failure::new(step(), e))?;
    Ok(())
}
