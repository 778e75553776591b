//! A container on its networks, at each start: its addresses are leased
//! before the runtime creates it (so /etc/hosts names it), then, between
//! create and start, a veth pair per network joins the container's network
//! namespace to the network's bridge: `eth0` (then `eth1`, …) inside with
//! the address, the MAC derived from it (or `--mac-address`), and through
//! the first network's gateway the default route. The pairs go at the exit
//! (and with the namespace anyway); the leases with the exit's record.
//! `network connect` joins a running container the same way (connect.rs).

use std::net::Ipv4Addr;
use std::path::Path;

use berth_net::{NetNs, Rtnl, addr, link, route};

use super::default_bridge;
use super::kernel::net_error;
use super::leases::{self, Lease};
use super::record::{self, NetworkRow};
use super::subnet::Subnet;
use crate::Engine;
use crate::containers::EndpointConfig;
use crate::containers::files;
use crate::containers::record::ContainerRow;
use crate::error::{Error, Result};

/// A network the container joins at this start, with its lease.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub network: NetworkRow,
    pub lease: Lease,
}

/// The container's networks in the order it joins them: its first
/// network, then those of `network connect` by name.
pub(crate) fn networks_of(row: &ContainerRow) -> Vec<(String, EndpointConfig)> {
    let mode = row.config.host.network_mode.as_str();
    if matches!(mode, "" | "none" | "host") || mode.starts_with("container:") {
        return Vec::new();
    }
    // A network mode the container was disconnected from is not joined.
    let mut out: Vec<(String, EndpointConfig)> = row
        .config
        .networks
        .get(mode)
        .map(|first| (mode.to_string(), first.clone()))
        .into_iter()
        .collect();
    out.extend(
        row.config
            .networks
            .iter()
            .filter(|(name, _)| name.as_str() != mode)
            .map(|(n, e)| (n.clone(), e.clone())),
    );
    out
}

/// Makes sure the network's bridge is there (the default bridge made on
/// first use); its row.
pub(crate) fn network_ready(engine: &Engine, name: &str) -> Result<NetworkRow> {
    if name == default_bridge::NAME {
        // (Its bridge checked there.)
        return default_bridge::ensure(engine);
    }
    let network = engine
        .db
        .read(|c| record::by_name(c, name))?
        .ok_or_else(|| Error::not_found(format!("network {name} not found")))?;
    default_bridge::ensure_up(engine, &network)?;
    Ok(network)
}

/// Leases the container an address on each of its networks (none for
/// none/host), in one transaction.
pub(crate) fn lease_for_start(engine: &Engine, row: &ContainerRow) -> Result<Vec<Endpoint>> {
    let wanted = networks_of(row);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    for (name, _) in &wanted {
        network_ready(engine, name)?;
    }
    // Looked up again in the transaction that leases: a network removed
    // since is an error, never a start without it.
    engine.db.write(|c| {
        // Leases a crashed start left behind are this container's own.
        leases::release(c, &row.id)?;
        let mut out = Vec::new();
        for (name, config) in &wanted {
            let network = record::by_name(c, name)?
                .ok_or_else(|| Error::not_found(format!("network {name} not found")))?;
            let lease = lease_on(c, &network, &row.id, config)?;
            out.push(Endpoint { network, lease });
        }
        Ok(out)
    })
}

/// A lease on `network` with the address and MAC the endpoint asks for.
pub(crate) fn lease_on(
    c: &rusqlite::Connection,
    network: &NetworkRow,
    container: &str,
    config: &EndpointConfig,
) -> Result<Lease> {
    let ip = config
        .ipv4_address
        .as_deref()
        .map(|ip| {
            ip.parse::<Ipv4Addr>()
                .map_err(|_| Error::invalid(format!("invalid IPv4 address: {ip}")))
        })
        .transpose()?;
    let mac = config
        .mac_address
        .as_deref()
        .map(leases::parse_mac)
        .transpose()?;
    // Docker's names: veth and 7 hex digits; random, since a restarted
    // container's old pair may still be going away with its namespace.
    // Chosen with the lease, so that one transaction records both.
    let veth = format!("veth{}", &crate::containers::names::new_id()?[..7]);
    leases::allocate(c, network, container, ip, mac, &veth)
}

/// The container's files at a start: its first address in /etc/hosts,
/// `host-gateway`, and on a user network its resolver in resolv.conf.
pub(crate) fn write_files(
    engine: &Engine,
    row: &ContainerRow,
    first: Option<&Endpoint>,
) -> Result<()> {
    let on = first.map(|e| {
        let gateway = e.network.gateway.parse().ok();
        files::OnNetwork {
            ip: Some(e.lease.ip),
            gateway,
            resolver: if e.network.name == default_bridge::NAME {
                None
            } else {
                gateway
            },
        }
    });
    files::write(
        &engine.paths.container_dir(&row.id),
        &row.config.hostname,
        &row.config.host,
        on.unwrap_or_default(),
    )
}

/// What a started container holds on its networks: the host ends of its
/// veth pairs and the sockets that hold its published ports.
#[derive(Debug, Default)]
pub(crate) struct Joined {
    pub veths: Vec<String>,
    pub ports: Vec<std::os::fd::OwnedFd>,
}

impl Joined {
    /// Before the exit is recorded: the pairs `network connect` made
    /// while it ran are the container's too.
    pub(crate) fn gather(&mut self, engine: &Engine, container: &str) {
        if let Ok(leases) = engine.db.read(|c| leases::of_container(c, container)) {
            for l in leases {
                if !l.veth.is_empty() && !self.veths.contains(&l.veth) {
                    self.veths.push(l.veth);
                }
            }
        }
    }

    /// After the container's exit is recorded (which released the rows):
    /// its veth pairs, its ports and their rules go.
    pub(crate) fn leave(&mut self, engine: &Engine) {
        for veth in self.veths.drain(..) {
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

/// Joins the container (its init is `pid`) to the network as `ifname`
/// (the first network, with the default route, when `first`); returns the
/// host end's name.
pub(crate) fn connect(
    network: &NetworkRow,
    lease: &Lease,
    pid: i32,
    ifname: &str,
    first: bool,
) -> Result<String> {
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
    let host_end = lease.veth.clone();
    let mac = leases::parse_mac(&lease.mac)?;
    let index = link::create_veth(&mut rtnl, &host_end, ifname, &container_ns, Some(mac))
        .map_err(net_error)?;
    let joined = inside(
        &mut rtnl,
        index,
        bridge,
        &container_ns,
        Inside {
            ifname,
            ip: lease.ip,
            prefix: subnet.prefix,
            default_route: (first && !network.internal).then_some(gateway),
        },
    );
    if joined.is_err() {
        disconnect(&host_end);
    }
    joined.map(|()| host_end)
}

/// The container's side of a pair.
struct Inside<'a> {
    ifname: &'a str,
    ip: Ipv4Addr,
    prefix: u8,
    default_route: Option<Ipv4Addr>,
}

fn inside(
    rtnl: &mut Rtnl,
    index: u32,
    bridge: u32,
    container_ns: &NetNs,
    want: Inside<'_>,
) -> Result<()> {
    link::set_controller(rtnl, index, bridge).map_err(net_error)?;
    link::set_up(rtnl, index).map_err(net_error)?;
    // Inside: this thread only, and back (the monitor stays one thread).
    let _inside = container_ns.enter().map_err(net_error)?;
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    let eth = link::index_of(&mut rtnl, want.ifname)
        .map_err(net_error)?
        .ok_or_else(|| {
            Error::internal(format!(
                "{} vanished from the container's namespace",
                want.ifname
            ))
        })?;
    addr::add(&mut rtnl, eth, want.ip.into(), want.prefix).map_err(net_error)?;
    link::set_up(&mut rtnl, eth).map_err(net_error)?;
    if let Some(gateway) = want.default_route {
        route::add_default_v4(&mut rtnl, gateway).map_err(net_error)?;
    }
    Ok(())
}

/// The lowest `ethN` not yet in the container's namespace (for `network
/// connect` of a running container).
pub(crate) fn free_ifname(pid: i32) -> Result<String> {
    let container_ns = NetNs::open(Path::new(&format!("/proc/{pid}/ns/net"))).map_err(net_error)?;
    let _inside = container_ns.enter().map_err(net_error)?;
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    let names: Vec<String> = link::list(&mut rtnl)
        .map_err(net_error)?
        .into_iter()
        .map(|l| l.name)
        .collect();
    Ok((0..)
        .map(|i| format!("eth{i}"))
        .find(|n| !names.contains(n))
        .unwrap_or_else(|| "eth9".into()))
}
