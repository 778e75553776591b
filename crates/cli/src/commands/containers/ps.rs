//! `ps`: Docker's columns, status words, filters and `--format`.

use anyhow::{Result, bail};
use berth_engine::Engine;
use berth_engine::containers::{ContainerRow, State};
use serde_json::{Value, json};

use crate::cli::PsArgs;
use crate::format::{self, ports, units};

const DEFAULT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const DEFAULT_SIZE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}";

fn header() -> Value {
    json!({"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
           "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
           "Size": "SIZE", "State": "STATE", "Labels": "LABELS", "Mounts": "MOUNTS",
           "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES"})
}

fn seconds_since(nanos: i64) -> i64 {
    (berth_engine::now_nanos() - nanos) / 1_000_000_000
}

/// Docker's STATUS column.
pub fn status_text(row: &ContainerRow) -> String {
    match row.state {
        State::Creating | State::Created => "Created".into(),
        State::Starting | State::Running => {
            format!(
                "Up {}",
                units::human_duration(seconds_since(row.started_at))
            )
        }
        State::Paused => format!(
            "Up {} (Paused)",
            units::human_duration(seconds_since(row.started_at))
        ),
        State::Exited => format!(
            "Exited ({}) {} ago",
            row.exit_code,
            units::human_duration(seconds_since(row.finished_at))
        ),
        State::Removing => "Removal In Progress".into(),
    }
}

fn command_text(row: &ContainerRow, no_trunc: bool) -> String {
    let mut args = row.config.entrypoint.clone().unwrap_or_default();
    args.extend(row.config.cmd.iter().cloned());
    let full = args.join(" ");
    let shown = if no_trunc || full.chars().count() <= 20 {
        full
    } else {
        let mut s: String = full.chars().take(19).collect();
        s.push('…');
        s
    };
    format!("\"{shown}\"")
}

struct Filters {
    status: Vec<String>,
    name: Vec<String>,
    id: Vec<String>,
    label: Vec<String>,
    ancestor: Vec<String>,
    exited: Vec<i32>,
}

fn parse_filters(raw: &[String]) -> Result<Filters> {
    let mut f = Filters {
        status: vec![],
        name: vec![],
        id: vec![],
        label: vec![],
        ancestor: vec![],
        exited: vec![],
    };
    for item in raw {
        let Some((k, v)) = item.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        match k {
            "status" => {
                const VALID: &[&str] = &[
                    "created",
                    "restarting",
                    "running",
                    "removing",
                    "paused",
                    "exited",
                    "dead",
                ];
                if !VALID.contains(&v) {
                    bail!("invalid filter 'status={v}'");
                }
                f.status.push(v.into())
            }
            "name" => f.name.push(v.into()),
            "id" => f.id.push(v.into()),
            "label" => f.label.push(v.into()),
            "ancestor" => f.ancestor.push(v.into()),
            "exited" => f.exited.push(
                v.parse()
                    .map_err(|_| anyhow::anyhow!("invalid filter 'exited={v}'"))?,
            ),
            _ => bail!("invalid filter '{k}'"),
        }
    }
    Ok(f)
}

fn matches(engine: &Engine, f: &Filters, row: &ContainerRow) -> bool {
    let status = row.state.docker_status();
    (f.status.is_empty() || f.status.iter().any(|s| s == status))
        && (f.name.is_empty()
            || f.name
                .iter()
                .any(|n| row.name.contains(n.trim_start_matches('/'))))
        && (f.id.is_empty() || f.id.iter().any(|i| row.id.starts_with(i.as_str())))
        && (f.exited.is_empty()
            || (row.state == State::Exited && f.exited.contains(&row.exit_code)))
        && f.label.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => row.config.labels.get(k).is_some_and(|x| x == v),
            None => row.config.labels.contains_key(l.as_str()),
        })
        && (f.ancestor.is_empty()
            || f.ancestor.iter().any(|a| {
                row.image_name == *a
                    || row
                        .image_id
                        .trim_start_matches("sha256:")
                        .starts_with(a.trim_start_matches("sha256:"))
                    || engine.image_id_of(a).is_ok_and(|id| id == row.image_id)
            }))
}

pub fn run(engine: &Engine, a: PsArgs) -> Result<u8> {
    let filters = parse_filters(&a.filter)?;
    let mut rows = engine.containers()?;
    let last = if a.latest { 1 } else { a.last };
    let all = a.all || last > 0 || !filters.status.is_empty() || !filters.exited.is_empty();
    rows.retain(|r| (all || r.state.is_live()) && matches(engine, &filters, r));
    if last > 0 {
        rows.truncate(last as usize);
    }
    if a.quiet {
        let mut out = String::new();
        for r in &rows {
            out.push_str(if a.no_trunc { &r.id } else { &r.id[..12] });
            out.push('\n');
        }
        crate::output::print(&out)?;
        return Ok(0);
    }
    let published = engine.all_published_ports()?;
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            let ports = if r.state.is_live() && !matches!(r.config.host.network_mode.as_str(), "host" | "none") {
                let mut list: Vec<ports::Port> = published
                    .iter()
                    .filter(|p| p.container_id == r.id)
                    .map(|p| ports::Port {
                        private: p.container_port,
                        public: Some((p.host_ip.to_string(), p.host_port)),
                        proto: p.protocol.clone(),
                    })
                    .collect();
                for key in &r.config.exposed_ports {
                    if let Some((port, proto)) = berth_engine::containers::port_spec::port_key(key)
                        && !list.iter().any(|p| p.private == port && p.proto == proto)
                    {
                        list.push(ports::Port { private: port, public: None, proto: proto.to_string() });
                    }
                }
                ports::displayable(list)
            } else {
                String::new()
            };
            let size = if a.size {
                let (rw, virt) = engine.container_size(&r.id);
                format!("{} (virtual {})", units::human_size(rw, 3), units::human_size(virt, 3))
            } else {
                String::new()
            };
            let labels: Vec<String> = r.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({
                "ID": if a.no_trunc { r.id.clone() } else { r.id[..12].to_string() },
                "Image": r.image_name,
                "Command": command_text(r, a.no_trunc),
                "CreatedAt": crate::format::units::docker_time(r.created_at),
                "RunningFor": format!("{} ago", units::human_duration(seconds_since(r.created_at))),
                "Status": status_text(r),
                "State": r.state.docker_status(),
                "Ports": ports,
                "Names": r.name,
                "Size": size,
                "Labels": labels.join(","),
                "Mounts": r.config.host.mounts.iter().map(|m| m.source.clone()).collect::<Vec<_>>().join(","),
                "Networks": if r.config.networks.is_empty() {
                    r.config.host.network_mode.clone()
                } else {
                    r.config.networks.keys().cloned().collect::<Vec<_>>().join(",")
                },
                "LocalVolumes": r.config.host.mounts.iter().filter(|m| m.kind == berth_engine::containers::MountKind::Volume).count().to_string(),
            })
        })
        .collect();
    let default = if a.size { DEFAULT_SIZE } else { DEFAULT };
    let out = format::render_rows(a.format.as_deref(), default, &header(), &values)?;
    crate::output::print(&out)?;
    Ok(0)
}
