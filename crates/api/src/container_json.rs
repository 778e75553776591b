//! A container as Docker's JSON shows it where the engine's inspect does
//! not: the `GET /containers/json` summary, and what older API versions
//! add to inspect.

use berth_engine::containers::{ContainerRow, MountKind};
use berth_engine::networks::ports::{PortSummary, PublishedPort, port_summaries};
use serde_json::{Value, json};

fn ports_json(ports: &[PortSummary]) -> Value {
    ports
        .iter()
        .map(|p| match &p.public {
            Some((ip, port)) => {
                json!({"IP": ip, "PrivatePort": p.private, "PublicPort": port, "Type": p.proto})
            }
            None => json!({"PrivatePort": p.private, "Type": p.proto}),
        })
        .collect()
}

/// A row as `GET /containers/json` shows it.
pub fn summary_json(row: &ContainerRow, published: &[PublishedPort]) -> Value {
    let c = &row.config;
    let networks: serde_json::Map<String, Value> = c
        .networks
        .keys()
        .map(|n| (n.clone(), json!({"NetworkID": "", "Aliases": Value::Null})))
        .collect();
    let mounts: Vec<Value> = c
        .host
        .mounts
        .iter()
        .map(|m| {
            let kind = match m.kind {
                MountKind::Bind => "bind",
                MountKind::Volume => "volume",
                MountKind::Tmpfs => "tmpfs",
            };
            json!({
                "Type": kind,
                "Name": if m.kind == MountKind::Volume { m.source.clone() } else { String::new() },
                "Source": m.source,
                "Destination": m.target,
                "Mode": "",
                "RW": !m.read_only,
                "Propagation": "",
            })
        })
        .collect();
    json!({
        "Id": row.id,
        "Names": [format!("/{}", row.name)],
        "Image": row.image_name,
        "ImageID": row.image_id,
        "Command": row.command_line(),
        "Created": row.created_at / 1_000_000_000,
        "Ports": ports_json(&port_summaries(row, published)),
        "Labels": c.labels,
        "State": row.state.docker_status(),
        "Status": row.status_text(),
        "HostConfig": {"NetworkMode": c.host.network_mode},
        "NetworkSettings": {"Networks": networks},
        "Mounts": mounts,
    })
}

/// Before API 1.45 dockerd lists the container's short ID among the
/// Aliases of each user network (1.45 moved it to DNSNames). Old clients
/// rely on it: docker-compose 1.29 disconnects and reconnects a container
/// whose aliases lack it.
pub(crate) fn short_id_aliases(v: &mut Value) {
    let Some(short) = v["Id"]
        .as_str()
        .and_then(|id| id.get(..12))
        .map(str::to_string)
    else {
        return;
    };
    let Some(networks) = v["NetworkSettings"]["Networks"].as_object_mut() else {
        return;
    };
    for endpoint in networks.values_mut() {
        // User networks are those with DNS names; `bridge` has none.
        if endpoint.get("DNSNames").is_none_or(Value::is_null) {
            continue;
        }
        let mut aliases: Vec<Value> = endpoint["Aliases"].as_array().cloned().unwrap_or_default();
        if !aliases.iter().any(|a| a.as_str() == Some(short.as_str())) {
            aliases.push(Value::String(short.clone()));
        }
        endpoint["Aliases"] = Value::Array(aliases);
    }
}
