//! Which cgroup hierarchy the host mounts, read from /proc/self/mountinfo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    /// One mount per v1 controller (`cpu` -> /sys/fs/cgroup/cpu, ...). Hybrid
    /// hosts (v1 controllers plus a controller-less cgroup2 at .../unified)
    /// count as v1; processes join the unified tree too, as runc does.
    V1 {
        mounts: BTreeMap<String, PathBuf>,
        unified: Option<PathBuf>,
    },
    /// The unified hierarchy.
    V2 { root: PathBuf },
}

/// The v1 controllers berth manages.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "hugetlb",
    "net_cls", "net_prio",
];

impl Hierarchy {
    /// The host's hierarchy.
    pub fn detect() -> Result<Hierarchy> {
        let info = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("read", Path::new("/proc/self/mountinfo"), e))?;
        Hierarchy::from_mountinfo(&info)
    }

    pub fn from_mountinfo(info: &str) -> Result<Hierarchy> {
        let mut v1 = BTreeMap::new();
        let mut v2 = None;
        for line in info.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(sep) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(mount_point), Some(fstype), Some(options)) =
                (fields.get(4), fields.get(sep + 1), fields.get(sep + 3))
            else {
                continue;
            };
            let mount_point = unescape(mount_point);
            match *fstype {
                "cgroup2" if v2.is_none() || mount_point == Path::new("/sys/fs/cgroup") => {
                    v2 = Some(mount_point);
                }
                "cgroup" => {
                    for opt in options.split(',') {
                        // Named hierarchies (name=systemd) hold processes too;
                        // runc places containers in them, and so do we.
                        if V1_CONTROLLERS.contains(&opt) || opt.starts_with("name=") {
                            v1.entry(opt.to_string())
                                .or_insert_with(|| mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if !v1.is_empty() {
            return Ok(Hierarchy::V1 {
                mounts: v1,
                unified: v2,
            });
        }
        match v2 {
            Some(root) => Ok(Hierarchy::V2 { root }),
            None => Err(Error::Unsupported(
                "no cgroup hierarchy is mounted (see /proc/self/mountinfo)".into(),
            )),
        }
    }

    pub fn is_v2(&self) -> bool {
        matches!(self, Hierarchy::V2 { .. })
    }
}

/// mountinfo escapes spaces and such as octal (`\040`).
fn unescape(s: &str) -> PathBuf {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x"), 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}
