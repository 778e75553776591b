//! The monitor's set-up: its control socket, the container's root mounted in
//! the monitor's own mount namespace, and, at every start, the container
//! created from a spec built afresh from the store (the user resolved in
//! the mounted root), with stdio on pipes or a pty that the monitor made.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::pipe::PipeFlags;

use super::{bind, protocol};
use crate::Engine;
use crate::containers::record::ContainerRow;
use crate::containers::user;
use crate::error::{Error, Result};
use crate::runtimes::NewProcessIo;

pub struct Prepared {
    pub control: UnixListener,
    pub rootfs: PathBuf,
}

/// The monitor's ends of a process's stdio.
pub struct Stdio {
    /// Pipe write end, or a dup of the pty master.
    pub stdin: Option<OwnedFd>,
    /// (stream, read end): the pty master is stream 1.
    pub outputs: Vec<(u8, OwnedFd)>,
    pub pty: Option<OwnedFd>,
}

/// What the runtime gives a new process: its stdio, and for a terminal
/// the socket its pty master comes back on.
pub struct ProcessEnds {
    pub io: berth_runtime::ProcessIo,
    pub console: Option<OwnedFd>,
    /// The monitor's ends.
    pub ours: OurEnds,
}

/// The monitor's ends while the process is being created.
pub struct OurEnds {
    stdio: Stdio,
    console: Option<OwnedFd>,
}

impl ProcessEnds {
    /// Pipes (stdin only when `open_stdin`; else an empty pipe: EOF at
    /// once, or /dev/null with `null_stdin`, as Docker gives a container's
    /// init), or a socket pair for the pty a terminal process makes. Every
    /// fd is one berth made: nothing of any caller's reaches a container.
    pub fn new(tty: bool, open_stdin: bool, null_stdin: bool) -> Result<ProcessEnds> {
        if tty {
            let (ours, theirs) = rustix::net::socketpair(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::CLOEXEC,
                None,
            )
            .map_err(|e| Error::internal(format!("create a console socket pair: {e}")))?;
            // The pty replaces these before the program runs.
            let (r, w) = pipe()?;
            let io = berth_runtime::ProcessIo::Fds {
                stdin: r,
                stdout: clone_fd(&w)?,
                stderr: w,
            };
            return Ok(ProcessEnds {
                io,
                console: Some(theirs),
                ours: OurEnds {
                    stdio: Stdio {
                        stdin: None,
                        outputs: Vec::new(),
                        pty: None,
                    },
                    console: Some(ours),
                },
            });
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (in_r, in_w) = if null_stdin && !open_stdin {
            let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::internal(format!("open /dev/null: {e}")))?;
            (clone_fd(&null)?, null)
        } else {
            pipe()?
        };
        Ok(ProcessEnds {
            io: berth_runtime::ProcessIo::Fds {
                stdin: in_r,
                stdout: out_w,
                stderr: err_w,
            },
            console: None,
            ours: OurEnds {
                stdio: Stdio {
                    // Without -i the write end goes now: the process reads EOF.
                    stdin: open_stdin.then_some(in_w),
                    outputs: vec![(protocol::STDOUT, out_r), (protocol::STDERR, err_r)],
                    pty: None,
                },
                console: None,
            },
        })
    }
}

impl OurEnds {
    /// The console connection the runtime made, when it made its own (runc
    /// connects to a socket path).
    pub fn with_console(mut self, console: Option<OwnedFd>) -> OurEnds {
        if console.is_some() {
            self.console = console;
        }
        self
    }

    /// After the runtime created the process (and the process's ends are
    /// closed here): the pty master, for a terminal.
    pub fn finish(self, open_stdin: bool) -> Result<Stdio> {
        let mut ours = self.stdio;
        if let Some(sock) = &self.console {
            let master = berth_runtime::console_socket::receive_pty_master_from(sock)?;
            if open_stdin {
                ours.stdin = Some(clone_fd(&master)?);
            }
            ours.outputs = vec![(protocol::STDOUT, clone_fd(&master)?)];
            ours.pty = Some(master);
        }
        Ok(ours)
    }
}

pub fn prepare(engine: &Engine, row: &ContainerRow, dir: &Path) -> Result<Prepared> {
    if let Some(parent) = dir.parent() {
        crate::store::perms::create_private_dir(parent)?;
    }
    crate::store::perms::create_private_dir(dir)?;
    let (control, _) = bind(dir, protocol::CONTROL_SOCKET)?;
    let rootfs = engine.paths.container_dir(&row.id).join("rootfs");
    let snapshot = engine.container_snapshot(row)?;
    berth_runtime::overlay::enter_private_mount_namespace()?;
    snapshot.mount(&rootfs)?;
    populate_volumes(engine, row, &rootfs)?;
    Ok(Prepared { control, rootfs })
}

/// New, empty volumes get what the image has where they are mounted.
fn populate_volumes(engine: &Engine, row: &ContainerRow, rootfs: &Path) -> Result<()> {
    let volumes: Vec<_> = row
        .config
        .host
        .mounts
        .iter()
        .filter(|m| m.kind == crate::containers::MountKind::Volume)
        .collect();
    if volumes.is_empty() {
        return Ok(());
    }
    let fd = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::internal(format!("open {}: {e}", rootfs.display())))?;
    let root = crate::containers::root::ContainerRoot { fd };
    for m in volumes {
        crate::containers::copy::populate_volume(
            &root,
            &m.target,
            &engine.paths.volume_data(&m.source),
        )
        .map_err(|e| e.context(format!("populate volume {} from {}", m.source, m.target)))?;
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| Error::internal(format!("create a pipe: {e}")))
}

fn clone_fd(fd: &OwnedFd) -> Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(|e| Error::internal(format!("dup: {e}")))
}

/// Creates the container (its init waits for start) from `row` as it is
/// now; returns its pid and the monitor's ends of its stdio.
pub fn create(engine: &Engine, row: &ContainerRow, rootfs: &Path) -> Result<(i32, Stdio)> {
    let resolved = user::resolve(rootfs, &row.config.user, &row.config.host.group_add)?;
    if !row.config.working_dir.is_empty() {
        ensure_workdir(rootfs, &row.config.working_dir)?;
    }
    let spec = engine.spec_for(row, rootfs, Some(&resolved))?;
    let ProcessEnds { io, console, ours } =
        ProcessEnds::new(row.config.tty, row.config.open_stdin, true)?;
    // The container's ends go with the call: our copies must not stay, or
    // its output never ends.
    let (pid, console) = engine.runtime(row).create(
        &row.id,
        &engine.paths.container_dir(&row.id),
        spec,
        NewProcessIo { stdio: io, console },
        &super::monitor_dir(&engine.run_root, &row.id),
    )?;
    let stdio = ours.with_console(console).finish(row.config.open_stdin)?;
    Ok((pid, stdio))
}

/// Creates the working directory in the container's root when the image
/// lacks it (root's, 0755), as Docker does; every step resolved by the
/// kernel inside the root, so a symlink in the image cannot lead out.
fn ensure_workdir(rootfs: &Path, workdir: &str) -> Result<()> {
    use rustix::fs::ResolveFlags;
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::internal(format!("open {}: {e}", rootfs.display())))?;
    let in_root = |rel: &Path| {
        rustix::fs::openat2(
            &root,
            if rel.as_os_str().is_empty() {
                Path::new(".")
            } else {
                rel
            },
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    };
    let rel = Path::new(workdir.trim_start_matches('/'));
    let mut prefix = PathBuf::new();
    for part in rel.components() {
        let parent = prefix.clone();
        prefix.push(part);
        match in_root(&prefix) {
            Ok(_) => continue,
            Err(rustix::io::Errno::NOENT) => {}
            Err(rustix::io::Errno::NOTDIR) => {
                return Err(Error::invalid(format!(
                    "Cannot mkdir: /{} is not a directory",
                    prefix.display()
                )));
            }
            Err(e) => {
                return Err(Error::invalid(format!(
                    "working directory {workdir}: /{}: {e}",
                    prefix.display()
                )));
            }
        }
        let dir = in_root(&parent)
            .and_then(|p| {
                rustix::fs::openat(
                    &p,
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            })
            .map_err(|e| {
                Error::invalid(format!(
                    "working directory {workdir}: /{}: {e}",
                    parent.display()
                ))
            })?;
        match rustix::fs::mkdirat(&dir, part.as_os_str(), Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => {
                return Err(Error::invalid(format!(
                    "working directory {workdir}: mkdir /{}: {e}",
                    prefix.display()
                )));
            }
        }
    }
    Ok(())
}

/// Unmounts the root in the monitor's namespace (it dies with the monitor
/// anyway; `--rm` removes the directory, which must not go through the mount).
pub fn unmount(rootfs: &Path) {
    if rustix::mount::unmount(rootfs, rustix::mount::UnmountFlags::DETACH).is_ok()
        && let Some(container_dir) = rootfs.parent()
    {
        berth_runtime::overlay::clear_volatile_marker(&container_dir.join("work"));
    }
}
