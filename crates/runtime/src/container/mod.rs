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
        let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::system(format!("parse {}: {e}", path.display())))
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

/// Where a container process's fds 0, 1 and 2 come from.
#[derive(Debug, Default)]
pub enum ProcessIo {
    /// The calling process's own (the runc command line: its caller set
    /// them up for the container).
    #[default]
    Inherit,
    /// These become the process's stdin, stdout and stderr; the caller's
    /// own stay as they are (the monitor's pipes to a container).
    Fds {
        stdin: std::os::fd::OwnedFd,
        stdout: std::os::fd::OwnedFd,
        stderr: std::os::fd::OwnedFd,
    },
}

/// Refuses to clone a process with more than one thread: the child would
/// inherit locks held by threads that do not exist in it (a malloc lock,
/// a buffered stdio lock) and could deadlock before it execs. The monitor
/// and berth-runc are single-threaded; a daemon's worker asks its monitor.
pub(crate) fn ensure_single_threaded(what: &str) -> Result<()> {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| Error::system(format!("{what}: read /proc/self/stat: {e}")))?;
    // Fields after the command name (which may hold spaces and parentheses):
    // state is field 3, num_threads field 20.
    let threads = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(17))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| Error::system(format!("{what}: unreadable /proc/self/stat")))?;
    if threads != 1 {
        return Err(Error::invalid(format!(
            "{what}: must be called from a single-threaded process (this one has {threads} threads); ask the container's monitor instead"
        )));
    }
    Ok(())
}

/// The socket a terminal's pty master goes to: a connected one the caller
/// gave, or the caller's named console socket.
pub(crate) fn console_for(
    process: &oci_spec::runtime::Process,
    given: Option<&std::os::fd::OwnedFd>,
    path: &Option<PathBuf>,
) -> Result<Option<std::os::fd::OwnedFd>> {
    if process.terminal() != Some(true) {
        return Ok(None);
    }
    if let Some(fd) = given {
        return rustix::io::fcntl_dupfd_cloexec(fd, 3)
            .map(Some)
            .map_err(|e| Error::system(format!("dup the console socket: {e}")));
    }
    match path {
        Some(path) => std::os::unix::net::UnixStream::connect(path)
            .map(|s| Some(std::os::fd::OwnedFd::from(s)))
            .map_err(|e| Error::io("connect to console socket", path, e)),
        None => Ok(None),
    }
}
