//! rlimits and sysctls. Sysctls are written through a private procfs
//! instance (never the container's /proc, which the image could have
//! replaced), with lookups that may not leave it or follow links.

use std::os::fd::OwnedFd;

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::process::{Resource, Rlimit};

use super::Failure;

pub fn apply_rlimits(limits: &[PosixRlimit]) -> Result<(), Failure> {
    for l in limits {
        let resource = match l.typ() {
            PosixRlimitType::RlimitCpu => Resource::Cpu,
            PosixRlimitType::RlimitFsize => Resource::Fsize,
            PosixRlimitType::RlimitData => Resource::Data,
            PosixRlimitType::RlimitStack => Resource::Stack,
            PosixRlimitType::RlimitCore => Resource::Core,
            PosixRlimitType::RlimitRss => Resource::Rss,
            PosixRlimitType::RlimitNproc => Resource::Nproc,
            PosixRlimitType::RlimitNofile => Resource::Nofile,
            PosixRlimitType::RlimitMemlock => Resource::Memlock,
            PosixRlimitType::RlimitAs => Resource::As,
            PosixRlimitType::RlimitLocks => Resource::Locks,
            PosixRlimitType::RlimitSigpending => Resource::Sigpending,
            PosixRlimitType::RlimitMsgqueue => Resource::Msgqueue,
            PosixRlimitType::RlimitNice => Resource::Nice,
            PosixRlimitType::RlimitRtprio => Resource::Rtprio,
            PosixRlimitType::RlimitRttime => Resource::Rttime,
        };
        let value = |v: u64| if v == u64::MAX { None } else { Some(v) };
        rustix::process::setrlimit(
            resource,
            Rlimit {
                current: value(l.soft()),
                maximum: value(l.hard()),
            },
        )
        .map_err(|e| Failure::new(format!("set rlimit {:?}", l.typ()), e))?;
    }
    Ok(())
}

/// A procfs mounted nowhere: fsopen/fsmount give an fd of a fresh instance.
pub fn private_procfs() -> Result<OwnedFd, Failure> {
    let fs = rustix::mount::fsopen("proc", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| Failure::new("open a private procfs", e))?;
    rustix::mount::fsconfig_create(&fs).map_err(|e| Failure::new("create a private procfs", e))?;
    rustix::mount::fsmount(
        &fs,
        rustix::mount::FsMountFlags::FSMOUNT_CLOEXEC,
        rustix::mount::MountAttrFlags::empty(),
    )
    .map_err(|e| Failure::new("mount a private procfs", e))
}

pub fn apply_sysctls(
    procfs: &OwnedFd,
    sysctls: &std::collections::HashMap<String, String>,
) -> Result<(), Failure> {
    let mut keys: Vec<_> = sysctls.iter().collect();
    keys.sort();
    for (key, value) in keys {
        if key.contains('/') && key.contains('.') || key.contains("..") {
            return Err(Failure::msg(format!("sysctl {key}"), "not a sysctl name"));
        }
        let rel = format!("sys/{}", key.replace('.', "/"));
        let fd = rfs::openat2(
            procfs,
            rel.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC | OFlags::TRUNC,
            Mode::empty(),
            ResolveFlags::BENEATH
                | ResolveFlags::NO_SYMLINKS
                | ResolveFlags::NO_MAGICLINKS
                | ResolveFlags::NO_XDEV,
        )
        .map_err(|e| Failure::new(format!("open sysctl {key}"), e))?;
        rustix::io::write(&fd, value.as_bytes())
            .map_err(|e| Failure::new(format!("write sysctl {key}={value}"), e))?;
    }
    Ok(())
}
