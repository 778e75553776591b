//! A container on a network, at each start: its address is leased before
//! the runtime creates it (so /etc/hosts names it), then, between create
//! and start, a veth pair joins the container's network namespace to the
//! network's bridge: `eth0` inside with the address, the MAC derived from
//! it and a default route through the gateway. The pair goes with the
//! namespace when the container's init exits; the lease with the exit's
//! record.

use std::net::Ipv4Addr;
use std::path::Path;

use berth_net::{NetNs, Rtnl, addr, link, route};

use super::default_bridge;
use super::kernel::net_error;
use super::leases::{self, Lease};
use super::record::{self, NetworkRow};
use super::subnet::Subnet;
use crate::Engine;
use crate::containers::record::ContainerRow;
use crate::error::{Error, Result};

/// Leases the container an address on its network (none for none/host).
pub(crate) fn lease_for_start(
    engine: &Engine,
    row: &ContainerRow,
) -> Result<Option<(NetworkRow, Lease)>> {
    let mode = row.config.host.network_mode.as_str();
    if matches!(mode, "" | "none" | "host") || mode.starts_with("container:") {
        return Ok(None);
    }
    let network = if mode == default_bridge::NAME {
        Some(default_bridge::ensure(engine)?)
    } else {
        engine.db.read(|c| record::by_name(c, mode))?
    };
    let Some(network) = network else {
        return Err(Error::not_found(format!("network {mode} not found")));
    };
    default_bridge::ensure_up(engine, &network)?;
    // Looked up again in the transaction that leases: a network removed
    // since is an error, never a start without it.
    let found = engine.db.write(|c| {
        let Some(network) = record::by_name(c, mode)? else {
            return Ok(None);
        };
        // A lease a crashed start left behind is this container's own.
        leases::release(c, &row.id)?;
        let lease = leases::allocate(c, &network, &row.id)?;
        Ok(Some((network, lease)))
    })?;
    match found {
        Some(v) => Ok(Some(v)),
        None => Err(Error::not_found(format!("network {mode} not found"))),
    }
}

/// /etc/hosts with the container's own address, as Docker writes it.
pub(crate) fn write_hosts(dir: &Path, hostname: &str, ip: Ipv4Addr) -> Result<()> {
    let path = dir.join("hosts");
    let mut hosts = std::fs::read_to_string(&path).unwrap_or_default();
    let line = format!("{ip}\t{hostname}\n");
    if !hosts.contains(&line) {
        // Earlier starts' addresses go: a restart may get another one.
        hosts = hosts
            .lines()
            .filter(|l| !l.ends_with(&format!("\t{hostname}")))
            .map(|l| format!("{l}\n"))
            .collect();
        hosts.push_str(&line);
        crate::store::perms::write_file(&path, hosts.as_bytes(), crate::store::perms::SHARED_FILE)?;
    }
    Ok(())
}

/// What a started container holds on its network: the host end of its
/// veth pair and the sockets that hold its published ports.
#[derive(Debug, Default)]
pub(crate) struct Joined {
    pub veth: Option<String>,
    pub ports: Vec<std::os::fd::OwnedFd>,
}

impl Joined {
    /// After the container's exit is recorded (which released the rows):
    /// its veth pair, its ports and their rules go.
    pub(crate) fn leave(&mut self, engine: &Engine) {
        if let Some(veth) = self.veth.take() {
            disconnect(&veth);
        }
        if !self.ports.is_empty() {
            self.ports.clear();
            if let Ok(_lock) = engine.networks_lock() {
                let _ = engine.apply_rules();
            }
        }
    }
}

/// Removes the host end of a container's veth pair (the other end goes
/// with it), at once: the kernel would do it when the namespace dies, but
/// later, on a work queue, and `rm` must leave nothing behind.
pub(crate) fn disconnect(host_end: &str) {
    if let Ok(mut rtnl) = Rtnl::open()
        && let Ok(Some(index)) = link::index_of(&mut rtnl, host_end)
    {
        let _ = link::delete(&mut rtnl, index);
    }
}

/// Joins the created container (its init is `pid`) to the network;
/// returns the host end's name.
pub(crate) fn connect(network: &NetworkRow, lease: &Lease, pid: i32) -> Result<String> {
    let subnet = Subnet::parse(&network.subnet)?;
    let gateway: Ipv4Addr = network.gateway.parse().map_err(|_| {
        Error::internal(format!(
            "network {}: gateway {:?}",
            network.name, network.gateway
        ))
    })?;
    let ns_path = format!("/proc/{pid}/ns/net");
    let container_ns = NetNs::open(Path::new(&ns_path)).map_err(net_error)?;
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    let bridge = link::index_of(&mut rtnl, &network.bridge)
        .map_err(net_error)?
        .ok_or_else(|| {
            Error::not_found(format!(
                "network {}: its bridge {} is gone (remove and create the network again)",
                network.name, network.bridge
            ))
        })?;
    // Docker's names: veth and 7 hex digits; random, since a restarted
    // container's old pair may still be going away with its namespace.
    let host_end = format!("veth{}", &crate::containers::names::new_id()?[..7]);
    let mac = leases::mac_for(lease.ip);
    let index = link::create_veth(&mut rtnl, &host_end, "eth0", &container_ns, Some(mac))
        .map_err(net_error)?;
    let joined = inside(
        &mut rtnl,
        index,
        bridge,
        &container_ns,
        lease,
        subnet.prefix,
        gateway,
        network.internal,
    );
    if joined.is_err() {
        disconnect(&host_end);
    }
    joined.map(|()| host_end)
}

#[allow(clippy::too_many_arguments)]
fn inside(
    rtnl: &mut Rtnl,
    index: u32,
    bridge: u32,
    container_ns: &NetNs,
    lease: &Lease,
    prefix: u8,
    gateway: Ipv4Addr,
    internal: bool,
) -> Result<()> {
    link::set_controller(rtnl, index, bridge).map_err(net_error)?;
    link::set_up(rtnl, index).map_err(net_error)?;
    // Inside: this thread only, and back (the monitor stays one thread).
    let _inside = container_ns.enter().map_err(net_error)?;
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    let eth0 = link::index_of(&mut rtnl, "eth0")
        .map_err(net_error)?
        .ok_or_else(|| Error::internal("eth0 vanished from the container's namespace"))?;
    addr::add(&mut rtnl, eth0, lease.ip.into(), prefix).map_err(net_error)?;
    link::set_up(&mut rtnl, eth0).map_err(net_error)?;
    if !internal {
        route::add_default_v4(&mut rtnl, gateway).map_err(net_error)?;
    }
    Ok(())
}
