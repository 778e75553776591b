//! Names on user networks: one resolver process per network (`berth __dns
//! NETWORK-ID`), as aardvark-dns is for podman, since berth has no daemon to
//! hold Docker's embedded one. It listens on the network's gateway, port
//! 53, UDP and TCP (the containers' only nameserver, see files.rs), is started by the
//! first container that joins and ends once no container has been on
//! the network for two seconds (or the network is removed). It answers
//! from the store: a container asking for a name gets the address of the
//! container of that name, alias or short ID on a
//! network the two share; every other name goes to the asker's upstream
//! servers (`--dns`, else the host's), as it came.
//!
//! One resolver per network: it holds `<run-root>/dns/<id>.lock`. A start
//! takes its lease first and then looks at the lock; a resolver about to
//! end lets go of the lock first and then looks at the leases, so one of
//! the two always sees the other.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use berth_net::dns::{self, Answer};
use rustix::fs::{FlockOperation, Mode, OFlags};

use super::default_bridge;
use super::leases;
use super::record::{self, NetworkRow};
use crate::containers::{files, record as containers};
use crate::error::{Error, IoContext, Result};
use crate::{Engine, EngineOptions};

/// Whether the network has a resolver: user networks do; the default
/// bridge, as Docker's, does not.
pub(crate) fn serves(network: &NetworkRow) -> bool {
    network.name != default_bridge::NAME
}

fn lock_path(engine: &Engine, network_id: &str) -> PathBuf {
    engine
        .run_root
        .join("dns")
        .join(format!("{network_id}.lock"))
}

fn open_lock(engine: &Engine, network_id: &str) -> Result<OwnedFd> {
    let path = lock_path(engine, network_id);
    if let Some(dir) = path.parent() {
        crate::store::perms::create_private_dir(dir)?;
    }
    rustix::fs::open(
        &path,
        OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(std::io::Error::from)
    .ctx("open", &path)
}

/// Taken (true) or held by another process (false).
fn try_lock(fd: &OwnedFd) -> bool {
    rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Starts the network's resolver unless one runs, and waits until it
/// listens (so the container's first query is answered).
pub(crate) fn ensure_running(engine: &Engine, network: &NetworkRow) -> Result<()> {
    let fd = open_lock(engine, &network.id)?;
    if !try_lock(&fd) {
        return Ok(());
    }
    drop(fd);
    let binary = engine
        .binary
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let mut child = Command::new(&binary);
    // (Named as a user would: in the monitor, the binary is a sealed copy.)
    std::os::unix::process::CommandExt::arg0(&mut child, "berth");
    let mut child = child
        .arg("--root")
        .arg(&engine.paths.root)
        .arg("--run-root")
        .arg(&engine.run_root)
        .arg("__dns")
        .arg(&network.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::internal(format!("start network {}'s resolver: {e}", network.name)))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
    }
    // It goes on alone (its own session); reaped by whoever adopts it.
    std::mem::forget(child);
    match line.trim() {
        "ready" => Ok(()),
        "" => Err(Error::internal(format!(
            "network {}'s resolver ended before it listened",
            network.name
        ))),
        message => Err(Error::internal(format!(
            "network {}'s resolver: {message}",
            network.name
        ))),
    }
}

/// The resolver's listening sockets on the gateway: UDP and TCP.
type Sockets = (UdpSocket, std::net::TcpListener);

/// `berth __dns NETWORK-ID`: the resolver. Its stdout says "ready" (or
/// why not) once, then is closed. Returns its exit code.
pub fn run(options: &EngineOptions, network_id: &str) -> i32 {
    use std::io::Write;
    let mut status = std::io::stdout();
    let say = |status: &mut std::io::Stdout, line: &str| {
        let _ = writeln!(status, "{line}");
        let _ = status.flush();
    };
    rustix::process::setsid().ok();
    let engine = match Engine::open(options) {
        Ok(e) => e,
        Err(e) => {
            say(&mut status, &e.to_string());
            return 1;
        }
    };
    let result = (|| -> Result<Option<(OwnedFd, Sockets, NetworkRow)>> {
        let lock = open_lock(&engine, network_id)?;
        if !try_lock(&lock) {
            // Another resolver serves the network.
            return Ok(None);
        }
        let network = engine
            .db
            .read(|c| record::by_id(c, network_id))?
            .ok_or_else(|| Error::not_found(format!("network {network_id} not found")))?;
        let gateway: Ipv4Addr = network
            .gateway
            .parse()
            .map_err(|_| Error::internal(format!("network {}: gateway", network.name)))?;
        let socket = UdpSocket::bind((gateway, 53))
            .map_err(|e| Error::internal(format!("listen on {gateway}:53/udp: {e}")))?;
        let tcp = std::net::TcpListener::bind((gateway, 53))
            .map_err(|e| Error::internal(format!("listen on {gateway}:53/tcp: {e}")))?;
        Ok(Some((lock, (socket, tcp), network)))
    })();
    let (lock, (socket, tcp), network) = match result {
        Ok(Some(v)) => v,
        Ok(None) => {
            say(&mut status, "ready");
            return 0;
        }
        Err(e) => {
            say(&mut status, &e.to_string());
            return 1;
        }
    };
    say(&mut status, "ready");
    if let Ok(null) = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
    let lookup = |querier: Ipv4Addr, name: &str| answer(&engine, &network, querier, name);
    let mut lock = Some(lock);
    let mut empty_since: Option<std::time::Instant> = None;
    let mut keep_going = || {
        if on_network(&engine, &network.id) {
            empty_since = None;
            if lock.is_none() {
                // Started again meanwhile? Then that one serves.
                match open_lock(&engine, &network.id) {
                    Ok(fd) if try_lock(&fd) => lock = Some(fd),
                    _ => return false,
                }
            }
            return true;
        }
        // A short grace: scripts that run one container after another on
        // a network would otherwise start a resolver for each.
        let since = *empty_since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() < GRACE && network_exists(&engine, &network.id) {
            return true;
        }
        // Let go first, then look again (see the module's comment).
        lock = None;
        if on_network(&engine, &network.id) {
            match open_lock(&engine, &network.id) {
                Ok(fd) if try_lock(&fd) => {
                    lock = Some(fd);
                    return true;
                }
                _ => return false,
            }
        }
        false
    };
    match dns::serve(&socket, &tcp, &lookup, &mut keep_going) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// How long a resolver outlives its network's last container.
const GRACE: std::time::Duration = std::time::Duration::from_secs(2);

fn network_exists(engine: &Engine, network_id: &str) -> bool {
    engine
        .db
        .read(|c| Ok(record::by_id(c, network_id)?.is_some()))
        .unwrap_or(false)
}

/// Whether the network still exists and a container is on it.
fn on_network(engine: &Engine, network_id: &str) -> bool {
    engine
        .db
        .read(|c| {
            Ok(record::by_id(c, network_id)?.is_some()
                && !leases::of_network(c, network_id)?.is_empty())
        })
        .unwrap_or(false)
}

/// A name asked for by the container at `querier` on `network`.
fn answer(engine: &Engine, network: &NetworkRow, querier: Ipv4Addr, name: &str) -> Answer {
    let found = engine.db.read(|c| {
        let here = leases::of_network(c, &network.id)?;
        let asker = here
            .iter()
            .find(|l| l.ip == querier)
            .map(|l| l.container_id.clone());
        // The networks the asker is on (this one, if it is no container).
        let shared: Vec<String> = match &asker {
            Some(id) => leases::of_container(c, id)?
                .into_iter()
                .map(|l| l.network_id)
                .collect(),
            None => vec![network.id.clone()],
        };
        let mut addrs = Vec::new();
        // This network's answer first, then the other shared ones'.
        let mut order = vec![network.id.clone()];
        order.extend(shared.iter().filter(|n| **n != network.id).cloned());
        for net_id in order.iter().filter(|n| shared.contains(n)) {
            let Some(net) = record::by_id(c, net_id)? else {
                continue;
            };
            for lease in leases::of_network(c, net_id)? {
                let Some(row) = containers::get(c, &lease.container_id)? else {
                    continue;
                };
                let aliases = row
                    .config
                    .networks
                    .get(&net.name)
                    .map(|e| e.aliases.clone())
                    .unwrap_or_default();
                let named = row.name.eq_ignore_ascii_case(name)
                    || (name.len() == 12 && row.id.starts_with(name))
                    || aliases.iter().any(|a| a.eq_ignore_ascii_case(name));
                if named && !addrs.contains(&lease.ip) {
                    addrs.push(lease.ip);
                }
            }
            if !addrs.is_empty() {
                break;
            }
        }
        Ok((addrs, asker))
    });
    let (addrs, asker) = found.unwrap_or_default();
    if !addrs.is_empty() {
        return Answer::Local(addrs);
    }
    Answer::Forward(upstreams(engine, asker.as_deref()))
}

/// The asker's upstream servers (its resolv.conf's `ExtServers`), else the
/// host's: this process runs on the host, so its loopback ones work too.
fn upstreams(engine: &Engine, container: Option<&str>) -> Vec<SocketAddr> {
    let mut servers = container
        .and_then(|id| {
            std::fs::read_to_string(engine.paths.container_dir(id).join("resolv.conf")).ok()
        })
        .map(|r| files::upstream_servers(&r))
        .unwrap_or_default();
    if servers.is_empty() {
        servers = std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver"))
            .map(|s| s.trim().to_string())
            .collect();
    }
    servers
        .iter()
        .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}
