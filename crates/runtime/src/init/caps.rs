//! Capabilities: the five sets from the spec, applied in the order that keeps
//! the process able to finish (bounding set first, then the user switch with
//! KEEPCAPS, then effective/permitted/inheritable, then ambient).

use oci_spec::runtime::{Capability as OciCap, LinuxCapabilities};
use rustix::thread::{self as rthread, CapabilitySet, CapabilitySets};

use super::Failure;

/// Capability names and numbers (linux/capability.h).
const TABLE: &[(&str, u32)] = &[
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_DAC_READ_SEARCH", 2),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_LINUX_IMMUTABLE", 9),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_BROADCAST", 11),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_IPC_LOCK", 14),
    ("CAP_IPC_OWNER", 15),
    ("CAP_SYS_MODULE", 16),
    ("CAP_SYS_RAWIO", 17),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_SYS_PTRACE", 19),
    ("CAP_SYS_PACCT", 20),
    ("CAP_SYS_ADMIN", 21),
    ("CAP_SYS_BOOT", 22),
    ("CAP_SYS_NICE", 23),
    ("CAP_SYS_RESOURCE", 24),
    ("CAP_SYS_TIME", 25),
    ("CAP_SYS_TTY_CONFIG", 26),
    ("CAP_MKNOD", 27),
    ("CAP_LEASE", 28),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_AUDIT_CONTROL", 30),
    ("CAP_SETFCAP", 31),
    ("CAP_MAC_OVERRIDE", 32),
    ("CAP_MAC_ADMIN", 33),
    ("CAP_SYSLOG", 34),
    ("CAP_WAKE_ALARM", 35),
    ("CAP_BLOCK_SUSPEND", 36),
    ("CAP_AUDIT_READ", 37),
    ("CAP_PERFMON", 38),
    ("CAP_BPF", 39),
    ("CAP_CHECKPOINT_RESTORE", 40),
];

/// The kernel's highest capability number.
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// The kernel's number for a capability (oci-spec's enum is alphabetical).
/// Every capability name the runtime knows, in number order.
pub fn names() -> Vec<&'static str> {
    TABLE.iter().map(|(name, _)| *name).collect()
}

pub fn number(cap: &OciCap) -> Option<u32> {
    let name = serde_json::to_value(cap).ok()?;
    TABLE
        .iter()
        .find(|(n, _)| Some(*n) == name.as_str())
        .map(|(_, num)| *num)
}

fn mask(set: &Option<std::collections::HashSet<OciCap>>) -> u64 {
    let last = last_cap();
    set.as_ref()
        .map(|s| {
            s.iter()
                .filter_map(number)
                .filter(|n| *n <= last)
                .fold(0u64, |m, n| m | (1u64 << n))
        })
        .unwrap_or(0)
}

/// The sets as bit masks (bounding, effective, permitted, inheritable, ambient).
pub struct Masks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

pub fn masks(caps: Option<&LinuxCapabilities>) -> Masks {
    match caps {
        None => Masks {
            bounding: 0,
            effective: 0,
            permitted: 0,
            inheritable: 0,
            ambient: 0,
        },
        Some(c) => Masks {
            bounding: mask(c.bounding()),
            effective: mask(c.effective()),
            permitted: mask(c.permitted()),
            inheritable: mask(c.inheritable()),
            ambient: mask(c.ambient()),
        },
    }
}

/// Drops from the bounding set everything not in it (needs CAP_SETPCAP, so
/// this runs before the user switch).
pub fn apply_bounding(m: &Masks) -> Result<(), Failure> {
    let last = last_cap();
    for (_, n) in TABLE {
        if *n <= last && m.bounding & (1u64 << n) == 0 {
            rthread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(
                1u64 << n,
            ))
            .map_err(|e| Failure::new(format!("drop capability {n} from the bounding set"), e))?;
        }
    }
    Ok(())
}

/// Sets effective, permitted and inheritable, then raises ambient.
pub fn apply_sets(m: &Masks) -> Result<(), Failure> {
    let sets = CapabilitySets {
        effective: CapabilitySet::from_bits_retain(m.effective),
        permitted: CapabilitySet::from_bits_retain(m.permitted),
        inheritable: CapabilitySet::from_bits_retain(m.inheritable),
    };
    rthread::set_capabilities(None, sets).map_err(|e| Failure::new("set capabilities", e))?;
    if m.ambient != 0 {
        for (_, n) in TABLE {
            if m.ambient & (1u64 << n) != 0 {
                // An ambient capability must be permitted and inheritable; the
                // kernel refuses others, which runc also ignores.
                let _ = rthread::configure_capability_in_ambient_set(
                    CapabilitySet::from_bits_retain(1u64 << n),
                    true,
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn docker_default_caps_are_a80425fb() {
        let names = [
            OciCap::Chown,
            OciCap::DacOverride,
            OciCap::Fsetid,
            OciCap::Fowner,
            OciCap::Mknod,
            OciCap::NetRaw,
            OciCap::Setgid,
            OciCap::Setuid,
            OciCap::Setfcap,
            OciCap::Setpcap,
            OciCap::NetBindService,
            OciCap::SysChroot,
            OciCap::Kill,
            OciCap::AuditWrite,
        ];
        let set: HashSet<OciCap> = names.into_iter().collect();
        assert_eq!(mask(&Some(set)), 0xa80425fb);
        for (i, (_, n)) in TABLE.iter().enumerate() {
            assert_eq!(*n as usize, i, "table in kernel order");
        }
        assert_eq!(number(&OciCap::SysAdmin), Some(21));
    }
}
