//! OCI mounts: option parsing and mounting one entry into the rootfs.
//!
//! The destination is resolved by the kernel inside the rootfs
//! (`openat2(RESOLVE_IN_ROOT)`), missing components are created one at a time
//! relative to verified directory fds, and the mount targets
//! `/proc/self/fd/N` of the resolved fd: a symlink planted in the image can
//! redirect a mount only to somewhere else inside the rootfs, never out of it.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::mount::{MountFlags, MountPropagationFlags};

use super::Failure;

/// Parsed `options` of a mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub flags: MountFlags,
    /// Flags to clear (e.g. `rw`, `suid`), for remounts.
    pub clear: MountFlags,
    pub propagation: Option<MountPropagationFlags>,
    pub bind: bool,
    pub recursive: bool,
    /// Filesystem-specific options, comma-joined for the mount data.
    pub data: Vec<String>,
    /// Recursive attributes (`rro`, `rnosuid`, ...): `MOUNT_ATTR_*` to set
    /// and to clear on the mount and every mount below it.
    pub rec_set: u64,
    pub rec_clear: u64,
}

// linux/mount.h
const ATTR_RDONLY: u64 = 0x1;
const ATTR_NOSUID: u64 = 0x2;
const ATTR_NODEV: u64 = 0x4;
const ATTR_NOEXEC: u64 = 0x8;
const ATTR_ATIME: u64 = 0x70;
const ATTR_RELATIME: u64 = 0x0;
const ATTR_NOATIME: u64 = 0x10;
const ATTR_STRICTATIME: u64 = 0x20;
const ATTR_NODIRATIME: u64 = 0x80;
const ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// A recursive attribute option: (attributes to set, to clear), as runc
/// reads them. The atime ones replace the whole atime field (the kernel
/// takes nothing less); `ratime` and `rnostrictatime` mean the default,
/// relatime.
fn recursive_attr(opt: &str) -> Option<(u64, u64)> {
    Some(match opt {
        "rro" => (ATTR_RDONLY, 0),
        "rrw" => (0, ATTR_RDONLY),
        "rnosuid" => (ATTR_NOSUID, 0),
        "rsuid" => (0, ATTR_NOSUID),
        "rnodev" => (ATTR_NODEV, 0),
        "rdev" => (0, ATTR_NODEV),
        "rnoexec" => (ATTR_NOEXEC, 0),
        "rexec" => (0, ATTR_NOEXEC),
        "rnodiratime" => (ATTR_NODIRATIME, 0),
        "rdiratime" => (0, ATTR_NODIRATIME),
        "rrelatime" | "ratime" | "rnostrictatime" => (ATTR_RELATIME, ATTR_ATIME),
        "rnorelatime" => (0, 0),
        "rnoatime" => (ATTR_NOATIME, ATTR_ATIME),
        "rstrictatime" => (ATTR_STRICTATIME, ATTR_ATIME),
        "rnosymfollow" => (ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MountFlags::empty(),
            clear: MountFlags::empty(),
            propagation: None,
            bind: false,
            recursive: false,
            data: Vec::new(),
            rec_set: 0,
            rec_clear: 0,
        }
    }
}

impl MountOptions {
    pub fn parse(options: &[String]) -> MountOptions {
        let mut o = MountOptions::default();
        for opt in options {
            if let Some((set, clear)) = recursive_attr(opt) {
                // Accumulated as runc does: the kernel clears, then sets,
                // so with both `rro` and `rrw` the mount is read-only.
                o.rec_set |= set;
                o.rec_clear |= clear;
                continue;
            }
            let (set, clear) = match opt.as_str() {
                "ro" => (MountFlags::RDONLY, MountFlags::empty()),
                "rw" => (MountFlags::empty(), MountFlags::RDONLY),
                "nosuid" => (MountFlags::NOSUID, MountFlags::empty()),
                "suid" => (MountFlags::empty(), MountFlags::NOSUID),
                "nodev" => (MountFlags::NODEV, MountFlags::empty()),
                "dev" => (MountFlags::empty(), MountFlags::NODEV),
                "noexec" => (MountFlags::NOEXEC, MountFlags::empty()),
                "exec" => (MountFlags::empty(), MountFlags::NOEXEC),
                "sync" => (MountFlags::SYNCHRONOUS, MountFlags::empty()),
                "async" => (MountFlags::empty(), MountFlags::SYNCHRONOUS),
                "dirsync" => (MountFlags::DIRSYNC, MountFlags::empty()),
                "noatime" => (MountFlags::NOATIME, MountFlags::empty()),
                "atime" => (MountFlags::empty(), MountFlags::NOATIME),
                "nodiratime" => (MountFlags::NODIRATIME, MountFlags::empty()),
                "diratime" => (MountFlags::empty(), MountFlags::NODIRATIME),
                "relatime" => (MountFlags::RELATIME, MountFlags::empty()),
                "norelatime" => (MountFlags::empty(), MountFlags::RELATIME),
                "strictatime" => (MountFlags::STRICTATIME, MountFlags::empty()),
                "nostrictatime" => (MountFlags::empty(), MountFlags::STRICTATIME),
                "bind" => {
                    o.bind = true;
                    continue;
                }
                "rbind" => {
                    o.bind = true;
                    o.recursive = true;
                    continue;
                }
                "private" => {
                    o.propagation = Some(MountPropagationFlags::PRIVATE);
                    continue;
                }
                "rprivate" => {
                    o.propagation =
                        Some(MountPropagationFlags::PRIVATE | MountPropagationFlags::REC);
                    continue;
                }
                "shared" => {
                    o.propagation = Some(MountPropagationFlags::SHARED);
                    continue;
                }
                "rshared" => {
                    o.propagation =
                        Some(MountPropagationFlags::SHARED | MountPropagationFlags::REC);
                    continue;
                }
                "slave" => {
                    o.propagation = Some(MountPropagationFlags::DOWNSTREAM);
                    continue;
                }
                "rslave" => {
                    o.propagation =
                        Some(MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC);
                    continue;
                }
                "unbindable" => {
                    o.propagation = Some(MountPropagationFlags::UNBINDABLE);
                    continue;
                }
                "runbindable" => {
                    o.propagation =
                        Some(MountPropagationFlags::UNBINDABLE | MountPropagationFlags::REC);
                    continue;
                }
                // Docker and containerd pass these; they mean nothing to the kernel.
                "defaults" | "remount" | "tmpcopyup" | "idmap" | "ridmap" | "mand" | "nomand" => {
                    continue;
                }
                other => {
                    o.data.push(other.to_string());
                    continue;
                }
            };
            o.flags |= set;
            o.flags -= clear;
            o.clear |= clear;
        }
        o
    }

    /// Flags that need a remount after a bind (a bind ignores them).
    pub fn bind_remount_flags(&self) -> MountFlags {
        self.flags
            & (MountFlags::RDONLY
                | MountFlags::NOSUID
                | MountFlags::NODEV
                | MountFlags::NOEXEC
                | MountFlags::NOATIME
                | MountFlags::NODIRATIME
                | MountFlags::RELATIME
                | MountFlags::STRICTATIME)
    }
}

pub const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// `/proc/self/fd/N`: the path of an fd, for the mount system calls.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether `path` (host side) is a directory; a bind of a file needs a file
/// mount point.
fn source_is_dir(source: &Path) -> bool {
    std::fs::metadata(source)
        .map(|m| m.is_dir())
        .unwrap_or(true)
}

/// Creates (if needed) and opens the mount point `dest` inside `root`.
pub fn mountpoint(root: &OwnedFd, dest: &Path, as_dir: bool) -> Result<OwnedFd, Failure> {
    let step = || format!("create mount point {}", dest.display());
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    match rfs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        IN_ROOT,
    ) {
        Ok(fd) => return Ok(fd),
        Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(Failure::new(step(), e)),
    }
    let components: Vec<&OsStr> = rel.iter().collect();
    let mut dir = rfs::openat2(
        root,
        ".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        IN_ROOT,
    )
    .map_err(|e| Failure::new(step(), e))?;
    for (i, c) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let next = rfs::openat2(
            &dir,
            *c,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        );
        dir = match next {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                if last && !as_dir {
                    let f = rfs::openat2(
                        &dir,
                        *c,
                        OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                        Mode::from_raw_mode(0o644),
                        IN_ROOT,
                    )
                    .map_err(|e| Failure::new(step(), e))?;
                    drop(f);
                } else {
                    match rfs::mkdirat(&dir, *c, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(Failure::new(step(), e)),
                    }
                }
                rfs::openat2(
                    &dir,
                    *c,
                    OFlags::PATH | OFlags::CLOEXEC,
                    Mode::empty(),
                    IN_ROOT,
                )
                .map_err(|e| Failure::new(step(), e))?
            }
            Err(e) => return Err(Failure::new(step(), e)),
        };
    }
    Ok(dir)
}

/// Whether `dest` in `root` is a directory or does not exist, looking at
/// the last component itself (a symlink is neither).
fn ordinary_directory_or_absent(root: &OwnedFd, dest: &Path) -> bool {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    let (parent, name) = match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => (p, n),
        _ => return true,
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let Ok(dir) = rfs::openat2(
        root,
        parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        IN_ROOT,
    ) else {
        return true;
    };
    match rfs::statat(&dir, name, rfs::AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory,
        Err(_) => true,
    }
}

/// Re-opens the mount point after something was mounted on it (the old fd
/// still refers to the directory underneath).
pub fn reopen(root: &OwnedFd, dest: &Path) -> Result<OwnedFd, Failure> {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    rfs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        IN_ROOT,
    )
    .map_err(|e| Failure::new(format!("reopen mount point {}", dest.display()), e))
}

/// Mounts one spec entry below `root` (an O_PATH fd of the rootfs).
/// `bundle` anchors relative bind sources; `cgroup_binds` lists the host
/// directories to expose for a v1 `cgroup` mount.
pub fn mount_one(
    root: &OwnedFd,
    m: &Mount,
    bundle: &Path,
    cgroup_binds: &[(String, PathBuf)],
) -> Result<(), Failure> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Failure::msg(
            format!("mount {}", dest.display()),
            "the destination must be an absolute path",
        ));
    }
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let bind = opts.bind || typ == "bind";
    check_proc_destination(dest, typ, bind, m.source().as_deref())?;
    let step = |what: &str| {
        format!(
            "mount {} on {} ({what})",
            m.source()
                .as_ref()
                .map_or("none".into(), |s| s.display().to_string()),
            dest.display()
        )
    };

    if bind {
        let source = m.source().clone().unwrap_or_default();
        let source = if source.is_relative() {
            bundle.join(source)
        } else {
            source
        };
        let target = mountpoint(root, dest, source_is_dir(&source))?;
        let flags = if opts.recursive {
            MountFlags::BIND | MountFlags::REC
        } else {
            MountFlags::BIND
        };
        rustix::mount::mount(&source, fd_path(&target), "", flags, None)
            .map_err(|e| Failure::new(step("bind"), e))?;
        let remount = opts.bind_remount_flags();
        if !remount.is_empty() {
            let mounted = reopen(root, dest)?;
            rustix::mount::mount_remount(fd_path(&mounted), MountFlags::BIND | remount, "")
                .map_err(|e| Failure::new(step("remount"), e))?;
        }
        // Recursive attributes (bind mounts only, as runc): the mount and
        // every mount below it, after the remount.
        if opts.rec_set != 0 || opts.rec_clear != 0 {
            let mounted = reopen(root, dest)?;
            crate::sys::mount_setattr(&mounted, opts.rec_set, opts.rec_clear, true)
                .map_err(|e| Failure::new(step("recursive mount attributes"), e))?;
        }
        return apply_propagation(root, dest, &opts);
    }

    match typ {
        "cgroup" if !cgroup_binds.is_empty() => {
            return mount_cgroup_v1(root, m, &opts, cgroup_binds);
        }
        // A link there would put the kernel's view somewhere else (runc's
        // CVE-2023-27561 fix): only a directory, or nothing yet.
        "proc" | "sysfs" if !ordinary_directory_or_absent(root, dest) => {
            return Err(Failure::msg(
                format!(
                    "error mounting {typ:?} to rootfs at {:?}",
                    dest.display().to_string()
                ),
                &format!("filesystem {typ:?} must be mounted on ordinary directory"),
            ));
        }
        _ => {}
    }
    let fstype = if typ == "cgroup" { "cgroup2" } else { typ };
    let target = mountpoint(root, dest, true)?;
    let data = std::ffi::CString::new(opts.data.join(","))
        .map_err(|_| Failure::msg(step("options"), "mount options contain a NUL byte"))?;
    let source = m
        .source()
        .as_ref()
        .map_or_else(|| PathBuf::from(fstype), |s| s.clone());
    rustix::mount::mount(
        &source,
        fd_path(&target),
        fstype,
        opts.flags,
        Some(data.as_c_str()),
    )
    .or_else(|e| {
        // mqueue and cgroup2 refuse "nodev"-style data they do not know;
        // Docker's sysfs is fine. Retry once without fs options on EINVAL.
        if e == rustix::io::Errno::INVAL && !data.as_bytes().is_empty() {
            rustix::mount::mount(&source, fd_path(&target), fstype, opts.flags, None)
        } else {
            Err(e)
        }
    })
    .map_err(|e| Failure::new(step(fstype), e))?;
    apply_propagation(root, dest, &opts)
}

/// What may be mounted inside /proc, as runc allows (the CVE-2019-16884
/// hardening): procfs on /proc itself (or a bind of a procfs there), and
/// the few files lxcfs emulates; nothing else, so no mount can hide or
/// replace what the kernel's /proc says about the container.
const PROC_FILES_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// `dest` with `.` and `..` resolved lexically (as in the spec's text).
pub fn clean_path(dest: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dest.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

pub fn check_proc_destination(
    dest: &Path,
    typ: &str,
    bind: bool,
    source: Option<&Path>,
) -> Result<(), Failure> {
    let clean = clean_path(dest);
    let Ok(inside) = clean.strip_prefix("/proc") else {
        return Ok(());
    };
    if inside.as_os_str().is_empty() {
        if !bind {
            return Ok(());
        }
        let is_proc = source
            .and_then(|s| rustix::fs::statfs(s).ok())
            // f_type's width differs per architecture.
            .is_some_and(|fs| {
                #[allow(clippy::unnecessary_cast)]
                let kind = fs.f_type as i64;
                kind == 0x9fa0
            });
        if is_proc {
            return Ok(());
        }
        return Err(Failure::msg(
            format!("mount {}", dest.display()),
            &format!(
                "{:?} cannot be mounted because it is not of type proc",
                dest.display().to_string()
            ),
        ));
    }
    if typ != "proc" && PROC_FILES_ALLOWED.iter().any(|p| Path::new(p) == clean) {
        return Ok(());
    }
    Err(Failure::msg(
        format!("mount {}", dest.display()),
        &format!(
            "{:?} cannot be mounted because it is inside /proc",
            dest.display().to_string()
        ),
    ))
}

fn apply_propagation(root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<(), Failure> {
    if let Some(p) = opts.propagation {
        let mounted = reopen(root, dest)?;
        rustix::mount::mount_change(fd_path(&mounted), p)
            .map_err(|e| Failure::new(format!("set propagation of {}", dest.display()), e))?;
    }
    Ok(())
}

/// cgroup v1 inside a container: a tmpfs with the container's own cgroup of
/// each controller bound (read-only unless asked otherwise) beneath it.
fn mount_cgroup_v1(
    root: &OwnedFd,
    m: &Mount,
    opts: &MountOptions,
    binds: &[(String, PathBuf)],
) -> Result<(), Failure> {
    let dest = m.destination();
    let target = mountpoint(root, dest, true)?;
    let flags = opts.flags - MountFlags::RDONLY;
    rustix::mount::mount("tmpfs", fd_path(&target), "tmpfs", flags, Some(c"mode=755"))
        .map_err(|e| Failure::new(format!("mount tmpfs for cgroups on {}", dest.display()), e))?;
    for (name, host_dir) in binds {
        let sub = dest.join(name);
        let t = mountpoint(root, &sub, true)?;
        rustix::mount::mount(
            host_dir,
            fd_path(&t),
            "",
            MountFlags::BIND | MountFlags::REC,
            None,
        )
        .map_err(|e| {
            Failure::new(
                format!("bind cgroup {} on {}", host_dir.display(), sub.display()),
                e,
            )
        })?;
        let mounted = reopen(root, &sub)?;
        rustix::mount::mount_remount(
            fd_path(&mounted),
            MountFlags::BIND
                | opts.bind_remount_flags()
                | MountFlags::NOSUID
                | MountFlags::NODEV
                | MountFlags::NOEXEC,
            "",
        )
        .map_err(|e| Failure::new(format!("remount cgroup {}", sub.display()), e))?;
    }
    // The tmpfs itself stays writable (as runc leaves it); each bound
    // hierarchy is read-only as the options ask.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_options() {
        let o = MountOptions::parse(
            &["nosuid", "noexec", "nodev", "mode=755", "size=65536k"].map(String::from),
        );
        assert!(
            o.flags
                .contains(MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NODEV)
        );
        assert_eq!(
            o.data,
            vec!["mode=755".to_string(), "size=65536k".to_string()]
        );
        let o = MountOptions::parse(&["rbind", "ro", "rprivate"].map(String::from));
        assert!(o.bind && o.recursive);
        assert!(o.bind_remount_flags().contains(MountFlags::RDONLY));
        assert_eq!(
            o.propagation,
            Some(MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
        );
        let o = MountOptions::parse(&["ro", "rw"].map(String::from));
        assert!(!o.flags.contains(MountFlags::RDONLY));
    }
}
