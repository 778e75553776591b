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

/// The lowest free address of the network (in its ip-range if it has one;
/// never the network's own address, the gateway or the broadcast), leased
/// to `container`.
pub fn allocate(conn: &Connection, network: &NetworkRow, container: &str) -> Result<Lease> {
    let subnet = Subnet::parse(&network.subnet)?;
    let pool = match &network.ip_range {
        Some(r) => Subnet::parse(r)?,
        None => subnet,
    };
    let gateway: Ipv4Addr = network.gateway.parse().unwrap_or(subnet.first_host());
    let taken: std::collections::HashSet<Ipv4Addr> = of_network(conn, &network.id)?
        .into_iter()
        .map(|l| l.ip)
        .collect();
    let first = u32::from(pool.addr);
    let last = u32::from(pool.broadcast());
    let ip = (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| {
            *ip != subnet.addr && *ip != subnet.broadcast() && *ip != gateway && !taken.contains(ip)
        })
        .ok_or_else(|| {
            Error::unsupported(format!(
                "no available IPv4 addresses on network {}: {} is full",
                network.name, pool
            ))
        })?;
    let lease = Lease {
        network_id: network.id.clone(),
        container_id: container.to_string(),
        ip,
        mac: mac_text(mac_for(ip)),
    };
    conn.execute(
        "INSERT INTO endpoints (network_id, container_id, ip, mac) VALUES (?1, ?2, ?3, ?4)",
        params![
            lease.network_id,
            lease.container_id,
            lease.ip.to_string(),
            lease.mac
        ],
    )?;
    Ok(lease)
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
    })
}

pub fn of_network(conn: &Connection, network: &str) -> Result<Vec<Lease>> {
    let mut stmt = conn.prepare(
        "SELECT network_id, container_id, ip, mac FROM endpoints WHERE network_id = ?1 ORDER BY ip",
    )?;
    let rows = stmt.query_map([network], lease)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn of_container(conn: &Connection, container: &str) -> Result<Vec<Lease>> {
    let mut stmt = conn.prepare(
        "SELECT network_id, container_id, ip, mac FROM endpoints WHERE container_id = ?1",
    )?;
    let rows = stmt.query_map([container], lease)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
