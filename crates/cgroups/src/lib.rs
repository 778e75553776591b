//! berth-cgroups: one interface over cgroup v1 and v2.
//!
//! A [`Cgroup`] is a path (like `/berth/abc`) in whichever hierarchy the host
//! mounts: under each v1 controller's mount, or under the single v2 mount. It
//! applies OCI `LinuxResources`, adds processes, freezes and thaws, reports
//! stats, kills everything inside and removes itself. The hierarchy is found
//! from /proc/self/mountinfo, or given explicitly (tests use a fake one in a
//! temporary directory).

mod blkio;
mod bpf;
mod error;
mod hierarchy;
mod placement;
mod rdma;
pub mod stats;
mod v1;
mod v2;

use std::path::PathBuf;

pub use error::{Error, Result};
pub use hierarchy::Hierarchy;
use oci_spec::runtime::LinuxResources;
pub use placement::{Placement, SubCgroups};
pub use stats::Stats;

/// A cgroup: `path` is absolute within the hierarchy (`/berth/<id>`).
#[derive(Clone, Debug)]
pub struct Cgroup {
    hierarchy: Hierarchy,
    path: String,
}

/// Freezer state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    Frozen,
}

impl Cgroup {
    /// Names a cgroup (nothing is created yet). `path` relative paths are
    /// taken from the hierarchy root.
    pub fn new(hierarchy: Hierarchy, path: &str) -> Result<Cgroup> {
        let path = normalise(path)?;
        Ok(Cgroup { hierarchy, path })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// Directories of this cgroup (one per v1 controller, or one for v2).
    pub fn dirs(&self) -> Vec<PathBuf> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts, unified } => {
                let mut dirs: Vec<PathBuf> = mounts
                    .values()
                    .chain(unified)
                    .map(|m| join(m, &self.path))
                    .collect();
                dirs.sort();
                dirs.dedup();
                dirs
            }
            Hierarchy::V2 { root } => vec![join(root, &self.path)],
        }
    }

    /// Creates the cgroup (and parents) and applies `resources`.
    pub fn create(&self, resources: Option<&LinuxResources>) -> Result<()> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts, unified } => {
                v1::create(mounts, &self.path)?;
                if let Some(u) = unified {
                    let d = join(u, &self.path);
                    std::fs::create_dir_all(&d).map_err(|e| Error::io("create cgroup", &d, e))?;
                }
            }
            Hierarchy::V2 { root } => v2::create(root, &self.path)?,
        }
        if let Some(r) = resources {
            self.apply(r)?;
        }
        Ok(())
    }

    /// Applies resource limits (also used by `update`).
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts, .. } => v1::apply(mounts, &self.path, resources),
            Hierarchy::V2 { root } => v2::apply(root, &self.path, resources),
        }
    }

    /// Moves a process into the cgroup.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for dir in self.dirs() {
            error::write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Process IDs in the cgroup (and, for v2, its descendants).
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = match &self.hierarchy {
            Hierarchy::V1 { mounts, .. } => {
                let m = mounts
                    .get("pids")
                    .or_else(|| mounts.get("freezer"))
                    .or_else(|| mounts.values().next());
                match m {
                    Some(m) => join(m, &self.path),
                    None => return Ok(Vec::new()),
                }
            }
            Hierarchy::V2 { root } => join(root, &self.path),
        };
        let mut pids = Vec::new();
        collect_pids(&dir, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    pub fn freeze(&self, state: FreezerState) -> Result<()> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts, .. } => v1::freeze(mounts, &self.path, state),
            Hierarchy::V2 { root } => v2::freeze(root, &self.path, state),
        }
    }

    pub fn freezer_state(&self) -> Result<FreezerState> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts, .. } => v1::freezer_state(mounts, &self.path),
            Hierarchy::V2 { root } => v2::freezer_state(root, &self.path),
        }
    }

    pub fn stats(&self) -> Result<Stats> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts, .. } => v1::stats(mounts, &self.path),
            Hierarchy::V2 { root } => v2::stats(root, &self.path),
        }
    }

    /// Signals every process of the cgroup: v2's cgroup.kill for SIGKILL,
    /// else each listed process (frozen meanwhile, for other signals, so
    /// none forks out of reach).
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if let Hierarchy::V2 { root } = &self.hierarchy
            && signal == libc::SIGKILL
        {
            let kill = join(root, &self.path).join("cgroup.kill");
            if kill.exists() {
                return error::write(&kill, "1");
            }
        }
        if signal == libc::SIGKILL {
            // No freeze for SIGKILL: a caller killed between freeze and
            // thaw would leave the container frozen with nobody to thaw it
            // (the crash harness found one after a killed `rm -f`).
            // Instead, again until no process is left or none is new: a
            // process that forked after the list was read gets it too,
            // and a killed one forks no more.
            let mut signalled = std::collections::HashSet::new();
            for _ in 0..KILL_ROUNDS {
                let pids = self.pids()?;
                let fresh: Vec<i32> = pids.into_iter().filter(|p| signalled.insert(*p)).collect();
                if fresh.is_empty() {
                    break;
                }
                for pid in fresh {
                    error::signal(pid, signal);
                }
            }
            return Ok(());
        }
        let frozen = self.freeze(FreezerState::Frozen).is_ok();
        for pid in self.pids()? {
            error::signal(pid, signal);
        }
        if frozen {
            self.freeze(FreezerState::Thawed)?;
        }
        Ok(())
    }

    /// Removes the cgroup directories (the cgroup must be empty). Retries
    /// briefly while the kernel finishes tearing down exited processes.
    pub fn remove(&self) -> Result<()> {
        let mut dirs = self.dirs();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.as_os_str().len()));
        for dir in dirs {
            remove_dir_tree(&dir)?;
        }
        Ok(())
    }

    pub fn exists(&self) -> bool {
        self.dirs().iter().any(|d| d.is_dir())
    }
}

/// Rounds of SIGKILL `kill_all` gives a cgroup whose processes keep forking.
const KILL_ROUNDS: usize = 50;

/// Removes a cgroup directory and any child cgroups (deepest first).
fn remove_dir_tree(dir: &std::path::Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_dir_tree(&e.path())?;
        }
    }
    let mut delay = std::time::Duration::from_millis(1);
    for _ in 0..12 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => {
                // A fake cgroupfs (tests) holds regular files: clear them.
                if e.raw_os_error() == Some(libc::ENOTEMPTY) && !is_cgroupfs(dir) {
                    std::fs::remove_dir_all(dir).map_err(|e| Error::io("remove", dir, e))?;
                    return Ok(());
                }
                return Err(Error::io("remove cgroup", dir, e));
            }
        }
    }
    Err(Error::io(
        "remove cgroup",
        dir,
        std::io::Error::from_raw_os_error(libc::EBUSY),
    ))
}

fn is_cgroupfs(dir: &std::path::Path) -> bool {
    // cgroupfs directories always hold cgroup.procs, which cannot be deleted.
    dir.join("cgroup.procs").exists() && std::fs::remove_file(dir.join("cgroup.procs")).is_err()
}

fn collect_pids(dir: &std::path::Path, out: &mut Vec<i32>) -> Result<()> {
    match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(s) => out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", &dir.join("cgroup.procs"), e)),
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out)?;
            }
        }
    }
    Ok(())
}

/// The pids.max value for an OCI pids limit: 0 means unset (as in runc),
/// negative means unlimited.
fn pids_max(limit: i64) -> Option<String> {
    match limit {
        0 => None,
        l if l < 0 => Some("max".into()),
        l => Some(l.to_string()),
    }
}

/// `a/b` and `/a/b/` become `/a/b`; `..` is refused.
pub(crate) fn normalise(path: &str) -> Result<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Error::Invalid(format!(
            "cgroup path {path:?} must not contain \"..\""
        )));
    }
    Ok(format!("/{}", parts.join("/")))
}

fn join(root: &std::path::Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

#[cfg(test)]
mod tests;
