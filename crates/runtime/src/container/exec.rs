//! `exec`: another process in a running container, in all its namespaces and
//! its cgroup, under the container's seccomp profile.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Process};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions};

use super::{ProcessIo, Runtime, cgroup_of};
use crate::error::{Error, IoContext, Result};
use crate::init::{self, ExecConfig, Join};
use crate::state::Status;
use crate::sync::{self, Msg};
use crate::sys;

#[derive(Debug)]
pub struct ExecOptions {
    pub process: Process,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// A connected socket for the pty master, instead of `console_socket`.
    pub console: Option<OwnedFd>,
    /// The process's stdio.
    pub stdio: ProcessIo,
    /// Return once the process runs, instead of waiting for its exit.
    pub detach: bool,
    /// Exec into a paused container (the process stays frozen with it).
    pub ignore_paused: bool,
    /// Sub-cgroups of the container's for the process (`--cgroup`).
    pub sub_cgroups: berth_cgroups::SubCgroups,
    pub preserve_fds: u32,
}

/// (spec name, /proc/PID/ns name) of namespaces an exec joins.
const NAMESPACES: &[(LinuxNamespaceType, &str)] = &[
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Mount, "mnt"),
];

impl Runtime {
    /// Starts the process; returns its pid, and with `detach == false` its
    /// exit status once it ends.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<(i32, Option<i32>)> {
        super::ensure_single_threaded("exec in a container")?;
        let state = self.state(id)?;
        match state.status(&self.root) {
            Status::Running | Status::Created => {}
            Status::Paused if opts.ignore_paused => {}
            Status::Paused => {
                return Err(Error::state(
                    "cannot exec in a paused container (use --ignore-paused to override)",
                ));
            }
            _ => return Err(Error::state("cannot exec in a stopped container")),
        }
        if opts.process.terminal() == Some(true)
            && opts.console_socket.is_none()
            && opts.console.is_none()
        {
            return Err(Error::invalid(
                "cannot allocate tty if runc will detach without setting console socket",
            ));
        }
        crate::lsm::refuse_labels(&opts.process, None)?;
        let spec = self.saved_spec(id)?;
        let wanted: Vec<LinuxNamespaceType> = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ())
            .collect();
        let mut join = Vec::new();
        for (kind, name) in NAMESPACES {
            if !wanted.contains(kind) {
                continue;
            }
            let path = PathBuf::from(format!("/proc/{}/ns/{name}", state.pid));
            // Joining a namespace we are already in is an error for user namespaces.
            if *kind == LinuxNamespaceType::User && same_ns(&path, "/proc/self/ns/user") {
                continue;
            }
            let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .ctx("open namespace", &path)?;
            join.push(Join { kind: *kind, fd });
        }
        let console =
            super::console_for(&opts.process, opts.console.as_ref(), &opts.console_socket)?;
        // The pid namespace of the children of this process becomes the
        // container's (setns affects only children), until the guard puts
        // back our own: a long-lived caller (the monitor) clones the
        // container's next init later, which must not land in this one.
        let _pid_ns = if wanted.contains(&LinuxNamespaceType::Pid) {
            Some(ChildPidNamespace::enter(state.pid, id)?)
        } else {
            None
        };
        let cgroup = cgroup_of(&state)?;
        let seccomp_program = self.seccomp_program(&spec)?;
        let (parent_end, child_end) = sync::pair()?;
        let placement = cgroup.placement_in(&opts.sub_cgroups)?;
        let (forked, placed) = super::clone_into(&placement, 0)
            .map_err(|e| Error::system(format!("clone the exec process: {e}")))?;
        let pid = match forked {
            sys::Forked::Child => {
                drop(parent_end);
                init::exec_process(ExecConfig {
                    stdio: &opts.stdio,
                    chroot: (!wanted.contains(&LinuxNamespaceType::Mount))
                        .then_some(state.rootfs.as_path()),
                    preserve_fds: opts.preserve_fds,
                    spec: &spec,
                    process: &opts.process,
                    channel: child_end,
                    console,
                    join,
                    seccomp_program: seccomp_program.as_deref(),
                    cgroup: placed.then_some(&placement),
                })
            }
            sys::Forked::Parent(pid) => pid,
        };
        drop(child_end);
        let fail = |e: Error| {
            if let Some(p) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                let _ = rustix::process::waitpid(Some(p), WaitOptions::empty());
            }
            e
        };
        if !placed {
            cgroup.add_pid(pid).map_err(|e| fail(e.into()))?;
        }
        parent_end
            .send(&Msg::Go {
                state: String::new(),
            })
            .map_err(fail)?;
        match parent_end.recv().map_err(fail)? {
            None => {}
            Some(Msg::Failed {
                step,
                message,
                kind,
                errno,
            }) => {
                let _ = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
                return Err(Msg::failure_error(step, message, kind, errno)
                    .context("unable to start container process"));
            }
            Some(other) => {
                return Err(fail(Error::system(format!(
                    "exec: unexpected message {other:?}"
                ))));
            }
        }
        if let Some(pid_file) = &opts.pid_file {
            std::fs::write(pid_file, pid.to_string()).ctx("write pid file", pid_file)?;
        }
        if opts.detach {
            return Ok((pid, None));
        }
        Ok((pid, Some(wait_exit(pid)?)))
    }
}

/// This process's children's pid namespace set to a container's, and put
/// back (to this process's own) when dropped.
struct ChildPidNamespace {
    own: OwnedFd,
}

impl ChildPidNamespace {
    fn enter(pid: i32, id: &str) -> Result<ChildPidNamespace> {
        let own = rustix::fs::open(
            "/proc/self/ns/pid",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx("open namespace", std::path::Path::new("/proc/self/ns/pid"))?;
        let path = PathBuf::from(format!("/proc/{pid}/ns/pid"));
        let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .ctx("open namespace", &path)?;
        rustix::thread::move_into_link_name_space(
            fd.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::ProcessID),
        )
        .map_err(|e| Error::system(format!("join the pid namespace of {id}: {e}")))?;
        Ok(ChildPidNamespace { own })
    }
}

impl Drop for ChildPidNamespace {
    fn drop(&mut self) {
        // Entering one's own active pid namespace is always allowed.
        let _ = rustix::thread::move_into_link_name_space(
            self.own.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::ProcessID),
        );
    }
}

/// Waits for a child and returns its exit code (128 + signal if killed).
pub fn wait_exit(pid: i32) -> Result<i32> {
    let p = Pid::from_raw(pid).ok_or_else(|| Error::invalid(format!("invalid pid {pid}")))?;
    loop {
        match rustix::process::waitpid(Some(p), WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return Ok(code);
                }
                if let Some(sig) = status.terminating_signal() {
                    return Ok(128 + sig);
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::system(format!("wait for {pid}: {e}"))),
        }
    }
}

fn same_ns(a: &std::path::Path, b: &str) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => {
            use std::os::unix::fs::MetadataExt;
            x.ino() == y.ino() && x.dev() == y.dev()
        }
        _ => false,
    }
}
