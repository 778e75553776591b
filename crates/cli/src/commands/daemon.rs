//! `berth daemon`: the Docker Engine API (berth-api) on a unix socket, in
//! the foreground, logging to stderr. The pid file is locked, never read:
//! a stale one from a crash is simply taken over. Containers are not the
//! daemon's children (each has its monitor), so stopping or killing the
//! daemon stops none of them.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use berth_engine::{Engine, EngineOptions};

use crate::cli::DaemonArgs;

/// The socket path of `-H`.
fn socket_path(hosts: &[String], run_root: &Path) -> Result<PathBuf> {
    match hosts {
        [] => Ok(run_root.join("berth.sock")),
        [one] => {
            if let Some(path) = one.strip_prefix("unix://") {
                if !path.starts_with('/') {
                    bail!("invalid -H {one:?}: the socket path must be absolute");
                }
                Ok(PathBuf::from(path))
            } else if one.starts_with("tcp://") || one.starts_with("fd://") {
                bail!(
                    "-H {one}: berth daemon listens on unix sockets only (TCP would need TLS client verification, which is not built yet)"
                )
            } else {
                bail!("invalid -H {one:?}: expected unix:///path")
            }
        }
        _ => bail!("berth daemon listens on one socket; give -H once"),
    }
}

/// Locks (and writes) the pid file; held until the process ends.
fn lock_pidfile(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("open pid file {}", path.display()))?;
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        let pid = std::fs::read_to_string(path).unwrap_or_default();
        bail!(
            "another berth daemon is running (pid {}, pid file {})",
            pid.trim(),
            path.display()
        );
    }
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

fn group_id(name: &str) -> Result<u32> {
    if let Ok(gid) = name.parse() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string("/etc/group").context("read /etc/group")?;
    groups
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name)).then(|| f.nth(1).and_then(|g| g.parse().ok()))?
        })
        .ok_or_else(|| anyhow!("--group {name}: no such group"))
}

/// Binds the socket: a leftover file of a dead daemon is replaced, a live
/// daemon's is not.
fn bind(path: &Path, group: Option<u32>) -> Result<tokio::net::UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("{} is in use by another daemon", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("remove stale socket {}", path.display()))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listen on {}", path.display()))?;
    // Root's and the group's alone (Docker's 0660 root:docker).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    if let Some(gid) = group {
        std::os::unix::fs::chown(path, None, Some(gid))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(listener)
}

pub fn run(options: &EngineOptions, a: DaemonArgs) -> Result<u8> {
    let path = socket_path(&a.host, &options.run_root)?;
    let group = a.group.as_deref().map(group_id).transpose()?;
    let _pidfile = a.pidfile.as_deref().map(lock_pidfile).transpose()?;
    let engine = Arc::new(Engine::open(options)?);
    if !a.no_restore {
        // What dockerd does at its start: containers whose policy says so run.
        for (row, result) in engine.restore_containers()? {
            match result {
                Ok(()) => eprintln!("berth daemon: restarted {} ({})", row.name, &row.id[..12]),
                Err(e) => eprintln!(
                    "berth daemon: restart {} ({}): {e}",
                    row.name,
                    &row.id[..12]
                ),
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("berth-api")
        .build()
        .context("start the daemon's runtime")?;
    let daemon = berth_api::Daemon::new(engine, env!("CARGO_PKG_VERSION"));
    runtime.block_on(async {
        let listener = bind(&path, group)?;
        eprintln!("berth daemon: API listening on unix://{}", path.display());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        tokio::select! {
            _ = berth_api::serve(listener, daemon, berth_api::ServeOptions::default()) => {}
            _ = term.recv() => eprintln!("berth daemon: terminated; containers keep running"),
            _ = int.recv() => eprintln!("berth daemon: interrupted; containers keep running"),
        }
        let _ = std::fs::remove_file(&path);
        Ok::<_, anyhow::Error>(())
    })?;
    // Connections still streaming (logs -f, events) are not waited for.
    runtime.shutdown_background();
    Ok(0)
}
