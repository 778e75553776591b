//! Putting a new process into a cgroup without the global lock.
//!
//! Writing a pid to `cgroup.procs` takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing, and the first writer after a quiet
//! spell waits for an RCU grace period: 5-15 ms on this kind of VM, the
//! largest single cost of starting a container. Two ways in avoid it:
//!
//! - v2 (and the unified tree of a hybrid host): `clone3(CLONE_INTO_CGROUP)`
//!   creates the process inside the cgroup; fork takes the lock for reading.
//! - v1: a single-threaded process writes `0` ("me") to each hierarchy's
//!   `tasks` file. Moving only the calling thread needs no threadgroup lock
//!   (cgroup_procs_write_start), and a one-thread process is thereby moved
//!   whole. The files are opened by the runtime before the clone; the kernel
//!   checks the opener's credentials, so the new process may already be in a
//!   new user namespace.
//!
//! `Cgroup::add_pid` remains the fallback (kernels without clone3, and the
//! order the OCI hooks need).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};
use crate::{Cgroup, Hierarchy, join};

/// Handles, opened before the clone, for a new process to enter the cgroup.
pub struct Placement {
    /// The v2 cgroup directory, for `CLONE_INTO_CGROUP`.
    clone_into: Option<OwnedFd>,
    /// v1: (path, fd) of each hierarchy's `tasks` file, opened for writing.
    tasks: Vec<(PathBuf, OwnedFd)>,
}

/// Sub-cgroups of a container's cgroup for one process (`runc exec
/// --cgroup [controller[,controller]:]path`): one path for every
/// hierarchy, or one per v1 controller (the rest stay in the container's).
#[derive(Clone, Debug, Default)]
pub struct SubCgroups {
    pub all: Option<String>,
    pub by_controller: std::collections::BTreeMap<String, String>,
}

impl SubCgroups {
    /// Parses `--cgroup` values, as runc does.
    pub fn parse(values: &[String]) -> Result<SubCgroups> {
        let mut out = SubCgroups::default();
        for v in values {
            match v.split(':').collect::<Vec<_>>().as_slice() {
                [path] => {
                    if values.len() > 1 {
                        return Err(Error::Invalid(format!(
                            "invalid --cgroup argument: {v} (missing <controller>: prefix)"
                        )));
                    }
                    out.all = Some(path.to_string());
                }
                [controllers, path] => {
                    for c in controllers.split(',') {
                        out.by_controller.insert(c.to_string(), path.to_string());
                    }
                }
                _ => return Err(Error::Invalid(format!("invalid --cgroup argument: {v}"))),
            }
        }
        Ok(out)
    }

    /// The path below `base` for a hierarchy holding `controllers`.
    fn path_for(&self, base: &str, controllers: &[&str]) -> Result<String> {
        let sub = controllers
            .iter()
            .find_map(|c| self.by_controller.get(*c))
            .or(self.all.as_ref());
        let Some(sub) = sub else {
            return Ok(base.to_string());
        };
        let joined = crate::normalise(&format!("{base}/{sub}"))
            .map_err(|_| Error::Invalid(format!("{sub} is not a sub cgroup path")))?;
        if !joined.starts_with(base) {
            return Err(Error::Invalid(format!("{sub} is not a sub cgroup path")));
        }
        Ok(joined)
    }
}

impl Cgroup {
    /// Opens what [`Placement`] needs. The cgroup must exist.
    pub fn placement(&self) -> Result<Placement> {
        self.placement_in(&SubCgroups::default())
    }

    /// As [`Cgroup::placement`], for sub-cgroups of this one (which must
    /// exist).
    pub fn placement_in(&self, sub: &SubCgroups) -> Result<Placement> {
        if let Hierarchy::V1 { mounts, .. } = self.hierarchy() {
            for c in sub.by_controller.keys() {
                if !mounts.contains_key(c) {
                    return Err(Error::Invalid(format!(
                        "unknown controller {c} in SubCgroupPaths"
                    )));
                }
            }
        }
        let (v1_mounts, v2_root): (Vec<(&String, &PathBuf)>, _) = match self.hierarchy() {
            Hierarchy::V1 { mounts, unified } => (mounts.iter().collect(), unified.as_ref()),
            Hierarchy::V2 { root } => (Vec::new(), Some(root)),
        };
        let clone_into = match v2_root {
            Some(root) => {
                let all: Vec<&str> = sub.by_controller.keys().map(String::as_str).collect();
                let path = match self.hierarchy() {
                    Hierarchy::V2 { .. } => sub.path_for(self.path(), &all)?,
                    _ => sub.path_for(self.path(), &[])?,
                };
                let dir = join(root, &path);
                Some(
                    rustix::fs::open(
                        &dir,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| Error::io("open cgroup", &dir, e.into()))?,
                )
            }
            None => None,
        };
        let mut paths = Vec::new();
        for (controller, mount) in v1_mounts {
            // Co-mounted controllers (cpu,cpuacct) are named by either.
            let names: Vec<&str> = mount
                .file_name()
                .and_then(|n| n.to_str())
                .map(|n| n.split(',').collect())
                .unwrap_or_default();
            let mut names = names;
            names.push(controller.as_str());
            let path = sub.path_for(self.path(), &names)?;
            paths.push(join(mount, &path).join("tasks"));
        }
        // Co-mounted controllers (cpu,cpuacct) share one directory.
        paths.sort();
        paths.dedup();
        let mut tasks = Vec::with_capacity(paths.len());
        for path in paths {
            let fd = rustix::fs::open(&path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::io("open", &path, e.into()))?;
            tasks.push((path, fd));
        }
        Ok(Placement { clone_into, tasks })
    }
}

impl Placement {
    /// The v2 cgroup directory to create the process in, if any.
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.clone_into.as_ref().map(|fd| fd.as_fd())
    }

    /// In the new, still single-threaded process: moves itself into every
    /// v1 hierarchy's cgroup.
    pub fn join_v1_self(&self) -> Result<()> {
        for (path, fd) in &self.tasks {
            rustix::io::write(fd, b"0").map_err(|e| Error::io("write 0 to", path, e.into()))?;
        }
        Ok(())
    }
}
