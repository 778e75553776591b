//! The OCI runtime a container runs on: berth's own (berth-runtime, called
//! in process) by default, or with `--runtime runc` the runc binary found on
//! the PATH, driven through its command line as containerd's shim drives it
//! (see `external.rs`).
//!
//! Either way the monitor creates, starts and enters the container and is
//! the parent of every process in it; the choice is made from the
//! container's configuration when it is created, and later, where only an
//! ID is at hand, from which runtime keeps state for it.

mod external;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxResources, Process, Spec};

pub(crate) use external::External;

use crate::Engine;
use crate::containers::record::ContainerRow;
use crate::error::{Error, Result};

/// berth's own runtime: the default, named as `info` names it.
pub const DEFAULT_RUNTIME: &str = "berth-runc";

/// A runtime name as `--runtime` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeName {
    Berth,
    /// An external runc-compatible binary.
    External {
        name: String,
        path: PathBuf,
    },
}

/// What `--runtime NAME` means here: "" and berth's names are berth's own
/// runtime; "runc" is runc itself, when it is installed.
pub fn resolve_name(name: &str) -> Result<RuntimeName> {
    match name {
        "" | "berth" | DEFAULT_RUNTIME => Ok(RuntimeName::Berth),
        "runc" => match find_on_path("runc") {
            Some(path) => Ok(RuntimeName::External {
                name: name.to_string(),
                path,
            }),
            None => Err(Error::invalid(
                "unknown or invalid runtime name: runc (runc is not installed: no runc on the PATH)",
            )),
        },
        other => Err(Error::invalid(format!(
            "unknown or invalid runtime name: {other}"
        ))),
    }
}

/// The runtimes `info` lists: berth's, and runc when it is installed.
pub fn available() -> Vec<(String, PathBuf)> {
    let mut out = vec![(DEFAULT_RUNTIME.to_string(), PathBuf::from(DEFAULT_RUNTIME))];
    if let Some(path) = find_on_path("runc") {
        out.push(("runc".into(), path));
    }
    out
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// One container's runtime.
pub(crate) enum OciRuntime {
    Berth(berth_runtime::Runtime),
    External(External),
}

/// A new process's stdio and, for a terminal, the connected socket its pty
/// master comes back on (berth's runtime takes it as is; runc takes a
/// socket path, whose connection replaces it).
pub(crate) struct NewProcessIo {
    pub stdio: berth_runtime::ProcessIo,
    pub console: Option<OwnedFd>,
}

impl Engine {
    /// The runtime `row` was created for.
    pub(crate) fn runtime(&self, row: &ContainerRow) -> OciRuntime {
        match resolve_name(&row.config.host.runtime) {
            Ok(RuntimeName::External { path, .. }) => OciRuntime::External(self.external(path)),
            // A runtime that has gone since: whatever state is left is
            // found by `runtime_of`.
            Err(_) => self.runtime_of(&row.id),
            Ok(RuntimeName::Berth) => self.berth_runtime(),
        }
    }

    /// The runtime that keeps state for container `id` (berth's when none).
    pub(crate) fn runtime_of(&self, id: &str) -> OciRuntime {
        let external_root = external::state_root(&self.run_root);
        if external_root.join(id).exists()
            && let Some(path) = find_on_path("runc")
        {
            return OciRuntime::External(self.external(path));
        }
        self.berth_runtime()
    }

    fn berth_runtime(&self) -> OciRuntime {
        OciRuntime::Berth(berth_runtime::Runtime::new(
            crate::containers::runtime_root(&self.run_root),
        ))
    }

    fn external(&self, binary: PathBuf) -> External {
        External::new(binary, &self.run_root)
    }
}

impl OciRuntime {
    pub fn is_external(&self) -> bool {
        matches!(self, OciRuntime::External(_))
    }

    /// Creates the container (its init waits for `start`); its pid and,
    /// for runc, the socket the pty master comes on.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        spec: Spec,
        io: NewProcessIo,
        work_dir: &Path,
    ) -> Result<(i32, Option<OwnedFd>)> {
        match self {
            OciRuntime::Berth(r) => {
                let options = berth_runtime::CreateOptions {
                    bundle: bundle.to_path_buf(),
                    spec: Some(spec),
                    console: io.console,
                    stdio: io.stdio,
                    // We are its supervisor: if we die (kill -9), so does
                    // it, and the next berth records the exit and applies
                    // the restart policy.
                    die_with_parent: true,
                    ..Default::default()
                };
                let state = r.create(id, &options)?;
                Ok((state.pid, None))
            }
            OciRuntime::External(r) => r.create(id, bundle, &spec, io, work_dir),
        }
    }

    pub fn start(&self, id: &str) -> Result<()> {
        match self {
            OciRuntime::Berth(r) => Ok(r.start(id)?),
            OciRuntime::External(r) => r.start(id),
        }
    }

    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        match self {
            OciRuntime::Berth(r) => Ok(r.kill(id, signal, all)?),
            OciRuntime::External(r) => r.kill(id, signal, all),
        }
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        match self {
            OciRuntime::Berth(r) => Ok(r.delete(id, force)?),
            OciRuntime::External(r) => r.delete(id, force),
        }
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        match self {
            OciRuntime::Berth(r) => Ok(r.pause(id)?),
            OciRuntime::External(r) => r.pause(id),
        }
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        match self {
            OciRuntime::Berth(r) => Ok(r.resume(id)?),
            OciRuntime::External(r) => r.resume(id),
        }
    }

    /// Whether the runtime keeps state for `id` (it was created and not
    /// deleted since boot).
    pub fn has_state(&self, id: &str) -> bool {
        match self {
            OciRuntime::Berth(r) => r.state(id).is_ok(),
            OciRuntime::External(r) => r.status(id).is_ok(),
        }
    }

    /// Whether the container is frozen.
    pub fn paused(&self, id: &str) -> bool {
        match self {
            OciRuntime::Berth(r) => r
                .state(id)
                .is_ok_and(|s| s.status(&r.root) == berth_runtime::Status::Paused),
            OciRuntime::External(r) => r.status(id).is_ok_and(|s| s == "paused"),
        }
    }

    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        match self {
            OciRuntime::Berth(r) => Ok(r.pids(id)?),
            OciRuntime::External(r) => {
                Ok(r.cgroup(id)?.pids().map_err(berth_runtime::Error::from)?)
            }
        }
    }

    pub fn stats(&self, id: &str) -> Result<berth_cgroups::Stats> {
        match self {
            OciRuntime::Berth(r) => Ok(r.stats(id)?),
            OciRuntime::External(r) => {
                Ok(r.cgroup(id)?.stats().map_err(berth_runtime::Error::from)?)
            }
        }
    }

    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        match self {
            OciRuntime::Berth(r) => Ok(r.update(id, resources)?),
            OciRuntime::External(r) => r.update(id, resources),
        }
    }

    /// The spec the container was created with.
    pub fn saved_spec(&self, id: &str) -> Result<Spec> {
        match self {
            OciRuntime::Berth(r) => Ok(r.saved_spec(id)?),
            OciRuntime::External(r) => r.saved_spec(id),
        }
    }

    /// Starts `process` in the running container; its pid and, for runc,
    /// the socket the pty master comes on.
    pub fn exec(
        &self,
        id: &str,
        process: Process,
        io: NewProcessIo,
        work_dir: &Path,
    ) -> Result<(i32, Option<OwnedFd>)> {
        match self {
            OciRuntime::Berth(r) => {
                let options = berth_runtime::ExecOptions {
                    process,
                    pid_file: None,
                    console_socket: None,
                    console: io.console,
                    stdio: io.stdio,
                    detach: true,
                    preserve_fds: 0,
                    ignore_paused: false,
                    sub_cgroups: Default::default(),
                };
                let (pid, _) = r.exec(id, &options)?;
                Ok((pid, None))
            }
            OciRuntime::External(r) => r.exec(id, &process, io, work_dir),
        }
    }
}
