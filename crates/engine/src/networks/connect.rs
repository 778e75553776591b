//! `network connect` and `network disconnect`: a container's networks are
//! part of its configuration (kept across stops, joined at each start); a
//! running container is joined or left at once, with a veth pair made or
//! removed beside the ones it started with (`eth1`, …), its lease taken or
//! released, and the network's resolver started. As Docker, a container
//! on none, host or another's namespace joins no network.

use super::attach::{self, network_ready};
use super::record::NetworkRow;
use super::{dns, leases, record};
use crate::Engine;
use crate::containers::EndpointConfig;
use crate::containers::record::{self as containers, ContainerRow, State};
use crate::error::{Error, Result};
use crate::events;
use crate::store::event_log;

impl Engine {
    /// `network connect [--alias …] [--ip …] NETWORK CONTAINER`.
    pub fn connect_network(
        &self,
        network: &str,
        container: &str,
        mut endpoint: EndpointConfig,
    ) -> Result<()> {
        let n = self.network(network)?;
        if n.builtin && n.name != "bridge" {
            return Err(Error::invalid(format!(
                "container cannot be disconnected from host network or connected to host network ({})",
                n.name
            )));
        }
        let row = self.container(container)?;
        let mode = row.config.host.network_mode.as_str();
        if mode == "none" {
            return Err(Error::invalid(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode",
            ));
        }
        if mode == "host" || mode.starts_with("container:") {
            return Err(Error::invalid(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if row.config.networks.contains_key(&n.name) {
            return Err(Error::conflict(format!(
                "endpoint with name {} already exists in network {}",
                row.name, n.name
            )));
        }
        if n.name == "bridge" && (!endpoint.aliases.is_empty() || endpoint.ipv4_address.is_some()) {
            return Err(Error::invalid(
                "network-scoped aliases and addresses are supported only for user defined networks",
            ));
        }
        super::check_endpoint(self, &n.name, &endpoint)?;
        endpoint.connected = true;
        let network = network_ready(self, &n.name)?;
        // The configuration and, if it runs, the lease: one transaction.
        let lease = self.db.write(|c| {
            let mut now = containers::get(c, &row.id)?
                .ok_or_else(|| containers::no_such_container(container))?;
            now.config.networks.insert(n.name.clone(), endpoint.clone());
            containers::set_config(c, &row.id, &now.config)?;
            let lease = if now.state == State::Running || now.state == State::Paused {
                Some(attach::lease_on(c, &network, &row.id, &endpoint)?)
            } else {
                None
            };
            event_log::record(c, &network_event("connect", &network, &row.id))?;
            Ok(lease)
        })?;
        self.events_changed();
        let Some(lease) = lease else {
            return Ok(());
        };
        let joined = (|| -> Result<()> {
            let ifname = attach::free_ifname(row.pid)?;
            attach::connect(&network, &lease, row.pid, &ifname, false)?;
            if dns::serves(&network) {
                dns::ensure_running(self, &network)?;
            }
            Ok(())
        })();
        if let Err(e) = joined {
            // Nothing of it stays: the lease, the pair, the configuration.
            let _ = self.leave_network(&row, &network);
            let _ = self.db.write(|c| {
                if let Some(mut now) = containers::get(c, &row.id)? {
                    now.config.networks.remove(&n.name);
                    containers::set_config(c, &row.id, &now.config)?;
                }
                Ok(())
            });
            return Err(e.context(format!("connect {} to network {}", row.name, n.name)));
        }
        Ok(())
    }

    /// `network disconnect [-f] NETWORK CONTAINER`.
    pub fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        let n = match self.network(network) {
            Ok(n) => n,
            Err(e) if force => {
                return if e.kind == crate::error::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                };
            }
            Err(e) => return Err(e),
        };
        let row = self.container(container)?;
        if !row.config.networks.contains_key(&n.name) {
            return Err(Error::invalid(format!(
                "container {} is not connected to network {}",
                &row.id[..12],
                n.name
            )));
        }
        let network = self.db.read(|c| record::by_name(c, &n.name))?;
        self.db.write(|c| {
            let mut now = containers::get(c, &row.id)?
                .ok_or_else(|| containers::no_such_container(container))?;
            now.config.networks.remove(&n.name);
            if now.config.host.network_mode == n.name
                && let Some(next) = now.config.networks.keys().next().cloned()
            {
                // Its first network gone: the next is first.
                now.config.host.network_mode = next;
                now.config.host.port_bindings.clear();
                now.config.host.publish_all_ports = false;
            }
            // Its last network gone, the mode stays (as dockerd's
            // HostConfig.NetworkMode does): the container is on no network,
            // not in `none` mode, and may be connected again — compose 1.29
            // disconnects and reconnects every container it creates.

            containers::set_config(c, &row.id, &now.config)?;
            if let Some(net) = &network {
                event_log::record(c, &network_event("disconnect", net, &row.id))?;
            }
            Ok(())
        })?;
        self.events_changed();
        if let Some(net) = network {
            self.leave_network(&row, &net)?;
        }
        Ok(())
    }

    /// A running container's pair on `network` removed, its lease (and, on
    /// its first network, its published ports and their rules) released.
    fn leave_network(&self, row: &ContainerRow, network: &NetworkRow) -> Result<()> {
        let lease = self.db.read(|c| {
            Ok(leases::of_container(c, &row.id)?
                .into_iter()
                .find(|l| l.network_id == network.id))
        })?;
        let Some(lease) = lease else {
            return Ok(());
        };
        if !lease.veth.is_empty() {
            attach::disconnect(&lease.veth);
        }
        let had_ports = self.db.write(|c| {
            leases::release_one(c, &network.id, &row.id)?;
            let ports: Vec<_> = super::ports::of_container(c, &row.id)?
                .into_iter()
                .filter(|p| p.network_id == network.id)
                .collect();
            if !ports.is_empty() {
                super::ports::release(c, &row.id)?;
            }
            Ok(!ports.is_empty())
        })?;
        if had_ports {
            let _lock = self.networks_lock()?;
            self.apply_rules()?;
        }
        Ok(())
    }
}

fn network_event(action: &str, network: &NetworkRow, container: &str) -> events::Event {
    events::Event::new(events::EventType::Network, action, &network.id)
        .with("name", &network.name)
        .with("type", &network.driver)
        .with("container", container)
}
