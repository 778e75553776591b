//! What a config may not ask for, checked before anything is set up, as
//! runc's validator checks it: a hostname or domainname without a UTS
//! namespace of the container's own, and sysctls that are not namespaced
//! or whose namespace is the host's (and personality flags, which nothing
//! defines yet). What berth-runc cannot apply (Intel RDT) is
//! refused here rather than ignored. Each of these, run, would change the
//! host (its hostname, its vm.* settings) rather than the container.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// The sysctls namespaced with IPC (besides `fs.mqueue.*`).
pub const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

pub fn check(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let namespaces = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let has = |ty: LinuxNamespaceType| namespaces.iter().find(|n| n.typ() == ty);
    let uts = has(LinuxNamespaceType::Uts).is_some();
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(Error::invalid(
            "unable to set hostname without a private UTS namespace",
        ));
    }
    if spec.domainname().as_deref().is_some_and(|d| !d.is_empty()) && !uts {
        return Err(Error::invalid(
            "unable to set domainname without a private UTS namespace",
        ));
    }
    if let Some(io) = spec.process().as_ref().and_then(|p| *p.io_priority())
        && !(0..=7).contains(&io.priority())
    {
        return Err(Error::invalid(format!(
            "process.ioPriority.priority {} is out of range (0 to 7)",
            io.priority()
        )));
    }
    if linux.is_some_and(|l| l.intel_rdt().is_some()) {
        return Err(Error::unsupported(
            "linux.intelRdt is not supported by berth-runc (resctrl classes of service are not set up)",
        ));
    }
    if let Some(p) = linux.and_then(|l| l.personality().as_ref())
        && p.flags().as_ref().is_some_and(|f| !f.is_empty())
    {
        return Err(Error::invalid(format!(
            "linux.personality flags {:?} are not supported (only the domain, LINUX or LINUX32)",
            p.flags().as_ref().unwrap()
        )));
    }
    let Some(sysctls) = linux.and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        if IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            match has(LinuxNamespaceType::Ipc) {
                Some(n) if !is_hosts(n.path().as_deref(), "ipc") => continue,
                _ => {
                    return Err(Error::invalid(format!(
                        "sysctl {key:?} is not allowed in the host's ipc namespace"
                    )));
                }
            }
        }
        if key.starts_with("net.") {
            match has(LinuxNamespaceType::Network) {
                Some(n) if !is_hosts(n.path().as_deref(), "net") => continue,
                _ => {
                    return Err(Error::invalid(format!(
                        "sysctl {key:?} not allowed in host network namespace"
                    )));
                }
            }
        }
        if uts {
            match key.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => {
                    return Err(Error::invalid(format!(
                        "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
                    )));
                }
                _ => {}
            }
        }
        return Err(Error::invalid(format!(
            "sysctl {key:?} is not in a separate kernel namespace"
        )));
    }
    Ok(())
}

/// Whether a namespace joined by `path` is this process's own `kind` one
/// (the host's, for a runtime run from the host).
fn is_hosts(path: Option<&Path>, kind: &str) -> bool {
    let Some(path) = path else {
        return false;
    };
    let id = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    match (id(path), id(Path::new(&format!("/proc/self/ns/{kind}")))) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
