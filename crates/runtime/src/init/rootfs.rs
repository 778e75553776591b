//! The container's root filesystem: propagation, the spec's mounts, /dev,
//! pivot_root, then masked and read-only paths.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::mounts::{self, MountOptions, fd_path};
use super::{Failure, devices};

/// Everything up to (not including) pivot_root.
pub fn prepare(
    spec: &Spec,
    rootfs: &Path,
    bundle: &Path,
    cgroup_binds: &[(String, PathBuf)],
    in_userns: bool,
) -> Result<OwnedFd, Failure> {
    let linux = spec.linux().as_ref();
    // Nothing we mount may propagate back to the host.
    let propagation = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .map(|p| MountOptions::parse(&[p.to_string()]).propagation)
        .unwrap_or(None)
        .unwrap_or(MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC);
    rustix::mount::mount_change("/", propagation)
        .map_err(|e| Failure::new("make / a slave mount", e))?;
    // pivot_root needs the rootfs to be a mount point.
    rustix::mount::mount_bind_recursive(rootfs, rootfs)
        .map_err(|e| Failure::new(format!("bind mount rootfs {}", rootfs.display()), e))?;
    let root = rfs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::new(format!("open rootfs {}", rootfs.display()), e))?;

    let mut has_devpts = false;
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        mounts::mount_one(&root, m, bundle, cgroup_binds)?;
        has_devpts |= m.destination() == Path::new("/dev/pts");
    }
    let devices = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
    devices::setup(&root, &devices, in_userns)?;
    if has_devpts {
        devices::link_ptmx(&root)?;
    }
    Ok(root)
}

/// Makes the rootfs `/`: pivot_root and detach the old root (or, with
/// `no_pivot`, move it over `/` and chroot, for ramdisk roots).
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<(), Failure> {
    rustix::process::chdir(rootfs)
        .map_err(|e| Failure::new(format!("chdir to rootfs {}", rootfs.display()), e))?;
    if no_pivot {
        rustix::mount::mount_move(rootfs, "/").map_err(|e| Failure::new("move rootfs to /", e))?;
        rustix::process::chroot(".").map_err(|e| Failure::new("chroot into rootfs", e))?;
    } else {
        // pivot_root(".", "."): the old root ends up stacked on the new one;
        // make it a slave (so detaching it does not propagate) and detach it.
        rustix::process::pivot_root(".", ".").map_err(|e| Failure::new("pivot_root", e))?;
        rustix::mount::mount_change(
            ".",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )
        .map_err(|e| Failure::new("make the old root a slave", e))?;
        rustix::mount::unmount(".", UnmountFlags::DETACH)
            .map_err(|e| Failure::new("detach the old root", e))?;
    }
    rustix::process::chdir("/").map_err(|e| Failure::new("chdir to /", e))
}

const NO_LINKS: ResolveFlags = ResolveFlags::NO_SYMLINKS.union(ResolveFlags::NO_MAGICLINKS);

/// Opens a path of the (pivoted) container root without following any link.
fn open_in_container(path: &str) -> Result<Option<OwnedFd>, Failure> {
    match rfs::openat2(
        rfs::CWD,
        path,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        NO_LINKS,
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(Failure::new(format!("open {path}"), e)),
    }
}

/// Hides each path: directories under an empty read-only tmpfs, files under
/// /dev/null (checked to be the real null device first).
pub fn mask_paths(paths: &[String]) -> Result<(), Failure> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = rfs::open(
        "/dev/null",
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| Failure::new("open /dev/null", e))?;
    let st = rfs::fstat(&null).map_err(|e| Failure::new("stat /dev/null", e))?;
    if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::CharacterDevice
        || rfs::major(st.st_rdev) != 1
        || rfs::minor(st.st_rdev) != 3
    {
        return Err(Failure::msg(
            "mask paths",
            "/dev/null is not the null device (1:3); refusing to use it",
        ));
    }
    for p in paths {
        let Some(fd) = open_in_container(p)? else {
            continue;
        };
        let st = rfs::fstat(&fd).map_err(|e| Failure::new(format!("stat {p}"), e))?;
        let result = if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory {
            rustix::mount::mount("tmpfs", fd_path(&fd), "tmpfs", MountFlags::RDONLY, None)
        } else {
            rustix::mount::mount_bind(fd_path(&null), fd_path(&fd))
        };
        result.map_err(|e| Failure::new(format!("mask {p}"), e))?;
    }
    Ok(())
}

/// Makes each path read-only with a bind mount on itself.
pub fn readonly_paths(paths: &[String]) -> Result<(), Failure> {
    for p in paths {
        let Some(fd) = open_in_container(p)? else {
            continue;
        };
        rustix::mount::mount_bind_recursive(fd_path(&fd), fd_path(&fd))
            .map_err(|e| Failure::new(format!("bind {p} read-only"), e))?;
        let Some(mounted) = open_in_container(p)? else {
            continue;
        };
        remount_readonly(&mounted)
            .map_err(|e| Failure::new(format!("remount {p} read-only"), e))?;
    }
    Ok(())
}

/// Remounts read-only, keeping the flags the mount already has (a user
/// namespace may not drop nosuid/nodev/noexec that the parent set).
pub fn remount_readonly(fd: &OwnedFd) -> rustix::io::Result<()> {
    let st = rfs::fstatvfs(fd)?;
    let mut flags = MountFlags::BIND | MountFlags::RDONLY;
    let keep = [
        (rfs::StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
        (rfs::StatVfsMountFlags::NODEV, MountFlags::NODEV),
        (rfs::StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (rfs::StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
        (rfs::StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
        (rfs::StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
    ];
    for (have, set) in keep {
        if st.f_flag.contains(have) {
            flags |= set;
        }
    }
    rustix::mount::mount_remount(fd_path(fd), flags, "")
}

/// The root itself read-only (`root.readonly`).
pub fn readonly_root() -> Result<(), Failure> {
    let root = rfs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::new("open /", e))?;
    remount_readonly(&root).map_err(|e| Failure::new("remount / read-only", e))
}
