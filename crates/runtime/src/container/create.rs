//! `create`: a container whose init is set up and waits for `start`.
//!
//! The runtime process is single-threaded, so it can clone itself: the child
//! becomes the container's init (see `init`), the parent places it in its
//! cgroup, writes its uid/gid maps and oom score, runs the createRuntime and
//! prestart hooks, lets it go on, and waits for it to report ready (or the
//! step that failed). The init then blocks on the exec fifo until `start`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_cgroups::{Cgroup, Hierarchy};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use rustix::fs::{FileType, Mode, OFlags};

use super::{ProcessIo, Runtime, SAVED_CONFIG, cgroup_path, rootfs_of};
use crate::error::{Error, ErrorKind, IoContext, Result};
use crate::init::{self, InitConfig, Join};
use crate::state::{EXEC_FIFO, State, process_start_time, validate_id};
use crate::sync::{self, Msg};
use crate::{hooks, sys};

#[derive(Debug, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    /// The container's configuration; None: the bundle's config.json.
    pub spec: Option<Spec>,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// A connected socket for the pty master, instead of `console_socket`.
    pub console: Option<OwnedFd>,
    /// The init's stdio.
    pub stdio: ProcessIo,
    /// runc's `--log`: where the init's failure goes when nobody waits for
    /// it (after `create` returned).
    pub log: Option<crate::log::LogTarget>,
    pub no_pivot: bool,
    /// Keep fds 3..3+N (inherited from the caller) open in the container,
    /// with LISTEN_FDS set, as runc does.
    pub preserve_fds: u32,
    /// The init dies (SIGKILL) when the process that created it does (see
    /// `InitConfig::die_with_parent`); runc's outlives it.
    pub die_with_parent: bool,
}

impl Runtime {
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<State> {
        validate_id(id)?;
        super::ensure_single_threaded("create a container")?;
        let bundle = opts
            .bundle
            .canonicalize()
            .map_err(|e| Error::invalid(format!("bundle {}: {e}", opts.bundle.display())))?;
        let spec = match &opts.spec {
            Some(spec) => spec.clone(),
            None => {
                let config = bundle.join("config.json");
                crate::spec_file::load(&config)?
            }
        };
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::invalid("config.json: process is missing"))?;
        crate::lsm::refuse_labels(process, spec.linux().as_ref())?;
        crate::config_rules::check(&spec)?;
        if process.terminal() == Some(true)
            && opts.console_socket.is_none()
            && opts.console.is_none()
        {
            return Err(Error::invalid(
                "cannot allocate tty if runc will detach without setting console socket",
            ));
        }
        let rootfs = rootfs_of(&spec, &bundle)?;

        std::fs::create_dir_all(&self.root).ctx("create state root", &self.root)?;
        // runc's mode for its state root, whatever the umask.
        std::fs::set_permissions(
            &self.root,
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        )
        .ctx("chmod state root", &self.root)?;
        let dir = State::dir(&self.root, id);
        match std::fs::create_dir(&dir) {
            // 0711 whatever the umask: the container's user opens the exec
            // fifo below it (through an fd, by name).
            Ok(()) => {
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))
                    .ctx("chmod state directory", &dir)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("container with id exists: {id}"),
                ));
            }
            Err(e) => return Err(Error::io("create state directory", &dir, e)),
        }
        let mut guard = Cleanup {
            dir: dir.clone(),
            cgroup: None,
            pid: None,
            armed: true,
        };
        save_spec(&spec, &dir.join(SAVED_CONFIG))?;

        let fifo_path = dir.join(EXEC_FIFO);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo_path,
            FileType::Fifo,
            Mode::from_raw_mode(0o622),
            0,
        )
        .ctx("create exec fifo", &fifo_path)?;
        // mknod honours the umask; the container's user must be able to write it.
        std::fs::set_permissions(
            &fifo_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o622),
        )
        .ctx("chmod exec fifo", &fifo_path)?;
        let state_dir = rustix::fs::open(
            &dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx("open state directory", &dir)?;

        let hierarchy = Hierarchy::detect()?;
        let cgroup = Cgroup::new(hierarchy.clone(), &cgroup_path(&spec, id)?)?;
        let resources = spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .map(with_default_devices);
        // Armed before creating, so a failure half-way (resources the kernel
        // refuses) still removes the directories.
        guard.cgroup = Some(cgroup.clone());
        cgroup.create(resources.as_ref())?;

        let ns = Namespaces::from_spec(&spec)?;
        let console = super::console_for(process, opts.console.as_ref(), &opts.console_socket)?;
        let cgroup_binds = cgroup_binds(&hierarchy, cgroup.path());
        let seccomp_program = self.seccomp_program(&spec)?;
        let (parent_end, child_end) = sync::pair()?;
        if let Some(pid_ns) = &ns.join_pid {
            // Affects only the children of this (single-threaded) process.
            rustix::thread::move_into_link_name_space(
                pid_ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::ProcessID),
            )
            .map_err(|e| Error::system(format!("join the pid namespace: {e}")))?;
        }

        let placement = cgroup.placement()?;
        let (forked, placed) = super::clone_into(&placement, ns.clone_flags)
            .map_err(|e| Error::system(format!("clone the container init: {e}")))?;
        let pid = match forked {
            sys::Forked::Child => {
                drop(parent_end);
                init::container_init(InitConfig {
                    stdio: &opts.stdio,
                    log: opts.log.as_ref(),
                    cgroup: placed.then_some(&placement),
                    preserve_fds: opts.preserve_fds,
                    spec: &spec,
                    bundle: &bundle,
                    rootfs: &rootfs,
                    channel: child_end,
                    state_dir,
                    console,
                    join: ns.join,
                    new_userns: ns.new_user,
                    new_cgroupns: ns.new_cgroup,
                    new_ipcns_as_root: ns.new_ipc_as_root,
                    new_timens: ns.new_time,
                    new_netns: ns.new_net,
                    seccomp_program: seccomp_program.as_deref(),
                    no_pivot: opts.no_pivot,
                    mount_ns: ns.mount,
                    cgroup_binds,
                    die_with_parent: opts.die_with_parent,
                })
            }
            sys::Forked::Parent(pid) => pid,
        };
        drop(child_end);
        guard.pid = Some(pid);

        if ns.new_user {
            write_id_maps(pid, &spec)?;
        }
        let state = State {
            id: id.to_string(),
            pid,
            pid_start: process_start_time(pid).unwrap_or(0),
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            created: now_rfc3339(),
            owner: String::new(),
            cgroup_path: cgroup.path().to_string(),
            annotations: spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            own_pid_namespace: ns.new_pid,
            oci_version: spec.version().clone(),
        };
        state.save(&self.root)?;
        let mut hook_state = state.to_oci_json(&self.root);
        hook_state["status"] = "creating".into();
        // The child prepares its rootfs while this process places it in its
        // cgroups (slow on some v1 hierarchies) and runs the hooks; it waits
        // for Continue before the createContainer hooks (runc's order).
        // A failure the init reported arrives through either send.
        let from_init = |e: Error| {
            if e.init.is_some() {
                e.context("container init")
            } else {
                e
            }
        };
        parent_end
            .send(&Msg::Go {
                state: hook_state.to_string(),
            })
            .map_err(from_init)?;
        let hooks_first = spec
            .hooks()
            .as_ref()
            .is_some_and(|h| h.prestart().is_some() || h.create_runtime().is_some());
        if !placed || hooks_first {
            // The slow, synchronous way: without clone3, or when the hooks
            // below must find the init in its cgroup (the init's own
            // placement runs concurrently with this process).
            cgroup.add_pid(pid)?;
        }
        if let Some(adj) = process.oom_score_adj() {
            let path = PathBuf::from(format!("/proc/{pid}/oom_score_adj"));
            std::fs::write(&path, adj.to_string()).ctx("write", &path)?;
        }
        if let Some(h) = spec.hooks() {
            if let Some(prestart) = h.prestart() {
                hooks::run("prestart", prestart, &hook_state)?;
            }
            if let Some(create_runtime) = h.create_runtime() {
                hooks::run("createRuntime", create_runtime, &hook_state)?;
            }
        }
        parent_end.send(&Msg::Continue).map_err(from_init)?;
        parent_end
            .expect(Msg::Ready)
            .map_err(|e| e.context("container init"))?;
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        guard.armed = false;
        Ok(state)
    }
}

/// The spec beside the state (exec joins with its profile and namespaces),
/// readable by root alone: it holds the container's environment.
fn save_spec(spec: &Spec, path: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_vec(spec)
        .map_err(|e| Error::system(format!("encode {}: {e}", path.display())))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(&text))
        .ctx("save config", path)
}

/// Undoes a failed create: kills the init, removes its cgroup and state.
struct Cleanup {
    dir: PathBuf,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all(libc::SIGKILL);
            let _ = cg.remove();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The namespaces a spec asks for: new ones become clone flags, those with a
/// path are opened to be joined.
struct Namespaces {
    clone_flags: i32,
    join: Vec<Join>,
    join_pid: Option<OwnedFd>,
    new_user: bool,
    new_pid: bool,
    new_cgroup: bool,
    new_net: bool,
    /// A new IPC namespace the init unshares itself (see InitConfig).
    new_ipc_as_root: bool,
    new_time: bool,
    /// A mount namespace, new or joined.
    mount: bool,
}

impl Namespaces {
    fn from_spec(spec: &Spec) -> Result<Namespaces> {
        let mut ns = Namespaces {
            clone_flags: 0,
            join: Vec::new(),
            join_pid: None,
            new_user: false,
            new_pid: false,
            new_cgroup: false,
            new_net: false,
            new_ipc_as_root: false,
            new_time: false,
            mount: false,
        };
        let list = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        ns.mount = list.iter().any(|n| n.typ() == LinuxNamespaceType::Mount);
        if !ns.mount {
            // runc's rule: masking needs a mount namespace of its own.
            let linux = spec.linux().as_ref();
            let restricts = linux.is_some_and(|l| {
                l.masked_paths().as_ref().is_some_and(|p| !p.is_empty())
                    || l.readonly_paths().as_ref().is_some_and(|p| !p.is_empty())
            });
            if restricts {
                return Err(Error::invalid(
                    "unable to restrict sys entries without a private MNT namespace",
                ));
            }
        }
        for n in &list {
            match n.path() {
                Some(path) => {
                    let fd =
                        rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                            .map_err(|e| {
                                Error::invalid(format!(
                                    "open {:?} namespace {}: {e}",
                                    n.typ(),
                                    path.display()
                                ))
                            })?;
                    if n.typ() == LinuxNamespaceType::Pid {
                        ns.join_pid = Some(fd);
                    } else {
                        ns.join.push(Join { kind: n.typ(), fd });
                    }
                }
                None => {
                    let flag = match n.typ() {
                        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
                        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
                        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
                        LinuxNamespaceType::Network => {
                            ns.new_net = true;
                            libc::CLONE_NEWNET
                        }
                        LinuxNamespaceType::Pid => {
                            ns.new_pid = true;
                            libc::CLONE_NEWPID
                        }
                        LinuxNamespaceType::User => {
                            ns.new_user = true;
                            libc::CLONE_NEWUSER
                        }
                        // Unshared by the init, which writes the offsets
                        // before anything enters it (see init::timens).
                        LinuxNamespaceType::Time => {
                            ns.new_time = true;
                            0
                        }
                        // Unshared by the init once it is in its cgroup, so
                        // the namespace's root is the container's cgroup.
                        LinuxNamespaceType::Cgroup => {
                            ns.new_cgroup = true;
                            0
                        }
                    };
                    ns.clone_flags |= flag;
                }
            }
        }
        let offsets = spec
            .linux()
            .as_ref()
            .and_then(|l| l.time_offsets().as_ref())
            .is_some_and(|o| !o.is_empty());
        if offsets && !ns.new_time {
            return Err(Error::invalid(
                "linux.timeOffsets need a new time namespace (linux.namespaces has no \"time\" without a path)",
            ));
        }
        if ns.new_user && ns.clone_flags & libc::CLONE_NEWIPC != 0 {
            ns.clone_flags &= !libc::CLONE_NEWIPC;
            ns.new_ipc_as_root = true;
        }
        Ok(ns)
    }
}

fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let render = |maps: Option<&Vec<LinuxIdMapping>>| {
        maps.map(|m| {
            m.iter()
                .map(|x| format!("{} {} {}\n", x.container_id(), x.host_id(), x.size()))
                .collect::<String>()
        })
        .unwrap_or_default()
    };
    let uid = render(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = render(linux.and_then(|l| l.gid_mappings().as_ref()));
    if uid.is_empty() || gid.is_empty() {
        return Err(Error::invalid(
            "config.json: a new user namespace needs uidMappings and gidMappings",
        ));
    }
    for (file, data) in [("uid_map", uid), ("gid_map", gid)] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, data).ctx("write", &path)?;
    }
    Ok(())
}

/// v1 hosts: what a `cgroup` mount shows in the container (each hierarchy's
/// directory of this container). Empty on v2, where cgroup2 is mounted.
fn cgroup_binds(h: &Hierarchy, path: &str) -> Vec<(String, PathBuf)> {
    match h {
        Hierarchy::V2 { .. } => Vec::new(),
        Hierarchy::V1 { mounts, .. } => {
            let mut seen = std::collections::BTreeMap::new();
            for mount in mounts.values() {
                if let Some(name) = mount.file_name().and_then(|n| n.to_str()) {
                    seen.entry(name.to_string())
                        .or_insert_with(|| mount.join(path.trim_start_matches('/')));
                }
            }
            seen.into_iter().collect()
        }
    }
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string()).ctx("write pid file", &tmp)?;
    std::fs::rename(&tmp, path).ctx("write pid file", path)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Device rules every container gets after the spec's own (as runc does):
/// the nodes the runtime creates must be usable, ptys must work, and mknod
/// of any node is allowed (using it is what the rules decide).
fn with_default_devices(
    mut resources: oci_spec::runtime::LinuxResources,
) -> oci_spec::runtime::LinuxResources {
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};
    let Some(rules) = resources.devices().clone() else {
        return resources;
    };
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(typ)
            .access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().ok()
    };
    let c = LinuxDeviceType::C;
    let defaults = [
        rule(c, None, None, "m"),
        rule(LinuxDeviceType::B, None, None, "m"),
        rule(c, Some(1), Some(3), "rwm"),
        rule(c, Some(1), Some(5), "rwm"),
        rule(c, Some(1), Some(7), "rwm"),
        rule(c, Some(1), Some(8), "rwm"),
        rule(c, Some(1), Some(9), "rwm"),
        rule(c, Some(5), Some(0), "rwm"),
        rule(c, Some(5), Some(2), "rwm"),
        rule(c, Some(136), None, "rwm"),
    ];
    let mut all = rules;
    all.extend(defaults.into_iter().flatten());
    resources.set_devices(Some(all));
    resources
}
