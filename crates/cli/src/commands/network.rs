//! `network create|ls|inspect|rm|prune|connect|disconnect`, with Docker's
//! output.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use berth_engine::Engine;
use berth_engine::networks::{Network, NetworkCreate};
use serde_json::{Value, json};

use crate::cli::NetworkCommand;
use crate::format;

fn pairs(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn one(flag: &str, values: &[String]) -> Result<Option<String>> {
    match values {
        [] => Ok(None),
        [v] => Ok(Some(v.clone())),
        _ => bail!(
            "{flag}: berth networks have one subnet (IPv4); {flag} was given {} times",
            values.len()
        ),
    }
}

pub fn run(engine: &Engine, command: NetworkCommand) -> Result<u8> {
    match command {
        NetworkCommand::Connect(a) => {
            let endpoint = berth_engine::containers::EndpointConfig {
                aliases: a.alias,
                ipv4_address: a.ip,
                ..Default::default()
            };
            engine.connect_network(&a.network, &a.container, endpoint)?;
        }
        NetworkCommand::Disconnect(a) => {
            engine.disconnect_network(&a.network, &a.container, a.force)?;
        }
        NetworkCommand::Create(a) => {
            if a.ipv6 {
                bail!("Error response from daemon: IPv6 networks are not supported yet");
            }
            let req = NetworkCreate {
                name: a.name.clone(),
                driver: a.driver.clone(),
                subnet: one("--subnet", &a.subnet)?,
                gateway: one("--gateway", &a.gateway)?,
                ip_range: one("--ip-range", &a.ip_range)?,
                internal: a.internal,
                attachable: a.attachable,
                labels: pairs(&a.label),
                options: pairs(&a.opt),
            };
            let id = engine.create_network(&req)?;
            crate::output::print(&format!("{id}\n"))?;
        }
        NetworkCommand::Ls(a) => {
            let mut networks = engine.networks()?;
            for f in &a.filter {
                let Some((key, value)) = f.split_once('=') else {
                    bail!("invalid filter '{f}'");
                };
                match key {
                    "name" => networks.retain(|n| n.name.contains(value)),
                    "id" => networks.retain(|n| n.id.starts_with(value)),
                    "driver" => networks.retain(|n| n.driver == value),
                    "type" => match value {
                        "builtin" => networks.retain(|n| n.builtin),
                        "custom" => networks.retain(|n| !n.builtin),
                        _ => bail!("invalid filter: 'type'='{value}'"),
                    },
                    "label" => networks.retain(|n| match value.split_once('=') {
                        Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
                        None => n.labels.contains_key(value),
                    }),
                    "scope" => networks.retain(|_| value == "local"),
                    _ => bail!("invalid filter '{key}'"),
                }
            }
            let id = |n: &Network| {
                if a.no_trunc {
                    n.id.clone()
                } else {
                    n.id[..12].to_string()
                }
            };
            // -q prints IDs unless a custom format says otherwise (docker's rule).
            if a.quiet && matches!(a.format.as_deref(), None | Some("") | Some("table")) {
                let out: String = networks.iter().map(|n| format!("{}\n", id(n))).collect();
                crate::output::print(&out)?;
                return Ok(0);
            }
            let rows: Vec<Value> = networks
                .iter()
                .map(|n| {
                    json!({
                        "ID": id(n),
                        "Name": n.name,
                        "Driver": n.driver,
                        "Scope": "local",
                        "IPv6": "false",
                        "Internal": n.internal.to_string(),
                        "CreatedAt": created(n),
                        "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                    })
                })
                .collect();
            let header = json!({"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS"});
            crate::output::print(&format::render_rows(
                a.format.as_deref(),
                "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                &header,
                &rows,
            )?)?;
        }
        NetworkCommand::Inspect(a) => {
            let mut found = Vec::new();
            let mut failed = false;
            for name in &a.networks {
                match engine.network(name) {
                    Ok(n) => found.push(engine.network_json(&n)),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            let text = format::render_inspect(a.format.as_deref(), &found)?;
            crate::output::print(&text)?;
            return Ok(if failed { 1 } else { 0 });
        }
        NetworkCommand::Rm(a) => {
            let mut failed = false;
            for name in &a.networks {
                match engine.remove_network(name) {
                    Ok(()) => crate::output::print(&format!("{name}\n"))?,
                    Err(e) if a.force && e.kind == berth_engine::ErrorKind::NotFound => {}
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            return Ok(if failed { 1 } else { 0 });
        }
        NetworkCommand::Prune(a) => {
            // `until=`, `label=`, `label!=`: the containers' filters.
            let filters = berth_engine::containers::prune::ContainerPruneFilters::parse(&a.filter)?;
            if !a.force
                && !super::prune::confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.",
                )?
            {
                return Ok(0);
            }
            let removed = engine.prune_networks(&filters)?;
            let mut out = super::prune::block("Deleted Networks", &removed);
            if !out.is_empty() {
                out.push('\n');
            }
            crate::output::print(&out)?;
        }
    }
    Ok(0)
}

fn created(n: &Network) -> String {
    berth_engine::containers::rfc3339(n.created_at)
}
