//! `ps`: Docker's columns, status words, filters and `--format`.

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::containers::ContainerRow;
use berth_engine::containers::list::ContainerFilters;
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
    row.status_text()
}

/// Docker's COMMAND: the daemon's command line (arguments with spaces in
/// single quotes), cut to 20 characters, then Go-quoted.
pub fn command_text(row: &ContainerRow, no_trunc: bool) -> String {
    let full = row.command_line();
    let shown = if no_trunc || full.chars().count() <= 20 {
        full
    } else {
        let mut s: String = full.chars().take(19).collect();
        s.push('…');
        s
    };
    crate::format::go_quote(&shown)
}

pub fn run(engine: &Engine, a: PsArgs) -> Result<u8> {
    let filters = ContainerFilters::parse(&a.filter)?;
    let last = if a.latest { 1 } else { a.last };
    let rows = engine.list_containers(a.all, last.max(0) as usize, &filters)?;
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
    let mut images = std::collections::HashMap::new();
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            let ports = ports::displayable(
                berth_engine::networks::ports::port_summaries(r, &published)
                    .into_iter()
                    .map(|p| ports::Port { private: p.private, public: p.public, proto: p.proto })
                    .collect(),
            );
            let size = if a.size {
                let (rw, virt) = engine.container_size(&r.id);
                format!("{} (virtual {})", units::human_size(rw, 3), units::human_size(virt, 3))
            } else {
                String::new()
            };
            let labels: Vec<String> = r.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({
                "ID": if a.no_trunc { r.id.clone() } else { r.id[..12].to_string() },
                "Image": engine.image_shown(r, &mut images),
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
