//! The per-container monitor: a detached `berth __monitor ID` process that
//! owns one running container, and the only process that forks or enters
//! it.
//!
//! Its constraints, and why: it is **single-threaded** (it clones the
//! container's init, on every restart, and every exec'd process, and a
//! multi-threaded process must not clone itself); it is **small** (one per
//! running container: a poll loop, no async runtime, its set-up pages
//! dropped once the container runs); it is **long-lived** (it outlives the
//! CLI or daemon that started it, and upgrades of the berth binary: its
//! control protocol is versioned, see `protocol.rs`); and it runs from a
//! **sealed** read-only view of the binary, so no process it clones into a
//! container can reach berth's binary on the host.
//!
//! It mounts the container's root in a mount namespace of its own (so no
//! mount outlives it), builds the container's spec from the store and
//! creates and starts it through berth-runtime at every start (the init is
//! its child), relays stdio between the container, the json-file log and
//! attached clients, starts and supervises execs, reaps, records exits in
//! the database, restarts per policy, and removes the container for `--rm`.
//! It reports progress to the process that started it on its stdout, then
//! lives on without it.

mod exec;
mod health;
pub(crate) mod log;
pub(crate) mod protocol;
mod relay;
mod setup;
mod spawn;

use crate::networks::attach::Joined;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::Duration;

pub use spawn::{MonitorHandle, MonitorStatus, start_error as spawn_start_error};

use crate::containers::exec_record;
use crate::containers::record::{self, Exit, State};
use crate::error::{Error, Result};
use crate::events;
use crate::store::event_log;
use crate::{Engine, EngineOptions};

/// The monitor's runtime directory: its control socket.
pub fn monitor_dir(run_root: &std::path::Path, id: &str) -> PathBuf {
    run_root.join("monitor").join(id)
}

/// `berth __monitor ID [--wait-attach]`; returns the process exit code.
/// The caller must be single-threaded and already sealed (see
/// `berth_runtime::sealed`).
pub fn run(options: &EngineOptions, id: &str, wait_attach: bool) -> i32 {
    // Our stdout is the status pipe to the starter: keep it on a higher fd
    // and make 0-2 /dev/null, so nothing of the starter's stays with us.
    let mut status = match rustix::io::fcntl_dupfd_cloexec(std::io::stdout().as_fd(), 3) {
        Ok(fd) => File::from(fd),
        Err(_) => return 1,
    };
    if let Ok(null) = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
    rustix::process::setsid().ok();
    // What the monitor creates (a working directory, a volume's copy-up)
    // gets the usual modes, whatever umask its starter had.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let report = |status: &mut File, e: &Error| {
        let _ = status.write_all(spawn::failure_line(e).as_bytes());
    };
    let engine = match Engine::open(options) {
        Ok(e) => e,
        Err(e) => {
            report(&mut status, &e);
            return 1;
        }
    };
    match supervise(&engine, id, wait_attach, &mut status) {
        Ok(()) => 0,
        Err(e) => {
            report(&mut status, &e);
            1
        }
    }
}

/// How a start that failed is recorded: Docker's exit code for it.
fn start_failure(e: &Error) -> Exit {
    Exit {
        code: e.kind.run_exit_code() as i32,
        error: e.message.clone(),
        ..Exit::default()
    }
}

fn supervise(engine: &Engine, id: &str, wait_attach: bool, status: &mut File) -> Result<()> {
    let row = engine.db.write_relaxed(|c| {
        let row = record::get(c, id)?.ok_or_else(|| record::no_such_container(id))?;
        let owned = row.state.is_live() && row.owner.is_alive();
        if owned || !matches!(row.state, State::Created | State::Exited) {
            return Err(Error::conflict(format!(
                "container {} is {}",
                &id[..12.min(id.len())],
                row.state.docker_status()
            )));
        }
        record::claim_for_start(c, id, engine.owner)?;
        Ok(row)
    })?;
    let previous = row.state;
    let dir = monitor_dir(&engine.run_root, id);
    if engine.runtime(&row).is_external() {
        // An external runtime's `create` and `exec` exit once the process
        // runs; it must then be ours to wait for (see runtimes/external.rs).
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(|e| Error::internal(format!("become the child subreaper: {e}")))?;
    }
    let prepared = setup::prepare(engine, &row, &dir).inspect_err(|e| {
        let _ = engine
            .db
            .write_relaxed(|c| record::set_start_failed(c, id, previous, &start_failure(e)));
    })?;

    let mut relay = relay::Relay::new(engine, &row, prepared.control, prepared.rootfs.clone())?;
    let mut first = true;
    let mut restarts = row.restart_count;
    loop {
        // The row as it is now: `update` may have changed its resources.
        let current = engine
            .db
            .read(|c| record::get(c, id))?
            .ok_or_else(|| record::no_such_container(id))?;
        let started = start_on_network(engine, &current, &prepared.rootfs);
        let (pid, stdio, mut joined) = match started {
            Ok(v) => v,
            Err(e) => {
                let exit = start_failure(&e);
                engine.db.write_relaxed(|c| {
                    if first {
                        record::set_start_failed(c, id, previous, &exit)
                    } else {
                        record::set_exited(c, id, &exit)
                    }
                })?;
                setup::unmount(&prepared.rootfs);
                return Err(e);
            }
        };
        if first {
            let _ = status.write_all(format!("created {pid}\n").as_bytes());
            if wait_attach {
                relay.wait_first_client(status, Duration::from_secs(30))?;
            }
        }
        let runtime = engine.runtime(&current);
        if let Err(e) = runtime.start(id) {
            let _ = runtime.delete(id, true);
            engine
                .db
                .write(|c| record::set_start_failed(c, id, previous, &start_failure(&e)))?;
            joined.leave(engine);
            setup::unmount(&prepared.rootfs);
            return Err(e);
        }
        engine.db.write_relaxed(|c| {
            record::set_running(c, id, pid)?;
            event_log::record(c, &events::container_event(&current, "start"))
        })?;
        engine.events_changed();
        if first {
            let _ = status.write_all(format!("started {pid}\n").as_bytes());
            first = false;
        }
        relay.attach_init(pid, stdio, current.config.tty)?;
        relay.check_health(&current);
        // Set-up is done: only the relay runs until the container exits.
        berth_runtime::memory::release_clean_file_pages();
        let code = relay.run_until_exit()?;
        let oom_killed = runtime.stats(id).map(|s| s.oom_kills > 0).unwrap_or(false);
        let _ = runtime.delete(id, true);
        relay.finish_execs();
        let _ = engine.db.write_relaxed(|c| {
            exec_record::end_all(c, id)?;
            // As it is now (it may have been renamed meanwhile).
            let now = record::get(c, id)?.unwrap_or_else(|| current.clone());
            if oom_killed {
                event_log::record(c, &events::container_event(&now, "oom"))?;
            }
            event_log::record(
                c,
                &events::container_event(&now, "die").with("exitCode", code.to_string()),
            )
        });
        engine.events_changed();

        // The policy as it is now: `update --restart` reaches us here.
        let current = engine.db.read(|c| record::get(c, id))?;
        let stop_requested = current.as_ref().is_none_or(|r| r.stop_requested);
        let policy = current
            .as_ref()
            .map_or(&row.config.host.restart, |r| &r.config.host.restart);
        // Pairs `network connect` made are recorded only in the leases,
        // which the exit's record releases.
        joined.gather(engine, id);
        if policy.should_restart(code, restarts, stop_requested) {
            restarts += 1;
            engine
                .db
                .write_relaxed(|c| record::set_restarting(c, id, restarts, code))?;
            joined.leave(engine);
            // Docker's backoff: 100 ms doubling, at most a minute.
            let delay = 100u64 << restarts.clamp(0, 9);
            std::thread::sleep(Duration::from_millis(delay.min(60_000)));
            continue;
        }
        let exit = Exit {
            code,
            oom_killed,
            error: String::new(),
        };
        engine
            .db
            .write_relaxed(|c| record::set_exited(c, id, &exit))?;
        setup::unmount(&prepared.rootfs);
        if row.config.host.auto_remove {
            engine.remove_stopped(id, true)?;
        }
        relay.send_exit(code);
        // After the client has its exit code: removing a veth waits for the
        // kernel's RCU grace periods (tens of ms), which `run --rm` must
        // not. `rm` and `stop` wait for this process to end, so they still
        // find no veth left.
        joined.leave(engine);
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
}

/// Creates the container and, if it is on berth's networks, leases its
/// addresses first (so /etc/hosts names it), joins it to each network,
/// publishes its ports on the first and starts the networks' resolvers,
/// all before it starts. A failure deletes what the runtime made and what
/// was joined; the leases go with the failure's record.
fn start_on_network(
    engine: &Engine,
    row: &crate::containers::record::ContainerRow,
    rootfs: &std::path::Path,
) -> Result<(i32, setup::Stdio, Joined)> {
    use crate::networks::{attach, dns, leases, ports};
    let endpoints = attach::lease_for_start(engine, row)?;
    if !endpoints.is_empty() {
        attach::write_files(engine, row, endpoints.first())?;
    }
    let (pid, stdio) = setup::create(engine, row, rootfs)?;
    let mut joined = Joined::default();
    let mut join = || -> Result<()> {
        for (i, e) in endpoints.iter().enumerate() {
            let veth = attach::connect(&e.network, &e.lease, pid, &format!("eth{i}"), i == 0)
                .map_err(|err| err.context(format!("connect to network {}", e.network.name)))?;
            joined.veths.push(veth);
        }
        if let Some(first) = endpoints.first() {
            joined.ports = ports::publish(engine, row, &first.network, &first.lease)?;
            if !joined.ports.is_empty() {
                let _lock = engine.networks_lock()?;
                engine.apply_rules()?;
            }
        }
        for e in endpoints.iter().filter(|e| dns::serves(&e.network)) {
            dns::ensure_running(engine, &e.network)?;
        }
        Ok(())
    };
    match join() {
        Ok(()) => Ok((pid, stdio, joined)),
        Err(e) => {
            let _ = engine.runtime(row).delete(&row.id, true);
            let _ = engine.db.write(|c| leases::release(c, &row.id));
            joined.leave(engine);
            Err(e)
        }
    }
}

/// A unix socket path short enough for `sockaddr_un` (108 bytes): long
/// ones are reached through an O_PATH fd of their directory,
/// `/proc/self/fd/N/NAME`. Keep the fd as long as the path is used.
pub struct SocketPath {
    pub path: PathBuf,
    _dir: Option<std::os::fd::OwnedFd>,
}

impl SocketPath {
    pub fn new(dir: &std::path::Path, name: &str) -> Result<SocketPath> {
        let full = dir.join(name);
        if full.as_os_str().len() < 100 {
            return Ok(SocketPath {
                path: full,
                _dir: None,
            });
        }
        let fd = rustix::fs::open(
            dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::internal(format!("open {}: {e}", dir.display())))?;
        let path = PathBuf::from(format!(
            "/proc/self/fd/{}/{name}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ));
        Ok(SocketPath {
            path,
            _dir: Some(fd),
        })
    }
}

/// Binds a unix socket `name` in `dir`, replacing a stale one.
pub(crate) fn bind(dir: &std::path::Path, name: &str) -> Result<(UnixListener, SocketPath)> {
    let _ = std::fs::remove_file(dir.join(name));
    let path = SocketPath::new(dir, name)?;
    let listener = UnixListener::bind(&path.path)
        .map_err(|e| Error::internal(format!("bind {}: {e}", dir.join(name).display())))?;
    // root's alone, whatever the umask (the directory is too).
    crate::store::perms::set_mode(&dir.join(name), crate::store::perms::PRIVATE_FILE)?;
    Ok((listener, path))
}
