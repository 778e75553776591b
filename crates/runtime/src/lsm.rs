//! AppArmor profiles and SELinux labels: berth-runc applies neither, so a
//! config that asks for one is refused before anything is set up, as runc
//! refuses one on a host without the module (a container must not run
//! unconfined when its config asked for confinement).

use oci_spec::runtime::{Linux, Process};

use crate::error::{Error, Result};

/// Refuses a process (and, at create, the container's mount label) that
/// asks for an LSM label or profile.
pub fn refuse_labels(process: &Process, linux: Option<&Linux>) -> Result<()> {
    let selinux = process
        .selinux_label()
        .as_deref()
        .is_some_and(|l| !l.is_empty())
        || linux
            .and_then(|l| l.mount_label().as_deref())
            .is_some_and(|l| !l.is_empty());
    if selinux {
        // runc's words on a host without SELinux; with it, the same
        // refusal: berth-runc cannot apply labels.
        return Err(Error::invalid(if selinux_enabled() {
            "selinux labels are not supported by berth-runc (process.selinuxLabel / linux.mountLabel)"
        } else {
            "selinux label is specified in config, but selinux is disabled or not supported"
        }));
    }
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        return Err(Error::invalid(if apparmor_enabled() {
            format!(
                "apparmor profile {profile:?} is specified in config, but berth-runc does not apply apparmor profiles"
            )
        } else {
            format!(
                "apparmor profile {profile:?} is specified in config, but apparmor is not enabled on this host"
            )
        }));
    }
    Ok(())
}

fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}
