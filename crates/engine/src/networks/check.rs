//! `system check` for networks: the store against the kernel of the
//! caller's network namespace. Each network's bridge is there; every lease
//! belongs to a running container; every port of a network's bridge is a
//! lease's veth; berth's table holds exactly the published ports; beside
//! dockerd, DOCKER-USER lets the bridges' traffic through. Repair
//! sets missing bridges up, releases dead leases, removes stray veths and
//! renders the table again. Nothing is looked at when the store has no
//! network (the namespace may be another store's).

use berth_net::{Rtnl, link};

use super::kernel::net_error;
use super::{leases, ports, record};
use crate::Engine;
use crate::containers::record as containers;
use crate::error::Result;

/// What is wrong, in words, each with what repair does about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkProblem {
    MissingBridge {
        network: String,
        bridge: String,
    },
    /// `container`: the full ID.
    DeadLease {
        network: String,
        container: String,
    },
    StrayVeth {
        bridge: String,
        veth: String,
    },
    Rules {
        found: usize,
        expected: usize,
    },
    /// dockerd's DOCKER-USER chain lacks the bridge's ACCEPT rules.
    DockerUser {
        bridge: String,
    },
}

impl std::fmt::Display for NetworkProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkProblem::MissingBridge { network, bridge } => {
                write!(f, "network {network}: its bridge {bridge} is missing")
            }
            NetworkProblem::DeadLease { network, container } => write!(
                f,
                "network {network}: an address is leased to container {}, which is not running",
                &container[..12.min(container.len())]
            ),
            NetworkProblem::StrayVeth { bridge, veth } => {
                write!(f, "bridge {bridge}: {veth} belongs to no container")
            }
            NetworkProblem::DockerUser { bridge } => write!(
                f,
                "dockerd's DOCKER-USER chain lacks berth's rules for {bridge} (its FORWARD policy would drop the bridge's traffic)"
            ),
            NetworkProblem::Rules { found, expected } => write!(
                f,
                "berth's nftables table has {found} DNAT rules where the published ports need {expected}"
            ),
        }
    }
}

impl Engine {
    pub(crate) fn check_networks(&self) -> Result<Vec<NetworkProblem>> {
        let (networks, all_leases, all_ports) = self.db.read(|c| {
            let networks = record::all(c)?;
            let mut all = Vec::new();
            for n in &networks {
                for l in leases::of_network(c, &n.id)? {
                    let running = containers::get(c, &l.container_id)?
                        .is_some_and(|r| r.state.is_live() && r.owner.is_alive());
                    all.push((n.name.clone(), l, running));
                }
            }
            Ok((networks, all, ports::all(c)?))
        })?;
        let mut problems = Vec::new();
        if networks.is_empty() {
            return Ok(problems);
        }
        let mut rtnl = Rtnl::open().map_err(net_error)?;
        let links = link::list(&mut rtnl).map_err(net_error)?;
        for n in &networks {
            let Some(bridge) = links.iter().find(|l| l.name == n.bridge) else {
                problems.push(NetworkProblem::MissingBridge {
                    network: n.name.clone(),
                    bridge: n.bridge.clone(),
                });
                continue;
            };
            for port in links.iter().filter(|l| l.controller == Some(bridge.index)) {
                if !all_leases.iter().any(|(_, l, _)| l.veth == port.name) {
                    problems.push(NetworkProblem::StrayVeth {
                        bridge: n.bridge.clone(),
                        veth: port.name.clone(),
                    });
                }
            }
        }
        for (network, lease, running) in &all_leases {
            if !running {
                problems.push(NetworkProblem::DeadLease {
                    network: network.clone(),
                    container: lease.container_id.clone(),
                });
            }
        }
        if berth_net::docker_user::present() {
            for n in &networks {
                if !berth_net::docker_user::has(&n.bridge) {
                    problems.push(NetworkProblem::DockerUser {
                        bridge: n.bridge.clone(),
                    });
                }
            }
        }
        let found = berth_net::nft::current_dnat_targets()
            .map_err(net_error)?
            .unwrap_or_default();
        // Each port: one rule for traffic from outside, one for the host's own.
        let mut expected: Vec<String> = all_ports
            .iter()
            .flat_map(|p| {
                let t = format!("{}:{}", p.container_ip, p.container_port);
                [t.clone(), t]
            })
            .collect();
        expected.sort();
        if found != expected {
            problems.push(NetworkProblem::Rules {
                found: found.len(),
                expected: expected.len(),
            });
        }
        Ok(problems)
    }

    /// Repairs what `check_networks` found; says what it did.
    pub(crate) fn repair_networks(&self, problems: &[NetworkProblem]) -> Result<Vec<String>> {
        let mut done = Vec::new();
        if problems.is_empty() {
            return Ok(done);
        }
        let _lock = self.networks_lock()?;
        for p in problems {
            match p {
                NetworkProblem::MissingBridge { network, .. } => {
                    if let Some(row) = self.db.read(|c| record::by_name(c, network))? {
                        self.set_up_bridge(&row)?;
                        done.push(format!("set network {network}'s bridge up again"));
                    }
                }
                NetworkProblem::DeadLease { network, container } => {
                    self.db.write(|c| leases::release(c, container))?;
                    done.push(format!(
                        "released container {}'s address on {network}",
                        &container[..12.min(container.len())]
                    ));
                }
                NetworkProblem::StrayVeth { veth, .. } => {
                    super::attach::disconnect(veth);
                    done.push(format!("removed {veth}"));
                }
                // Rendering the table adds them.
                NetworkProblem::Rules { .. } | NetworkProblem::DockerUser { .. } => {}
            }
        }
        self.apply_rules()?;
        done.push("rendered berth's nftables table from the store".into());
        Ok(done)
    }
}
