//! `-u user[:group]` against the container's own /etc/passwd and /etc/group,
//! read at start inside the mounted root (names resolve as the image has them,
//! including changes a container made), every path resolved by the kernel
//! within the root (RESOLVE_IN_ROOT).

use std::io::Read;
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

fn read_in_root(root: &Path, path: &str) -> String {
    let Ok(dir) = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return String::new();
    };
    let Ok(fd) = rustix::fs::openat2(
        &dir,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) else {
        return String::new();
    };
    let mut text = String::new();
    // A passwd file larger than this is not one.
    let _ = std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut text);
    text
}

/// Resolves `spec` ("" means root) in the container root `root`, with the
/// groups of `--group-add` (names or numbers) added. As Docker, the
/// supplementary groups start with the primary group (`id` shows
/// `groups=0(root)`; a process that drops its gid keeps the group).
pub fn resolve(root: &Path, spec: &str, group_add: &[String]) -> Result<ExecUser> {
    let passwd = read_in_root(root, "etc/passwd");
    let group = read_in_root(root, "etc/group");
    let mut user = resolve_in(&passwd, &group, spec)?;
    if !user.additional_gids.contains(&user.gid) {
        user.additional_gids.insert(0, user.gid);
    }
    for g in group_add {
        let gid = group_id(&group, g)?;
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(user)
}

/// A group by number or by name in the container's /etc/group.
fn group_id(group: &str, g: &str) -> Result<u32> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n);
    }
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == g)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| {
            Error::invalid(format!(
                "Unable to find group {g}: no matching entries in group file"
            ))
        })
}

fn resolve_in(passwd: &str, group: &str, spec: &str) -> Result<ExecUser> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    // name:x:uid:gid:gecos:home:shell
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let found = entries.iter().find(|f| match user_part.parse::<u32>() {
        Ok(uid) => f[2].parse::<u32>() == Ok(uid),
        Err(_) => f[0] == user_part,
    });
    let (uid, mut gid, name) = match (found, user_part.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse::<u32>().unwrap_or(0),
            f[3].parse::<u32>().unwrap_or(0),
            Some(f[0]),
        ),
        (None, Ok(uid)) => (uid, 0, None),
        (None, Err(_)) => {
            return Err(Error::invalid(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            )));
        }
    };
    // name:x:gid:member,member
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    if let Some(g) = group_part {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let mut additional_gids = Vec::new();
    if group_part.is_none()
        && let Some(name) = name
    {
        for f in &groups {
            let members = f.get(3).copied().unwrap_or_default();
            if members.split(',').any(|m| m == name)
                && let Ok(g) = f[2].parse::<u32>()
                && !additional_gids.contains(&g)
            {
                additional_gids.push(g);
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
    const GROUP: &str =
        "root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nusers:x:100:daemon,root\nnogroup:x:65534:\n";

    #[test]
    fn docker_user_forms() {
        let root = resolve_in(PASSWD, GROUP, "").unwrap();
        assert_eq!(
            (root.uid, root.gid, root.additional_gids),
            (0, 0, vec![10, 100])
        );
        let nobody = resolve_in(PASSWD, GROUP, "nobody").unwrap();
        assert_eq!((nobody.uid, nobody.gid), (65534, 65534));
        let d = resolve_in(PASSWD, GROUP, "daemon:wheel").unwrap();
        assert_eq!((d.uid, d.gid, d.additional_gids), (1, 10, vec![]));
        let n = resolve_in(PASSWD, GROUP, "1234:5").unwrap();
        assert_eq!((n.uid, n.gid), (1234, 5));
        let n = resolve_in(PASSWD, GROUP, "1234").unwrap();
        assert_eq!((n.uid, n.gid), (1234, 0));
        let e = resolve_in(PASSWD, GROUP, "alice").unwrap_err();
        assert_eq!(
            e.message,
            "unable to find user alice: no matching entries in passwd file"
        );
        let e = resolve_in(PASSWD, GROUP, "root:staff").unwrap_err();
        assert!(e.message.contains("staff"), "{e}");
    }
}
