//! A new time namespace with the config's clock offsets.
//!
//! Offsets can be written only while no process is in the namespace, so it
//! is not made by `clone`: the init unshares it (which is for its children),
//! writes `linux.timeOffsets` to /proc/self/timens_offsets, then enters it
//! through /proc/self/ns/time_for_children, before anything reads a clock.

use std::collections::HashMap;
use std::io::Write;

use oci_spec::runtime::LinuxTimeOffset;
use rustix::thread::LinkNameSpaceType;

use super::Failure;
use crate::sys;

pub fn enter_new(offsets: Option<&HashMap<String, LinuxTimeOffset>>) -> Result<(), Failure> {
    sys::unshare_time_namespace().map_err(|e| Failure::new("unshare the time namespace", e))?;
    let mut clocks: Vec<(&String, &LinuxTimeOffset)> = offsets.into_iter().flatten().collect();
    clocks.sort_by_key(|(clock, _)| clock.as_str());
    if !clocks.is_empty() {
        let mut text = String::new();
        for (clock, offset) in clocks {
            if clock != "monotonic" && clock != "boottime" {
                return Err(Failure::msg(
                    "linux.timeOffsets",
                    &format!(
                        "clock {clock:?} has no offset in a time namespace (monotonic or boottime)"
                    ),
                ));
            }
            text.push_str(&format!(
                "{clock} {} {}\n",
                offset.secs().unwrap_or(0),
                offset.nanosecs().unwrap_or(0)
            ));
        }
        // One write: the kernel takes all offsets at once or none.
        std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/self/timens_offsets")
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Failure::new(format!("write time offsets {:?}", text.trim_end()), e))?;
    }
    let ns = rustix::fs::open(
        "/proc/self/ns/time_for_children",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Failure::errno("open /proc/self/ns/time_for_children", e))?;
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&ns),
        Some(LinkNameSpaceType::Time),
    )
    .map_err(|e| Failure::errno("enter the new time namespace", e))
}
