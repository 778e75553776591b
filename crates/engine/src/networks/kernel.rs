//! What a network is in the kernel, through berth-net, in the namespace of
//! the calling thread (the host's, for the CLI and the daemon): its bridge
//! with the gateway address, forwarding, and berth's nftables table
//! rendered from every network in the store.

use std::net::Ipv4Addr;

use berth_net::nft::{Network, Port, Protocol, Ruleset};
use berth_net::{Rtnl, addr, link, route, sysctl};

use super::ports::PublishedPort;
use super::record::NetworkRow;
use super::subnet::Subnet;
use crate::error::{Error, ErrorKind, Result};

pub(crate) fn net_error(e: berth_net::Error) -> Error {
    let kind = match e.errno() {
        Some(libc::EPERM) | Some(libc::EACCES) => ErrorKind::PermissionDenied,
        _ => ErrorKind::Internal,
    };
    let err = Error::new(kind, e.to_string());
    match e.errno() {
        Some(n) => err.with_source(std::io::Error::from_raw_os_error(n)),
        None => err,
    }
}

/// The subnets of the host's routes, which a new network must not overlap.
pub(crate) fn host_routes() -> Result<Vec<Subnet>> {
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    Ok(route::destinations_v4(&mut rtnl)
        .map_err(net_error)?
        .into_iter()
        .map(|(addr, prefix)| Subnet::new(addr, prefix))
        .collect())
}

/// The bridge up with its gateway address, and forwarding on (as Docker
/// turns it on for its first bridge); true when this turned it on.
pub(crate) fn set_up_bridge(n: &NetworkRow) -> Result<bool> {
    let subnet = Subnet::parse(&n.subnet)?;
    let gateway: Ipv4Addr = n
        .gateway
        .parse()
        .map_err(|_| Error::internal(format!("network {}: gateway {:?}", n.name, n.gateway)))?;
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    let index = match link::list(&mut rtnl)
        .map_err(net_error)?
        .into_iter()
        .find(|l| l.name == n.bridge)
    {
        // Left by a crash before the row was written, or set up before.
        Some(l) if l.kind.as_deref() == Some("bridge") => l.index,
        Some(_) => {
            return Err(Error::conflict(format!(
                "network {}: {} exists and is not a bridge berth made",
                n.name, n.bridge
            )));
        }
        None => link::create_bridge(&mut rtnl, &n.bridge, None).map_err(net_error)?,
    };
    match addr::add(&mut rtnl, index, gateway.into(), subnet.prefix) {
        Ok(()) => {}
        Err(e) if e.errno() == Some(libc::EEXIST) => {}
        Err(e) => return Err(net_error(e)),
    }
    link::set_up(&mut rtnl, index).map_err(net_error)?;
    // The host's 127.0.0.1 to a published port leaves through the bridge
    // (then masqueraded): without this the kernel drops it as martian.
    sysctl::write_interface_v4(&n.bridge, "route_localnet", "1").map_err(net_error)?;
    if sysctl::read("net.ipv4.ip_forward").map_err(net_error)? != "1" {
        sysctl::write("net.ipv4.ip_forward", "1").map_err(net_error)?;
        return Ok(true);
    }
    Ok(false)
}

/// Whether the bridge is there (a reboot, or someone, may have removed it).
pub(crate) fn bridge_exists(bridge: &str) -> Result<bool> {
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    Ok(link::index_of(&mut rtnl, bridge)
        .map_err(net_error)?
        .is_some())
}

/// Removes the bridge, if it is there.
pub(crate) fn remove_bridge(bridge: &str) -> Result<()> {
    berth_net::docker_user::forget(bridge);
    let mut rtnl = Rtnl::open().map_err(net_error)?;
    if let Some(index) = link::index_of(&mut rtnl, bridge).map_err(net_error)? {
        link::delete(&mut rtnl, index).map_err(net_error)?;
    }
    Ok(())
}

/// berth's nftables table for these networks and published ports (no
/// network: no table).
pub(crate) fn apply_rules(networks: &[NetworkRow], ports: &[PublishedPort]) -> Result<()> {
    if networks.is_empty() {
        return berth_net::nft::remove().map_err(net_error);
    }
    let mut rules = Ruleset::default();
    for n in networks {
        let subnet = Subnet::parse(&n.subnet)?;
        rules.networks.push(Network {
            bridge: n.bridge.clone(),
            subnet: subnet.addr,
            prefix: subnet.prefix,
            internal: n.internal,
        });
    }
    for p in ports {
        let Some(network) = networks.iter().find(|n| n.id == p.network_id) else {
            continue;
        };
        let Some(protocol) = Protocol::parse(&p.protocol) else {
            continue;
        };
        rules.ports.push(Port {
            protocol,
            host_ip: (!p.host_ip.is_unspecified()).then_some(p.host_ip),
            host_port: p.host_port,
            container_ip: p.container_ip,
            container_port: p.container_port,
            bridge: network.bridge.clone(),
        });
    }
    rules.apply().map_err(net_error)?;
    // Beside a dockerd whose FORWARD policy drops (docker_user.rs).
    if berth_net::docker_user::present() {
        for n in networks {
            berth_net::docker_user::allow(&n.bridge).map_err(net_error)?;
        }
    }
    Ok(())
}
