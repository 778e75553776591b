//! Switching to the process's user: supplementary groups, gid, uid, umask,
//! keeping capabilities across the switch so the spec's sets can be applied.

use oci_spec::runtime::User;
use rustix::process::{Gid, Uid};

use super::Failure;
use crate::error::InitStep;

pub fn switch(user: &User) -> Result<(), Failure> {
    switch_to(user).map_err(|f| f.at(InitStep::User))
}

fn switch_to(user: &User) -> Result<(), Failure> {
    let uid = user.uid();
    let gid = user.gid();
    rustix::thread::set_keep_capabilities(true)
        .map_err(|e| Failure::errno("keep capabilities across setuid", e))?;
    // In a user namespace with setgroups denied, groups cannot change.
    let setgroups_allowed = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    if setgroups_allowed {
        let groups: Vec<Gid> = user
            .additional_gids()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        rustix::thread::set_thread_groups(&groups).map_err(|e| Failure::errno("setgroups", e))?;
    }
    rustix::thread::set_thread_res_gid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
        .map_err(|e| Failure::errno(format!("setresgid {gid}"), e))?;
    rustix::thread::set_thread_res_uid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
        .map_err(|e| Failure::errno(format!("setresuid {uid}"), e))?;
    rustix::thread::set_keep_capabilities(false)
        .map_err(|e| Failure::errno("clear keep capabilities", e))?;
    if let Some(umask) = user.umask() {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(umask));
    }
    Ok(())
}

/// HOME from the container's /etc/passwd for `uid`, as runc does when the
/// environment has none.
pub fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
            })
        })
        .unwrap_or_else(|| "/".to_string())
}
