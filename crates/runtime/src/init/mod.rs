//! What runs inside the new process after `clone`: the container's init
//! (for `create`) and an extra process (for `exec`). Both end in `execve` of
//! the user's program or in `_exit(1)` after sending the parent a message
//! that names the failed step.

pub mod caps;
mod console;
mod devices;
pub(crate) mod exec;
mod limits;
pub mod mounts;
mod rootfs;
mod timens;
mod user;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    IOPriorityClass, LinuxNamespaceType, LinuxPersonalityDomain, Process, Spec,
};
use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

use crate::container::ProcessIo;
use crate::error::InitStep;
use crate::sync::{Channel, Msg};
use crate::{hooks, seccomp, sys};

/// A failed step, reported to the runtime as `step: message` for people,
/// and as its kind and errno for programs.
#[derive(Debug)]
pub struct Failure {
    pub step: String,
    pub message: String,
    pub kind: InitStep,
    pub errno: Option<i32>,
}

impl Failure {
    pub fn new(step: impl Into<String>, err: impl std::fmt::Display) -> Failure {
        Failure {
            step: step.into(),
            message: err.to_string(),
            kind: InitStep::Setup,
            errno: None,
        }
    }
    pub fn msg(step: impl Into<String>, message: &str) -> Failure {
        Failure::new(step, message)
    }
    /// A failed system call, keeping its errno.
    pub fn errno(step: impl Into<String>, e: rustix::io::Errno) -> Failure {
        Failure {
            errno: Some(e.raw_os_error()),
            ..Failure::new(step, e)
        }
    }
    /// Marks which step of the set-up this was.
    pub fn at(self, kind: InitStep) -> Failure {
        Failure { kind, ..self }
    }
    /// To the runtime; if it is gone (a failure after `start`, whose
    /// caller has returned), to the process's stderr and the runtime's log,
    /// so that no failure vanishes.
    fn report(self, channel: &Channel, log: Option<&crate::log::LogTarget>) {
        let line = format!("container init: {}: {}", self.step, self.message);
        let sent = channel.send(&Msg::Failed {
            step: self.step,
            message: self.message,
            kind: self.kind,
            errno: self.errno,
        });
        if sent.is_err() {
            let _ = rustix::io::write(
                rustix::stdio::stderr(),
                format!("berth-runc: {line}\n").as_bytes(),
            );
            if let Some(log) = log {
                log.error(&line);
            }
        }
    }
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Failure {
        let init = e.init;
        Failure {
            step: "init".into(),
            message: e.message,
            kind: init.map(|i| i.step).unwrap_or_default(),
            errno: init.and_then(|i| i.errno),
        }
    }
}

/// A namespace to join, opened by the parent.
pub struct Join {
    pub kind: LinuxNamespaceType,
    pub fd: OwnedFd,
}

/// Everything the container's init needs, prepared by `create` before clone.
pub struct InitConfig<'a> {
    pub stdio: &'a ProcessIo,
    /// Where a failure goes when the runtime that started us is gone.
    pub log: Option<&'a crate::log::LogTarget>,
    /// Extra fds after stdio kept open into the process (`--preserve-fds`).
    pub preserve_fds: u32,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub channel: Channel,
    /// O_PATH fd of the container's state directory, holding the exec fifo
    /// (opened for writing through it after pivot_root, by a name relative
    /// to a directory outside the container that the container cannot reach).
    pub state_dir: OwnedFd,
    pub console: Option<OwnedFd>,
    pub join: Vec<Join>,
    pub new_userns: bool,
    pub new_cgroupns: bool,
    /// A new IPC namespace to unshare once root in the new user namespace
    /// (its mqueue filesystem is made then, owned by the container's root
    /// rather than by an unmapped host uid, as runc's is).
    pub new_ipcns_as_root: bool,
    /// A new time namespace, its offsets written before the init enters it.
    pub new_timens: bool,
    /// A new network namespace gets its loopback up, as runc does.
    pub new_netns: bool,
    /// The spec's seccomp profile, compiled by the runtime (see
    /// `seccomp::compile_cached`).
    pub seccomp_program: Option<&'a [u8]>,
    pub no_pivot: bool,
    /// The container has a mount namespace (new or joined); without one,
    /// mounts are made in the runtime's and the root is a chroot.
    pub mount_ns: bool,
    /// v1: (subsystem dir name, host cgroup dir) for a `cgroup` mount.
    pub cgroup_binds: Vec<(String, PathBuf)>,
    /// Set when the init places itself in its cgroup (it was cloned into
    /// the v2 one, it joins the v1 ones first thing); unset when the
    /// runtime does it and says so with Continue.
    pub cgroup: Option<&'a berth_cgroups::Placement>,
    /// Keep dying with the parent (SIGKILL) after `start`, instead of
    /// outliving it as runc's init does: berth's monitor, the init's
    /// parent, is its only supervisor, and an init it no longer watches
    /// would run on with nobody to record its exit or apply its restart
    /// policy. (Lost only if the program execs a set-user-ID binary or one
    /// with file capabilities: the kernel clears it then.)
    pub die_with_parent: bool,
}

/// The container's init. Never returns.
pub fn container_init(cfg: InitConfig) -> ! {
    let result = run_init(&cfg);
    let Err(failure) = result;
    failure.report(&cfg.channel, cfg.log);
    sys::exit_now(1)
}

fn process_of(spec: &Spec) -> Result<&Process, Failure> {
    spec.process()
        .as_ref()
        .ok_or_else(|| Failure::msg("init", "config.json has no process"))
}

fn run_init(cfg: &InitConfig) -> Result<std::convert::Infallible, Failure> {
    let spec = cfg.spec;
    let process = process_of(spec)?;
    if let Some(placement) = cfg.cgroup {
        // First, before anything could start a second thread or process.
        placement
            .join_v1_self()
            .map_err(|e| Failure::new("join the container's cgroup", e))?;
    }
    install_stdio(cfg.stdio)?;
    // Until we report ready, die with the runtime rather than linger.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)).ok();
    let state = match cfg.channel.recv().map_err(Failure::from)? {
        Some(Msg::Go { state }) => state,
        other => {
            return Err(Failure::msg(
                "init",
                &format!("expected the go-ahead, got {other:?}"),
            ));
        }
    };
    let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();

    join_namespaces(&cfg.join)?;
    if cfg.new_userns {
        become_root_in_userns()?;
    }
    if cfg.new_ipcns_as_root {
        sys::unshare_ipc_namespace().map_err(|e| Failure::new("unshare the IPC namespace", e))?;
    }
    if cfg.new_timens {
        timens::enter_new(
            spec.linux()
                .as_ref()
                .and_then(|l| l.time_offsets().as_ref()),
        )?;
    }
    rustix::process::setsid().ok();
    let wait_continue = || match cfg.channel.recv().map_err(Failure::from)? {
        Some(Msg::Continue) => Ok(()),
        other => Err(Failure::msg(
            "init",
            &format!("expected Continue, got {other:?}"),
        )),
    };
    // A new cgroup namespace is rooted at the cgroup we are in when we
    // unshare it, so unless we placed ourselves it waits until the parent
    // has; otherwise the rootfs is prepared while the parent does that.
    let placed_by_parent = cfg.new_cgroupns && cfg.cgroup.is_none();
    if placed_by_parent {
        wait_continue()?;
    }
    if cfg.new_cgroupns {
        sys::unshare_cgroup_namespace()
            .map_err(|e| Failure::new("unshare the cgroup namespace", e))?;
    }
    let _root = rootfs::prepare(
        spec,
        cfg.rootfs,
        cfg.bundle,
        &cfg.cgroup_binds,
        cfg.new_userns,
        cfg.mount_ns,
    )?;
    if !placed_by_parent {
        wait_continue()?;
    }
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().clone())
    {
        hooks::run("createContainer", &h, &state).map_err(Failure::from)?;
    }
    rootfs::pivot(cfg.rootfs, cfg.no_pivot, cfg.mount_ns)?;
    // A missing working directory is made, as runc makes it: in the new
    // root (its symlinks resolve inside), before the root turns read-only.
    let cwd = process.cwd();
    if cwd.is_absolute() && !cwd.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(cwd)
            .map_err(|e| {
                Failure::new(
                    format!("create cwd {} set in config.json", cwd.display()),
                    e,
                )
            })?;
    }

    if let Some(hostname) = spec.hostname() {
        rustix::system::sethostname(hostname.as_bytes())
            .map_err(|e| Failure::new(format!("sethostname {hostname}"), e))?;
    }
    if let Some(domain) = spec.domainname() {
        rustix::system::setdomainname(domain.as_bytes())
            .map_err(|e| Failure::new(format!("setdomainname {domain}"), e))?;
    }
    if cfg.new_netns {
        sys::loopback_up().map_err(|e| Failure::new("bring up the loopback interface", e))?;
    }
    let procfs = limits::private_procfs()?;
    let linux = spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        limits::apply_sysctls(&procfs, sysctl)?;
    }
    rootfs::mask_paths(
        linux
            .and_then(|l| l.masked_paths().as_deref())
            .unwrap_or(&[]),
    )?;
    rootfs::readonly_paths(
        linux
            .and_then(|l| l.readonly_paths().as_deref())
            .unwrap_or(&[]),
    )?;
    // Without a mount namespace the root is the host's mount: runc leaves
    // it as it is, and so does berth-runc.
    if cfg.mount_ns && spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        rootfs::readonly_root()?;
    }
    if cfg.mount_ns {
        rootfs::apply_root_propagation(spec)?;
    }
    terminal(process, cfg.console.as_ref())?;
    limits::apply_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        sys::set_io_priority(class, io.priority() as u32)
            .map_err(|e| Failure::new(format!("ioprio_set {} {}", io.class(), io.priority()), e))?;
    }
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        // Before the seccomp filter, which may refuse personality(2).
        let persona = match p.domain() {
            LinuxPersonalityDomain::PerLinux => 0,
            LinuxPersonalityDomain::PerLinux32 => 0x0008,
        };
        sys::set_personality(persona)
            .map_err(|e| Failure::new(format!("personality {}", p.domain()), e))?;
    }
    let mut env = process.env().clone().unwrap_or_default();
    let program = exec::find_executable(first_arg(process), &env)?;
    // Capabilities, user and cwd before reporting ready, as runc does: a bad
    // user or working directory fails `create`, not the started process.
    finish_setup(spec, process, &mut env, cfg.seccomp_program)?;

    // Ready: the runtime may exit now, and we must outlive it — unless our
    // parent is the container's supervisor. (finish_setup's change of
    // user cleared the setting: set it again.)
    let on_parent_death = cfg.die_with_parent.then_some(rustix::process::Signal::KILL);
    rustix::process::set_parent_process_death_signal(on_parent_death).ok();
    cfg.channel.send(&Msg::Ready).map_err(Failure::from)?;

    // Block until `start` opens the fifo for reading.
    let fifo = rustix::fs::openat(
        &cfg.state_dir,
        crate::state::EXEC_FIFO,
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::new("open the exec fifo", e))?;
    rustix::io::write(&fifo, b"0").map_err(|e| Failure::new("write the exec fifo", e))?;
    drop(fifo);

    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().clone())
    {
        hooks::run("startContainer", &h, &state).map_err(Failure::from)?;
    }
    Err(final_exec(
        spec,
        process,
        &program,
        &env,
        cfg.preserve_fds,
        cfg.seccomp_program,
    ))
}

/// Makes the caller's chosen fds the process's stdio (in the child: the
/// caller's own fds are untouched).
fn install_stdio(io: &ProcessIo) -> Result<(), Failure> {
    let ProcessIo::Fds {
        stdin,
        stdout,
        stderr,
    } = io
    else {
        return Ok(());
    };
    // Copies above 2 first: a given fd may itself be 0, 1 or 2.
    let copy = |fd: &OwnedFd| {
        rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(|e| Failure::errno("set up stdio", e))
    };
    let (i, o, e) = (copy(stdin)?, copy(stdout)?, copy(stderr)?);
    rustix::stdio::dup2_stdin(&i)
        .and_then(|_| rustix::stdio::dup2_stdout(&o))
        .and_then(|_| rustix::stdio::dup2_stderr(&e))
        .map_err(|e| Failure::errno("set up stdio", e))
}

/// With `process.terminal`, a pty whose master goes to the console socket
/// (console::setup makes a new session for it).
fn terminal(process: &Process, console: Option<&OwnedFd>) -> Result<(), Failure> {
    if process.terminal() != Some(true) {
        return Ok(());
    }
    let socket =
        console.ok_or_else(|| Failure::msg("console", "a terminal needs a console socket"))?;
    let size = process
        .console_size()
        .as_ref()
        .map(|b| (b.height() as u16, b.width() as u16));
    console::setup(socket, size)
}

fn first_arg(process: &Process) -> &str {
    process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .map_or("", |s| s)
}

/// With no_new_privs the seccomp filter goes in last, right before
/// execve: nothing but execve runs under it, so a profile written before
/// the calls berth makes existed (openat2, close_range) cannot refuse them.
/// Returns only on failure.
fn final_exec(
    spec: &Spec,
    process: &Process,
    program: &Path,
    env: &[String],
    preserve_fds: u32,
    program_bpf: Option<&[u8]>,
) -> Failure {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let last_filter = seccomp.filter(|_| process.no_new_privileges() == Some(true));
    exec::exec(
        program,
        process.args().as_deref().unwrap_or(&[]),
        env,
        preserve_fds,
        || match last_filter {
            Some(profile) => install_seccomp(profile, program_bpf).map_err(Failure::from),
            None => Ok(()),
        },
    )
}

/// Seccomp (without no_new_privs), capabilities, user, no_new_privs, the
/// working directory and HOME: everything but the last filter and exec.
fn install_seccomp(
    profile: &oci_spec::runtime::LinuxSeccomp,
    program: Option<&[u8]>,
) -> crate::error::Result<()> {
    match program {
        Some(p) => seccomp::install_program(p),
        None => seccomp::install(profile),
    }
}

fn finish_setup(
    spec: &Spec,
    process: &Process,
    env: &mut Vec<String>,
    program_bpf: Option<&[u8]>,
) -> Result<(), Failure> {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let nnp = process.no_new_privileges() == Some(true);
    // As runc: change directory while still privileged (the runtime may reach
    // directories the user cannot), and again as the user if that failed.
    // Before any filter: a profile may refuse openat2.
    let early_chdir = exec::chdir_verified(process.cwd());
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it
    // before the capabilities go (what follows falls back on the classic
    // calls where a profile refuses the new ones). With it, load it last,
    // just before exec.
    if let Some(profile) = seccomp
        && !nnp
    {
        install_seccomp(profile, program_bpf).map_err(Failure::from)?;
    }
    let masks = caps::masks(process.capabilities().as_ref());
    caps::apply_bounding(&masks)?;
    user::switch(process.user())?;
    caps::apply_sets(&masks)?;
    if nnp {
        rustix::thread::set_no_new_privs(true).map_err(|e| Failure::new("set no_new_privs", e))?;
    }
    if early_chdir.is_err() {
        exec::chdir_verified(process.cwd())?;
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user::home_of(process.user().uid())));
    }
    Ok(())
}

fn become_root_in_userns() -> Result<(), Failure> {
    use rustix::process::{Gid, Uid};
    rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT)
        .map_err(|e| Failure::new("setresgid 0 in the user namespace", e))?;
    rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT)
        .map_err(|e| Failure::new("setresuid 0 in the user namespace", e))
}

/// Joins namespaces, the user namespace first (it decides what the others allow).
fn join_namespaces(join: &[Join]) -> Result<(), Failure> {
    let mut ordered: Vec<&Join> = join.iter().collect();
    ordered.sort_by_key(|j| {
        if j.kind == LinuxNamespaceType::User {
            0
        } else {
            1
        }
    });
    for j in ordered {
        let kind = match j.kind {
            LinuxNamespaceType::User => LinkNameSpaceType::User,
            LinuxNamespaceType::Mount => LinkNameSpaceType::Mount,
            LinuxNamespaceType::Uts => LinkNameSpaceType::HostNameAndNISDomainName,
            LinuxNamespaceType::Ipc => LinkNameSpaceType::InterProcessCommunication,
            LinuxNamespaceType::Network => LinkNameSpaceType::Network,
            LinuxNamespaceType::Cgroup => LinkNameSpaceType::ControlGroup,
            LinuxNamespaceType::Time => LinkNameSpaceType::Time,
            LinuxNamespaceType::Pid => continue, // joined by the parent before clone
        };
        rustix::thread::move_into_link_name_space(j.fd.as_fd(), Some(kind))
            .map_err(|e| Failure::new(format!("join {:?} namespace", j.kind), e))?;
    }
    Ok(())
}

/// Everything an exec'd process needs, prepared by `exec` before clone.
pub struct ExecConfig<'a> {
    pub stdio: &'a ProcessIo,
    /// A container without a mount namespace: its root, to chroot into.
    pub chroot: Option<&'a Path>,
    pub preserve_fds: u32,
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub channel: Channel,
    pub console: Option<OwnedFd>,
    pub join: Vec<Join>,
    pub seccomp_program: Option<&'a [u8]>,
    /// As for the init: set when the process places itself in the cgroup.
    pub cgroup: Option<&'a berth_cgroups::Placement>,
}

/// A process joining a running container. Never returns: execs, or reports
/// the failed step and exits. The runtime learns of success when the
/// close-on-exec channel closes.
pub fn exec_process(cfg: ExecConfig) -> ! {
    let result = run_exec(&cfg);
    let Err(failure) = result;
    failure.report(&cfg.channel, None);
    sys::exit_now(1)
}

fn run_exec(cfg: &ExecConfig) -> Result<std::convert::Infallible, Failure> {
    if let Some(placement) = cfg.cgroup {
        placement
            .join_v1_self()
            .map_err(|e| Failure::new("join the container's cgroup", e))?;
    }
    install_stdio(cfg.stdio)?;
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)).ok();
    match cfg.channel.recv().map_err(Failure::from)? {
        Some(Msg::Go { .. }) => {}
        other => {
            return Err(Failure::msg(
                "exec",
                &format!("expected the go-ahead, got {other:?}"),
            ));
        }
    }
    join_namespaces(&cfg.join)?;
    if let Some(root) = cfg.chroot {
        rustix::process::chdir(root)
            .and_then(|_| rustix::process::chroot("."))
            .and_then(|_| rustix::process::chdir("/"))
            .map_err(|e| Failure::errno(format!("chroot into {}", root.display()), e))?;
    }
    let process = cfg.process;
    // A session of its own, so no terminal of the runtime's caller could
    // ever be its controlling terminal (a terminal makes one too).
    rustix::process::setsid().ok();
    terminal(process, cfg.console.as_ref())?;
    limits::apply_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    let mut env = process.env().clone().unwrap_or_default();
    let program = exec::find_executable(first_arg(process), &env)?;
    finish_setup(cfg.spec, process, &mut env, cfg.seccomp_program)?;
    rustix::process::set_parent_process_death_signal(None).ok();
    Err(final_exec(
        cfg.spec,
        process,
        &program,
        &env,
        cfg.preserve_fds,
        cfg.seccomp_program,
    ))
}
