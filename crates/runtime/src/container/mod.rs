//! The runtime's operations on containers, one verb per file, as runc's CLI
//! and containerd's shim use them.

mod create;
mod delete;
mod exec;
mod kill;
mod ops;
mod start;

use std::path::{Path, PathBuf};

use berth_cgroups::{Cgroup, Hierarchy, Placement};
use oci_spec::runtime::Spec;

pub use create::CreateOptions;
pub use exec::{ExecOptions, wait_exit};
pub use kill::parse_signal;

use crate::error::{Error, Result};
use crate::state::State;
use crate::sys;

/// A runtime with its state directory (`--root`).
#[derive(Clone, Debug)]
pub struct Runtime {
    pub root: PathBuf,
}

/// The copy of config.json kept beside the state (exec needs the seccomp
/// profile and namespaces of the container it joins).
pub const SAVED_CONFIG: &str = "config.json";

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    /// Compiled seccomp programs (a name no container ID can take).
    pub fn seccomp_cache(&self) -> PathBuf {
        self.root.join(".seccomp-cache")
    }

    /// The spec's seccomp profile compiled (from the cache when it can be).
    fn seccomp_program(&self, spec: &Spec) -> Result<Option<Vec<u8>>> {
        spec.linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .map(|p| crate::seccomp::compile_cached(p, &self.seccomp_cache()))
            .transpose()
    }

    pub fn state(&self, id: &str) -> Result<State> {
        State::load(&self.root, id)
    }

    pub fn saved_spec(&self, id: &str) -> Result<Spec> {
        let path = State::dir(&self.root, id).join(SAVED_CONFIG);
        Spec::load(&path).map_err(|e| Error::system(format!("load {}: {e}", path.display())))
    }

    /// Every container under the root, sorted by ID.
    pub fn list(&self) -> Result<Vec<State>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            if let Some(id) = e.file_name().to_str()
                && let Ok(state) = State::load(&self.root, id)
            {
                out.push(state);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

/// The cgroup a container was created in.
pub fn cgroup_of(state: &State) -> Result<Cgroup> {
    Ok(Cgroup::new(Hierarchy::detect()?, &state.cgroup_path)?)
}

/// The cgroup path for a spec: `linux.cgroupsPath`, or `/<id>`.
pub fn cgroup_path(spec: &Spec, id: &str) -> Result<String> {
    let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    match path {
        None => Ok(format!("/{id}")),
        Some(p) => {
            let s = p.to_string_lossy().into_owned();
            // "slice:prefix:name" is systemd's form.
            if !s.starts_with('/') && s.split(':').count() == 3 {
                return Err(Error::unsupported(format!(
                    "cgroupsPath {s:?} is a systemd cgroup path; berth-runc manages cgroupfs only (set SystemdCgroup = false)"
                )));
            }
            Ok(s)
        }
    }
}

/// Resolves `root.path` against the bundle.
pub fn rootfs_of(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::invalid("config.json: root is missing"))?;
    let path = root.path();
    let full = if path.is_absolute() {
        path.clone()
    } else {
        bundle.join(path)
    };
    full.canonicalize()
        .map_err(|e| Error::invalid(format!("rootfs {}: {e}", full.display())))
}

/// Clones the init or an exec'd process into its cgroup (see berth-cgroups'
/// placement): returns whether the child can place itself
/// (`CLONE_INTO_CGROUP` worked, or there is no v2 tree), or else the parent
/// must call `add_pid`.
pub(super) fn clone_into(
    placement: &Placement,
    flags: i32,
) -> std::io::Result<(sys::Forked, bool)> {
    let Some(dir) = placement.clone_into() else {
        return Ok((sys::clone(flags)?, true));
    };
    match sys::clone_into_cgroup(flags, dir) {
        Ok(forked) => Ok((forked, true)),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL)
            ) =>
        {
            Ok((sys::clone(flags)?, false))
        }
        Err(e) => Err(e),
    }
}
