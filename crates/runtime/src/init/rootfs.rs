//! The container's root filesystem: propagation, the spec's mounts, /dev,
//! pivot_root, then masked and read-only paths.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::mounts::{self, MountOptions, fd_path};
use super::{Failure, devices};

/// The propagation the spec asks for the container's root
/// (`linux.rootfsPropagation`), default rslave.
pub fn root_propagation(spec: &Spec) -> MountPropagationFlags {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .map(|p| MountOptions::parse(&[p.to_string()]).propagation)
        .unwrap_or(None)
        .unwrap_or(MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC)
}

/// Shared and unbindable are applied to the new root after pivot_root
/// (which refuses a shared root, and an unbindable rootfs cannot be bound
/// onto itself first), as runc 1.2 does.
fn applies_after_pivot(p: MountPropagationFlags) -> bool {
    p.intersects(MountPropagationFlags::SHARED | MountPropagationFlags::UNBINDABLE)
}

/// Everything up to (not including) pivot_root. Without a mount namespace
/// of its own (`mount_ns` false) the container's mounts are made in the
/// runtime's, as runc makes them, and the host's root is left as it is.
pub fn prepare(
    spec: &Spec,
    rootfs: &Path,
    bundle: &Path,
    cgroup_binds: &[(String, PathBuf)],
    in_userns: bool,
    mount_ns: bool,
) -> Result<OwnedFd, Failure> {
    let linux = spec.linux().as_ref();
    if mount_ns {
        // Nothing we mount may propagate back to the host.
        let propagation = root_propagation(spec);
        let before = if applies_after_pivot(propagation) {
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC
        } else {
            propagation
        };
        rustix::mount::mount_change("/", before)
            .map_err(|e| Failure::new("set the propagation of /", e))?;
        // pivot_root refuses a new root whose parent mount is shared.
        parent_mount_private(rootfs)?;
        // pivot_root needs the rootfs to be a mount point.
        rustix::mount::mount_bind_recursive(rootfs, rootfs)
            .map_err(|e| Failure::new(format!("bind mount rootfs {}", rootfs.display()), e))?;
    }
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

/// Makes the mount holding `rootfs` private if it is shared (in our own
/// mount namespace: the host's copy is untouched).
fn parent_mount_private(rootfs: &Path) -> Result<(), Failure> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Failure::new("read /proc/self/mountinfo", e))?;
    let mut best: Option<(PathBuf, bool)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(point), Some(sep)) = (fields.get(4), fields.iter().position(|f| *f == "-"))
        else {
            continue;
        };
        let point = PathBuf::from(point.replace("\\040", " "));
        if !rootfs.starts_with(&point) {
            continue;
        }
        let shared = fields[6..sep].iter().any(|f| f.starts_with("shared:"));
        if best
            .as_ref()
            .is_none_or(|(b, _)| point.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some((point, shared));
        }
    }
    if let Some((point, true)) = best {
        rustix::mount::mount_change(&point, MountPropagationFlags::PRIVATE)
            .map_err(|e| Failure::new(format!("make {} private", point.display()), e))?;
    }
    Ok(())
}

/// Makes the rootfs `/`: pivot_root and detach the old root (or, with
/// `no_pivot`, move it over `/` and chroot, for ramdisk roots; without a
/// mount namespace, chroot alone, as runc does).
pub fn pivot(rootfs: &Path, no_pivot: bool, mount_ns: bool) -> Result<(), Failure> {
    rustix::process::chdir(rootfs)
        .map_err(|e| Failure::new(format!("chdir to rootfs {}", rootfs.display()), e))?;
    if !mount_ns {
        rustix::process::chroot(".").map_err(|e| Failure::new("chroot into rootfs", e))?;
        return rustix::process::chdir("/").map_err(|e| Failure::new("chdir to /", e));
    }
    pivot_or_move(no_pivot)
}

/// Gives `/` the shared or unbindable propagation that could not be set
/// before the pivot, once the last bind mount (masks, read-only paths) is
/// made: an unbindable /dev/null could not be bound over a masked path.
pub fn apply_root_propagation(spec: &Spec) -> Result<(), Failure> {
    let propagation = root_propagation(spec);
    if applies_after_pivot(propagation) {
        rustix::mount::mount_change("/", propagation)
            .map_err(|e| Failure::new("unable to apply root propagation flags", e))?;
    }
    Ok(())
}

fn pivot_or_move(no_pivot: bool) -> Result<(), Failure> {
    if no_pivot {
        rustix::mount::mount_move(".", "/").map_err(|e| Failure::new("move rootfs to /", e))?;
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

/// Opens a path of the (pivoted) container root, following symlinks as
/// runc does (a masked path that is a link masks what it points at) but
/// only inside the root, and never through a magic link.
fn open_in_container(path: &str) -> Result<Option<OwnedFd>, Failure> {
    let root = rfs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::new("open /", e))?;
    let rel = path.trim_start_matches('/');
    match rfs::openat2(
        &root,
        if rel.is_empty() { "." } else { rel },
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
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
