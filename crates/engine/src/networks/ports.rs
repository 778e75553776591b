//! Published ports (the `published_ports` table): at each start of a
//! container on a bridge network, every `-p` binding (and, with `-P`, every
//! exposed port) gets its host port held by a socket of the monitor
//! (berth-net's `port_reservation`), a row, and a DNAT rule in berth's
//! table. The rows go with the container's leases when it exits; the
//! sockets with the monitor; the rules at the next render.

use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

use berth_net::nft::Protocol;
use berth_net::port_reservation;
use rusqlite::{Connection, params};

use super::kernel::net_error;
use super::leases::Lease;
use super::record::NetworkRow;
use crate::containers::port_spec;
use crate::containers::record::ContainerRow;
use crate::error::{Error, ErrorKind, Result};

/// A published port as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPort {
    pub container_id: String,
    pub network_id: String,
    pub protocol: String,
    /// 0.0.0.0: every address of the host.
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// Holds the host side of every port the container publishes, records
/// them, and returns the sockets that hold them (kept by the monitor
/// until the container exits). A port in use fails the whole start.
pub(crate) fn publish(
    engine: &crate::Engine,
    row: &ContainerRow,
    network: &NetworkRow,
    lease: &Lease,
) -> Result<Vec<OwnedFd>> {
    let host = &row.config.host;
    let mut wanted: Vec<(String, crate::containers::PortBinding)> = Vec::new();
    for (key, bindings) in &host.port_bindings {
        for b in bindings {
            wanted.push((key.clone(), b.clone()));
        }
    }
    if host.publish_all_ports {
        for key in &row.config.exposed_ports {
            if !host.port_bindings.contains_key(key) {
                wanted.push((key.clone(), Default::default()));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut sockets = Vec::new();
    let mut rows = Vec::new();
    for (key, binding) in wanted {
        let (container_port, proto) = port_spec::port_key(&key)
            .ok_or_else(|| Error::invalid(format!("invalid port {key:?}")))?;
        let protocol = Protocol::parse(proto)
            .ok_or_else(|| Error::invalid(format!("invalid proto: {proto}")))?;
        let host_ip = port_spec::host_ip(&binding)?.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let (first, last) = port_spec::host_ports(&binding)?;
        let mut last_error = None;
        let mut held = None;
        for port in first..=last {
            match port_reservation::reserve(protocol, host_ip, port) {
                Ok(v) => {
                    held = Some(v);
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let Some((socket, host_port)) = held else {
            let ports = if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            };
            let in_use = last_error.as_ref().and_then(|e| e.errno()) == Some(libc::EADDRINUSE);
            return Err(match last_error {
                _ if in_use => Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "driver failed programming external connectivity on endpoint {}: Bind for {host_ip}:{ports} failed: port is already allocated",
                        row.name
                    ),
                ),
                Some(e) => net_error(e).context(format!("publish {host_ip}:{ports} to {key}")),
                None => {
                    Error::internal(format!("publish {host_ip}:{ports} to {key}: no port tried"))
                }
            });
        };
        sockets.push(socket);
        rows.push(PublishedPort {
            container_id: row.id.clone(),
            network_id: network.id.clone(),
            protocol: proto.to_string(),
            host_ip,
            host_port,
            container_ip: lease.ip,
            container_port,
        });
    }
    engine.db.write(|c| {
        release(c, &row.id)?;
        for p in &rows {
            insert(c, p)?;
        }
        Ok(())
    })?;
    Ok(sockets)
}

fn insert(conn: &Connection, p: &PublishedPort) -> Result<()> {
    conn.execute(
        "INSERT INTO published_ports (container_id, network_id, protocol, host_ip, host_port, container_ip, container_port)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            p.container_id,
            p.network_id,
            p.protocol,
            p.host_ip.to_string(),
            p.host_port,
            p.container_ip.to_string(),
            p.container_port
        ],
    )?;
    Ok(())
}

pub(crate) fn release(conn: &Connection, container: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM published_ports WHERE container_id = ?1",
        [container],
    )?;
    Ok(())
}

fn port(r: &rusqlite::Row<'_>) -> rusqlite::Result<PublishedPort> {
    let ip = |s: String| s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
    Ok(PublishedPort {
        container_id: r.get(0)?,
        network_id: r.get(1)?,
        protocol: r.get(2)?,
        host_ip: ip(r.get(3)?),
        host_port: r.get(4)?,
        container_ip: ip(r.get(5)?),
        container_port: r.get(6)?,
    })
}

const COLUMNS: &str =
    "container_id, network_id, protocol, host_ip, host_port, container_ip, container_port";

/// Every published port (for the rules, and `ps`).
pub fn all(conn: &Connection) -> Result<Vec<PublishedPort>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM published_ports ORDER BY container_id, container_port, protocol, host_ip"
    ))?;
    let rows = stmt.query_map([], port)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn of_container(conn: &Connection, container: &str) -> Result<Vec<PublishedPort>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM published_ports WHERE container_id = ?1 ORDER BY container_port, protocol, host_ip"
    ))?;
    let rows = stmt.query_map([container], port)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl crate::Engine {
    /// The ports a running container publishes (none when it is not
    /// running), by container port.
    pub fn published_ports(&self, container_id: &str) -> Result<Vec<PublishedPort>> {
        self.db.read(|c| of_container(c, container_id))
    }

    /// Every running container's published ports (for `ps`).
    pub fn all_published_ports(&self) -> Result<Vec<PublishedPort>> {
        self.db.read(all)
    }
}

/// One line of a container's ports as `ps` and `GET /containers/json` show
/// them: a published port with its host side, or an exposed one without.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSummary {
    pub private: u16,
    pub public: Option<(String, u16)>,
    pub proto: String,
}

/// `row`'s ports (none unless it runs on a bridge), from `published` (every
/// container's, read once per listing).
pub fn port_summaries(
    row: &crate::containers::ContainerRow,
    published: &[PublishedPort],
) -> Vec<PortSummary> {
    if !row.state.is_live() || matches!(row.config.host.network_mode.as_str(), "host" | "none") {
        return Vec::new();
    }
    let mut list: Vec<PortSummary> = published
        .iter()
        .filter(|p| p.container_id == row.id)
        .map(|p| PortSummary {
            private: p.container_port,
            public: Some((p.host_ip.to_string(), p.host_port)),
            proto: p.protocol.clone(),
        })
        .collect();
    for key in &row.config.exposed_ports {
        if let Some((port, proto)) = crate::containers::port_spec::port_key(key)
            && !list.iter().any(|p| p.private == port && p.proto == proto)
        {
            list.push(PortSummary {
                private: port,
                public: None,
                proto: proto.to_string(),
            });
        }
    }
    list
}
