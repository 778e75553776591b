//! Address leases (the `endpoints` table): which running container holds
//! which address on which network. Allocated in one write transaction
//! (the lowest free address, unique per network under any concurrency),
//! released with the container's exit in the same transaction that
//! records it.

use std::net::Ipv4Addr;

use rusqlite::{Connection, params};

use super::record::NetworkRow;
use super::subnet::Subnet;
use crate::error::{Error, Result};

/// A lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub network_id: String,
    pub container_id: String,
    pub ip: Ipv4Addr,
    pub mac: String,
    /// The host end of its veth pair, once joined.
    pub veth: String,
}

/// Docker's MAC for an address: 02:42 and the address's four bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `--mac-address`: six hex bytes, colon-separated.
pub fn parse_mac(text: &str) -> Result<[u8; 6]> {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok().filter(|_| b.len() == 2))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::invalid(format!("invalid MAC address: {text}")))?;
    let mac: [u8; 6] = bytes
        .try_into()
        .map_err(|_| Error::invalid(format!("invalid MAC address: {text}")))?;
    if mac[0] & 1 == 1 {
        return Err(Error::invalid(format!(
            "invalid MAC address: {text} is a multicast address"
        )));
    }
    Ok(mac)
}

/// The lowest free address of the network (in its ip-range if it has one;
/// never the network's own address, the gateway or the broadcast), or the
/// one asked for if it is free, leased to `container`; with the MAC asked
/// for, else Docker's for the address.
pub fn allocate(
    conn: &Connection,
    network: &NetworkRow,
    container: &str,
    wanted_ip: Option<Ipv4Addr>,
    wanted_mac: Option<[u8; 6]>,
    veth: &str,
) -> Result<Lease> {
    let subnet = Subnet::parse(&network.subnet)?;
    let pool = match &network.ip_range {
        Some(r) => Subnet::parse(r)?,
        None => subnet,
    };
    let gateway: Ipv4Addr = network.gateway.parse().unwrap_or(subnet.first_host());
    let leases = of_network(conn, &network.id)?;
    let ip = match wanted_ip {
        Some(ip) => {
            if let Some(holder) = leases.iter().find(|l| l.ip == ip) {
                return Err(Error::conflict(format!(
                    "address {ip} on network {} is already in use (by container {})",
                    network.name,
                    &holder.container_id[..12.min(holder.container_id.len())]
                )));
            }
            ip
        }
        None => {
            let taken: std::collections::HashSet<Ipv4Addr> = leases.iter().map(|l| l.ip).collect();
            let first = u32::from(pool.addr);
            let last = u32::from(pool.broadcast());
            (first..=last)
                .map(Ipv4Addr::from)
                .find(|ip| {
                    *ip != subnet.addr
                        && *ip != subnet.broadcast()
                        && *ip != gateway
                        && !taken.contains(ip)
                })
                .ok_or_else(|| {
                    Error::unsupported(format!(
                        "no available IPv4 addresses on network {}: {} is full",
                        network.name, pool
                    ))
                })?
        }
    };
    let lease = Lease {
        network_id: network.id.clone(),
        container_id: container.to_string(),
        ip,
        mac: mac_text(wanted_mac.unwrap_or_else(|| mac_for(ip))),
        veth: veth.to_string(),
    };
    conn.execute(
        "INSERT INTO endpoints (network_id, container_id, ip, mac, veth) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            lease.network_id,
            lease.container_id,
            lease.ip.to_string(),
            lease.mac,
            lease.veth
        ],
    )?;
    Ok(lease)
}

/// One network's lease of the container (`network disconnect`).
pub fn release_one(conn: &Connection, network: &str, container: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM endpoints WHERE network_id = ?1 AND container_id = ?2",
        params![network, container],
    )?;
    Ok(())
}

/// The container's addresses and published ports.
pub fn release(conn: &Connection, container: &str) -> Result<()> {
    conn.execute("DELETE FROM endpoints WHERE container_id = ?1", [container])?;
    super::ports::release(conn, container)?;
    Ok(())
}

fn lease(r: &rusqlite::Row<'_>) -> rusqlite::Result<Lease> {
    let ip: String = r.get(2)?;
    Ok(Lease {
        network_id: r.get(0)?,
        container_id: r.get(1)?,
        ip: ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
        mac: r.get(3)?,
        veth: r.get(4)?,
    })
}

pub fn of_network(conn: &Connection, network: &str) -> Result<Vec<Lease>> {
    let mut stmt = conn.prepare_cached(
        "SELECT network_id, container_id, ip, mac, veth FROM endpoints WHERE network_id = ?1 ORDER BY ip",
    )?;
    let rows = stmt.query_map([network], lease)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn of_container(conn: &Connection, container: &str) -> Result<Vec<Lease>> {
    let mut stmt = conn.prepare_cached(
        "SELECT network_id, container_id, ip, mac, veth FROM endpoints WHERE container_id = ?1",
    )?;
    let rows = stmt.query_map([container], lease)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
