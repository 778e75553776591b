//! Networks: `network create|ls|inspect|rm|prune` for the bridge driver.
//!
//! A network is a row (name, subnet, gateway, its bridge's name) and, in
//! the kernel of the engine's network namespace, a Linux bridge with the
//! gateway address and berth's nftables table rendered from every row.
//! Rows are written first and the kernel follows; a failure in the kernel
//! takes the row back out, so the store never names a network that was
//! not set up. Kernel changes for networks are serialised by a lock file,
//! so the table is always rendered from the rows as they are.
//!
//! `bridge`, `host` and `none` are Docker's predefined networks: listed and
//! inspectable, not removable; `bridge` becomes real (a row and the bridge
//! `berth0`) when a container first joins it (default_bridge.rs).
//! Containers join networks at each start (attach.rs) and publish ports
//! (ports.rs).

pub(crate) mod attach;
pub(crate) mod check;
mod connect;
mod default_bridge;
pub mod dns;
mod kernel;
pub(crate) mod leases;
pub mod ports;
mod record;
pub mod subnet;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

use record::NetworkRow;
use subnet::Subnet;

use crate::Engine;
use crate::error::{Error, IoContext, Result};

/// `network create`'s request.
#[derive(Clone, Debug, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// A network as `network ls` and `inspect` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// bridge, host or null.
    pub driver: String,
    /// One of Docker's predefined networks.
    pub builtin: bool,
    pub bridge: Option<String>,
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Subnet>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub created_at: i64,
    /// The running containers on it: (container ID, address, MAC).
    pub endpoints: Vec<(String, Ipv4Addr, String)>,
}

/// What `info` says about networking.
#[derive(Clone, Debug)]
pub struct NetworkInfo {
    pub ip_forward: bool,
    pub ip_forward_by_berth: bool,
    /// The default bridge's name (None: turned off).
    pub default_bridge: Option<String>,
    /// Its subnet, once it was made.
    pub default_subnet: Option<Subnet>,
}

const IP_FORWARD_MARK: &str = "ip-forward-turned-on";

/// The bridge driver's option naming the Linux bridge.
pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

const BUILTIN: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

fn builtin(name: &str, driver: &str) -> Network {
    Network {
        // Fixed per name, so scripts that keep an ID keep working.
        id: berth_image::Digest::of(format!("berth predefined network {name}").as_bytes())
            .hex()
            .to_string(),
        name: name.to_string(),
        driver: driver.to_string(),
        builtin: true,
        bridge: None,
        subnet: None,
        gateway: None,
        ip_range: None,
        internal: false,
        attachable: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        created_at: 0,
        endpoints: Vec::new(),
    }
}

fn network_of(row: &NetworkRow) -> Network {
    Network {
        id: row.id.clone(),
        name: row.name.clone(),
        driver: row.driver.clone(),
        builtin: false,
        bridge: Some(row.bridge.clone()),
        subnet: Subnet::parse(&row.subnet).ok(),
        gateway: row.gateway.parse().ok(),
        ip_range: row.ip_range.as_deref().and_then(|r| Subnet::parse(r).ok()),
        internal: row.internal,
        attachable: row.attachable,
        labels: serde_json::from_str(&row.labels).unwrap_or_default(),
        options: serde_json::from_str(&row.options).unwrap_or_default(),
        created_at: row.created_at,
        endpoints: Vec::new(),
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A Linux interface name: 1 to 15 bytes, no '/', ':' or whitespace.
pub(crate) fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

impl Engine {
    /// `network create`: the row, then the bridge and the rules; returns
    /// the network's ID.
    pub fn create_network(&self, req: &NetworkCreate) -> Result<String> {
        let name = req.name.as_str();
        if !valid_name(name) {
            return Err(Error::invalid(format!(
                "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        match req.driver.as_str() {
            "bridge" | "" => {}
            "host" | "null" => {
                return Err(Error::conflict(format!(
                    "only one instance of \"{}\" network is allowed",
                    req.driver
                )));
            }
            other => return Err(Error::not_found(format!("plugin \"{other}\" not found"))),
        }
        for key in req.options.keys() {
            if key != BRIDGE_NAME_OPTION {
                return Err(Error::unsupported(format!(
                    "network option {key:?} is not supported (only {BRIDGE_NAME_OPTION})"
                )));
            }
        }
        let subnet = req.subnet.as_deref().map(Subnet::parse).transpose()?;
        let gateway: Option<Ipv4Addr> = req
            .gateway
            .as_deref()
            .map(|g| {
                g.parse()
                    .map_err(|_| Error::invalid(format!("invalid gateway address {g:?}")))
            })
            .transpose()?;
        let ip_range = req.ip_range.as_deref().map(Subnet::parse).transpose()?;
        if subnet.is_none() && (gateway.is_some() || ip_range.is_some()) {
            return Err(Error::invalid(
                "--gateway and --ip-range need --subnet (berth does not pick a subnet around them)",
            ));
        }
        let id = crate::containers::names::new_id()?;
        let bridge = match req.options.get(BRIDGE_NAME_OPTION) {
            Some(b) if valid_interface_name(b) => b.clone(),
            Some(b) => {
                return Err(Error::invalid(format!(
                    "invalid bridge name {b:?}: an interface name of 1 to 15 characters without '/', ':' or spaces"
                )));
            }
            None => format!("berth-{}", &id[..9]),
        };
        let routes = kernel::host_routes()?;
        let _lock = self.networks_lock()?;
        let row = self.db.write(|c| {
            if BUILTIN.iter().any(|(b, _)| *b == name) || record::by_name(c, name)?.is_some() {
                return Err(Error::conflict(format!(
                    "network with name {name} already exists"
                )));
            }
            let rows = record::all(c)?;
            if rows.iter().any(|r| r.bridge == bridge) {
                return Err(Error::conflict(format!(
                    "bridge {bridge} is already used by another network"
                )));
            }
            let taken: Vec<Subnet> = rows
                .iter()
                .filter_map(|r| Subnet::parse(&r.subnet).ok())
                .collect();
            let subnet = match subnet {
                Some(s) => {
                    if let Some(other) = taken.iter().find(|t| t.overlaps(&s)) {
                        return Err(Error::conflict(format!(
                            "Pool overlaps with other one on this address space: {s} overlaps {other}"
                        )));
                    }
                    s
                }
                None => {
                    // The first pool stays the default bridge's, as
                    // docker0's 172.17.0.0/16 is.
                    let mut avoid = taken.clone();
                    avoid.extend(routes.iter().copied());
                    avoid.extend(subnet::default_pools().next());
                    subnet::first_free(&avoid).ok_or_else(|| {
                        Error::unsupported(
                            "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                        )
                    })?
                }
            };
            let gateway = match gateway {
                Some(g) if !subnet.contains(g) || g == subnet.addr || g == subnet.broadcast() => {
                    return Err(Error::invalid(format!(
                        "no matching subnet for gateway {g}: {g} is not a host address of {subnet}"
                    )));
                }
                Some(g) => g,
                None => subnet.first_host(),
            };
            if let Some(r) = ip_range
                && !subnet.covers(&r)
            {
                return Err(Error::invalid(format!(
                    "no matching subnet for range {r}: it is not inside {subnet}"
                )));
            }
            let row = NetworkRow {
                id: id.clone(),
                name: name.to_string(),
                driver: "bridge".into(),
                bridge: bridge.clone(),
                subnet: subnet.to_string(),
                gateway: gateway.to_string(),
                ip_range: ip_range.map(|r| r.to_string()),
                internal: req.internal,
                attachable: req.attachable,
                labels: serde_json::to_string(&req.labels).unwrap_or_else(|_| "{}".into()),
                options: serde_json::to_string(&req.options).unwrap_or_else(|_| "{}".into()),
                created_at: crate::now_nanos(),
            };
            record::insert(c, &row)?;
            crate::store::event_log::record(c, &network_event("create", &row))?;
            Ok(row)
        })?;
        let set_up = self.set_up_bridge(&row).and_then(|()| self.apply_rules());
        if let Err(e) = set_up {
            // Nothing is left of a network that could not be set up.
            let _ = self.db.write(|c| record::delete(c, &row.id));
            let _ = kernel::remove_bridge(&row.bridge);
            let _ = self.apply_rules();
            return Err(e.context(format!("create network {name}")));
        }
        self.events_changed();
        Ok(id)
    }

    /// Every network: the predefined ones, then the created ones by name.
    pub fn networks(&self) -> Result<Vec<Network>> {
        let (rows, leases) = self.db.read(|c| {
            let rows = record::all(c)?;
            let mut leases = Vec::new();
            for r in &rows {
                leases.push(leases::of_network(c, &r.id)?);
            }
            Ok((rows, leases))
        })?;
        let mut out: Vec<Network> = BUILTIN.iter().map(|(n, d)| builtin(n, d)).collect();
        for (row, leases) in rows.iter().zip(leases) {
            let mut n = network_of(row);
            n.endpoints = leases
                .into_iter()
                .map(|l| (l.container_id, l.ip, l.mac))
                .collect();
            // The default bridge, once made, is the predefined one in full.
            if let Some(predefined) = out.iter_mut().find(|p| p.builtin && p.name == n.name) {
                n.builtin = true;
                n.id = predefined.id.clone();
                *predefined = n;
            } else {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// A network by name, full ID or unique ID prefix (as Docker resolves).
    pub fn network(&self, reference: &str) -> Result<Network> {
        let all = self.networks()?;
        if let Some(n) = all
            .iter()
            .find(|n| n.name == reference || n.id == reference)
        {
            return Ok(n.clone());
        }
        let matching: Vec<&Network> = all
            .iter()
            .filter(|n| !reference.is_empty() && n.id.starts_with(reference))
            .collect();
        match matching.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::not_found(format!("network {reference} not found"))),
            _ => Err(Error::conflict(format!(
                "network {reference} is ambiguous ({} matches found based on ID prefix)",
                matching.len()
            ))),
        }
    }

    /// `network rm`: the row (refused while a container is on it), then
    /// the bridge and the rules.
    pub fn remove_network(&self, reference: &str) -> Result<()> {
        let n = self.network(reference)?;
        if n.builtin {
            return Err(Error::conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let _lock = self.networks_lock()?;
        let row = self.db.write(|c| {
            let Some(row) = record::by_name(c, &n.name)? else {
                return Ok(None);
            };
            // Checked in the transaction: a container starting now either
            // holds its lease already or will not find the network.
            if !leases::of_network(c, &row.id)?.is_empty() {
                return Err(Error::conflict(format!(
                    "error while removing network: network {} id {} has active endpoints",
                    row.name, row.id
                )));
            }
            record::delete(c, &row.id)?;
            crate::store::event_log::record(c, &network_event("destroy", &row))?;
            Ok(Some(row))
        })?;
        let Some(row) = row else {
            return Err(Error::not_found(format!("network {reference} not found")));
        };
        self.events_changed();
        kernel::remove_bridge(&row.bridge)
            .and_then(|()| self.apply_rules())
            .map_err(|e| e.context(format!("remove network {}", row.name)))
    }

    /// `network prune`: every created network no running container is on;
    /// returns their names.
    pub fn prune_networks(
        &self,
        filters: &crate::containers::prune::ContainerPruneFilters,
    ) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for n in self
            .networks()?
            .into_iter()
            .filter(|n| !n.builtin && filters.allows(n.created_at, &n.labels))
        {
            if n.endpoints.is_empty() && self.remove_network(&n.id).is_ok() {
                removed.push(n.name);
            }
        }
        Ok(removed)
    }

    /// A network's bridge up (kernel.rs); when that turned forwarding on,
    /// a mark in the run root (gone at reboot, as the setting) lets `info`
    /// say berth did it.
    pub(crate) fn set_up_bridge(&self, row: &NetworkRow) -> Result<()> {
        if kernel::set_up_bridge(row)? {
            let _ = std::fs::write(self.run_root.join(IP_FORWARD_MARK), b"");
        }
        Ok(())
    }

    /// `info`'s networking lines: IPv4 forwarding (and whether berth turned
    /// it on) and the default bridge.
    pub fn network_info(&self) -> NetworkInfo {
        let forwarding = berth_net::sysctl::read("net.ipv4.ip_forward").ok();
        let bridge = self
            .networks()
            .ok()
            .and_then(|all| all.into_iter().find(|n| n.name == "bridge"));
        NetworkInfo {
            ip_forward: forwarding.as_deref() == Some("1"),
            ip_forward_by_berth: self.run_root.join(IP_FORWARD_MARK).exists(),
            default_bridge: self.config.default_bridge.clone(),
            default_subnet: bridge.and_then(|b| b.subnet),
        }
    }

    /// Renders berth's table from the store as it is now; call with the
    /// networks lock held.
    pub(crate) fn apply_rules(&self) -> Result<()> {
        let (networks, ports) = self.db.read(|c| Ok((record::all(c)?, ports::all(c)?)))?;
        kernel::apply_rules(&networks, &ports)
    }

    /// Serialises kernel changes for networks across processes.
    pub(crate) fn networks_lock(&self) -> Result<OwnedFd> {
        use rustix::fs::{FlockOperation, Mode, OFlags};
        let path = self.paths.root.join("networks.lock");
        let fd = rustix::fs::open(
            &path,
            OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(std::io::Error::from)
        .ctx("open", &path)?;
        rustix::fs::flock(&fd, FlockOperation::LockExclusive)
            .map_err(std::io::Error::from)
            .ctx("lock", &path)?;
        Ok(fd)
    }
}

/// `--ip`, `--mac-address` and aliases for `network`, checked before
/// anything is made: an address must be a host address of the network's
/// subnet (other than its gateway), a MAC six hex bytes.
pub(crate) fn check_endpoint(
    engine: &Engine,
    network: &str,
    endpoint: &crate::containers::EndpointConfig,
) -> Result<()> {
    if let Some(ip) = &endpoint.ipv4_address {
        let addr: Ipv4Addr = ip
            .parse()
            .map_err(|_| Error::invalid(format!("invalid IPv4 address: {ip}")))?;
        if let Ok(n) = engine.network(network)
            && let Some(subnet) = n.subnet
            && (!subnet.contains(addr)
                || addr == subnet.addr
                || addr == subnet.broadcast()
                || Some(addr) == n.gateway)
        {
            return Err(Error::invalid(format!(
                "invalid address {ip}: it does not belong to any of network {network}'s subnets ({subnet}) or is its gateway"
            )));
        }
    }
    if let Some(mac) = &endpoint.mac_address {
        leases::parse_mac(mac)?;
    }
    for alias in &endpoint.aliases {
        if alias.is_empty() || alias.len() > 253 || alias.contains(char::is_whitespace) {
            return Err(Error::invalid(format!("invalid network alias {alias:?}")));
        }
    }
    Ok(())
}

pub(crate) use default_bridge::turned_off as default_bridge_turned_off;

/// An endpoint's ID: fixed per (network, container), as inspect shows it.
pub fn endpoint_id(network: &str, container: &str) -> String {
    berth_image::Digest::of(format!("berth endpoint {network} {container}").as_bytes())
        .hex()
        .to_string()
}

fn network_event(action: &str, row: &NetworkRow) -> crate::events::Event {
    crate::events::Event::new(crate::events::EventType::Network, action, &row.id)
        .with("name", &row.name)
        .with("type", &row.driver)
}

impl Engine {
    /// Docker's `network inspect` object (the CLI's and the API's).
    pub fn network_json(&self, n: &Network) -> serde_json::Value {
        use serde_json::{Value, json};
        let engine = self;
        let mut config = Vec::new();
        if let (Some(subnet), Some(gateway)) = (n.subnet, n.gateway) {
            let mut c = json!({"Subnet": subnet.to_string(), "Gateway": gateway.to_string()});
            if let Some(r) = n.ip_range {
                c["IPRange"] = r.to_string().into();
            }
            config.push(c);
        }
        let mut options = json!(n.options);
        if let Some(bridge) = &n.bridge
            && !n.options.contains_key(BRIDGE_NAME_OPTION)
        {
            options[BRIDGE_NAME_OPTION] = bridge.clone().into();
        }
        json!({
            "Name": n.name,
            "Id": n.id,
            "Created": crate::containers::rfc3339(n.created_at),
            "Scope": "local",
            "Driver": n.driver,
            "EnableIPv6": false,
            "IPAM": {"Driver": "default", "Options": if n.builtin { Value::Null } else { json!({}) }, "Config": config},
            "Internal": n.internal,
            "Attachable": n.attachable,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": n.endpoints.iter().map(|(id, ip, mac)| {
                let name = engine.container(id).map(|c| c.name).unwrap_or_default();
                (id.clone(), json!({
                    "Name": name,
                    "EndpointID": endpoint_id(&n.id, id),
                    "MacAddress": mac,
                    "IPv4Address": format!("{ip}/{}", n.subnet.map(|s| s.prefix).unwrap_or(32)),
                    "IPv6Address": "",
                }))
            }).collect::<serde_json::Map<String, Value>>(),
            "Options": options,
            "Labels": n.labels,
        })
    }
}
