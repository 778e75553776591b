//! `berth daemon`: the Docker Engine API (berth-api) on unix sockets (and
//! TCP with TLS client verification), in
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

/// One `-H`.
#[derive(Debug, PartialEq)]
enum Host {
    Unix(PathBuf),
    /// `host:port` as given (resolved when bound).
    Tcp(String),
}

/// How often the daemon looks for containers whose monitor died.
const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Every how many looks it also cleans up after crashed berth processes.
const SWEEP_EVERY: u64 = 15;

/// Docker's port for the API over TLS.
const TLS_PORT: u16 = 2376;

/// The listeners of `-H` (default unix://RUN_ROOT/berth.sock).
fn hosts(given: &[String], run_root: &Path) -> Result<Vec<Host>> {
    if given.is_empty() {
        return Ok(vec![Host::Unix(run_root.join("berth.sock"))]);
    }
    given.iter().map(|one| parse_host(one)).collect()
}

fn parse_host(one: &str) -> Result<Host> {
    if let Some(path) = one.strip_prefix("unix://") {
        if !path.starts_with('/') {
            bail!("invalid -H {one:?}: the socket path must be absolute");
        }
        return Ok(Host::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = one.strip_prefix("tcp://") {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("invalid -H {one:?}: a TCP address takes no path");
        }
        // Docker's defaults: an empty host is 127.0.0.1, no port is 2376.
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && (!h.contains(':') || h.ends_with(']')) => {
                let port: u16 = p
                    .parse()
                    .map_err(|_| anyhow!("invalid -H {one:?}: bad port {p:?}"))?;
                (h, port)
            }
            _ => (rest, TLS_PORT),
        };
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        return Ok(Host::Tcp(format!("{host}:{port}")));
    }
    if one.starts_with("fd://") {
        bail!("-H {one}: socket activation (fd://) is not supported; give unix:///path");
    }
    bail!("invalid -H {one:?}: expected unix:///path or tcp://host:port")
}

/// The TLS files of `--tlscacert/--tlscert/--tlskey`, defaulting as
/// dockerd does to ca.pem, cert.pem and key.pem in $DOCKER_CERT_PATH or
/// ~/.docker.
fn tls_files(a: &DaemonArgs) -> berth_api::TlsFiles {
    let dir = std::env::var_os("DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    berth_api::TlsFiles {
        ca: a.tlscacert.clone().unwrap_or_else(|| dir.join("ca.pem")),
        cert: a.tlscert.clone().unwrap_or_else(|| dir.join("cert.pem")),
        key: a.tlskey.clone().unwrap_or_else(|| dir.join("key.pem")),
    }
}

/// Binds a TCP listener; only ever with client verification (the API is
/// root on this host to whoever reaches it).
fn bind_tcp(addr: &str, a: &DaemonArgs) -> Result<berth_api::Listener> {
    if !a.tlsverify {
        bail!(
            "-H tcp://{addr}: berth daemon serves TCP only with client certificates; \
             add --tlsverify --tlscacert CA.pem --tlscert CERT.pem --tlskey KEY.pem{}",
            if a.tls {
                " (--tls alone lets any client in)"
            } else {
                ""
            }
        );
    }
    let acceptor = berth_api::tls_acceptor(&tls_files(a))?;
    let resolved: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .with_context(|| format!("-H tcp://{addr}: resolve"))?
        .collect();
    let first = *resolved
        .first()
        .ok_or_else(|| anyhow!("-H tcp://{addr}: resolves to no address"))?;
    let std_listener =
        std::net::TcpListener::bind(first).with_context(|| format!("listen on tcp://{addr}"))?;
    std_listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(std_listener)
        .with_context(|| format!("listen on tcp://{addr}"))?;
    Ok(berth_api::Listener::Tls(listener, acceptor))
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
fn bind_unix(path: &Path, group: Option<u32>) -> Result<berth_api::Listener> {
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
    Ok(berth_api::Listener::Unix(listener))
}

pub fn run(options: &EngineOptions, a: DaemonArgs) -> Result<u8> {
    let hosts = hosts(&a.host, &options.run_root)?;
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
    let daemon = berth_api::Daemon::new(engine.clone(), env!("CARGO_PKG_VERSION"));
    runtime.block_on(async {
        // Every listener is bound before any serves: a bad -H or TLS file
        // fails the start and leaves no socket behind.
        let mut listeners = Vec::new();
        let mut sockets = Vec::new();
        let mut bound = || -> Result<()> {
            for host in &hosts {
                match host {
                    Host::Unix(path) => {
                        listeners.push((
                            bind_unix(path, group)?,
                            format!("unix://{}", path.display()),
                        ));
                        sockets.push(path.clone());
                    }
                    Host::Tcp(addr) => listeners.push((
                        bind_tcp(addr, &a)?,
                        format!("tcp://{addr} (TLS, client certificates verified)"),
                    )),
                }
            }
            Ok(())
        };
        if let Err(e) = bound() {
            for path in &sockets {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        let mut servers = tokio::task::JoinSet::new();
        // Containers whose monitor died are noticed (exit recorded, restart
        // policy applied, `--rm` removed) by whoever looks first; the
        // daemon looks every 2 s. What a crashed CLI process left (a
        // killed commit's freeze, a dead pull's lease) is cleaned by the
        // next process to open the store; a daemon opens it once, so it
        // sweeps every 30 s.
        let watcher = engine.clone();
        servers.spawn(async move {
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            let mut ticks: u64 = 0;
            loop {
                tick.tick().await;
                ticks += 1;
                let engine = watcher.clone();
                let sweep = ticks.is_multiple_of(SWEEP_EVERY);
                let done = tokio::task::spawn_blocking(move || {
                    engine.containers()?;
                    if sweep {
                        engine.sweep()?;
                    }
                    Ok::<_, berth_engine::Error>(())
                })
                .await;
                match done {
                    Ok(Err(e)) => eprintln!("berth daemon: watch: {e}"),
                    Err(e) => eprintln!("berth daemon: watch: {e}"),
                    Ok(Ok(())) => {}
                }
            }
        });
        for (listener, name) in listeners {
            eprintln!("berth daemon: API listening on {name}");
            servers.spawn(berth_api::serve(
                listener,
                daemon.clone(),
                berth_api::ServeOptions::default(),
            ));
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        tokio::select! {
            _ = servers.join_next() => {}
            _ = term.recv() => eprintln!("berth daemon: terminated; containers keep running"),
            _ = int.recv() => eprintln!("berth daemon: interrupted; containers keep running"),
        }
        for path in &sockets {
            let _ = std::fs::remove_file(path);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    // Connections still streaming (logs -f, events) are not waited for.
    runtime.shutdown_background();
    Ok(0)
}
