//! `volume create|ls|inspect|rm|prune`.

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::containers::volumes::VolumeFilters;
use serde_json::{Value, json};

use crate::cli::VolumeCommand;
use crate::format;

pub fn run(engine: &Engine, command: VolumeCommand) -> Result<u8> {
    match command {
        VolumeCommand::Create(a) => {
            if a.driver != "local" {
                anyhow::bail!(
                    "error looking up volume plugin {}: plugin not found",
                    a.driver
                );
            }
            let name = match (&a.name, &a.name_flag) {
                (Some(p), Some(f)) if p != f => anyhow::bail!(
                    "conflicting options: either specify --name or provide positional arg, not both"
                ),
                (p, f) => p.clone().or(f.clone()),
            };
            let name = engine.create_volume(
                name.as_deref(),
                super::options::key_values(&a.label),
                super::options::key_values(&a.opt),
            )?;
            crate::output::print(&format!("{name}\n"))?;
        }
        VolumeCommand::Ls(a) => {
            let filters = VolumeFilters::parse(&a.filter)?;
            let mut volumes = engine.volumes()?;
            volumes.retain(|v| filters.matches(v));
            if a.quiet {
                let out: String = volumes.iter().map(|v| format!("{}\n", v.name)).collect();
                crate::output::print(&out)?;
                return Ok(0);
            }
            let rows: Vec<Value> = volumes
                .iter()
                .map(|v| {
                    let labels: Vec<String> =
                        v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    json!({
                        "Driver": "local",
                        "Name": v.name,
                        "Mountpoint": v.mountpoint,
                        "Scope": "local",
                        "Labels": labels.join(","),
                        "Links": v.users.len().to_string(),
                        // docker's `volume ls` does not measure volumes.
                        "Size": "N/A",
                    })
                })
                .collect();
            let header = json!({"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"});
            crate::output::print(&format::render_rows(
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &header,
                &rows,
            )?)?;
        }
        VolumeCommand::Inspect(a) => {
            let mut found = Vec::new();
            let mut failed = false;
            for name in &a.volumes {
                match engine.volume(name) {
                    Ok(v) => found.push(v.docker_json()),
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
        VolumeCommand::Rm(a) => {
            let mut failed = false;
            for name in &a.volumes {
                match engine.remove_volume(name, a.force) {
                    Ok(()) => crate::output::print(&format!("{name}\n"))?,
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            return Ok(if failed { 1 } else { 0 });
        }
        VolumeCommand::Prune(a) => {
            let warning = if a.all {
                "WARNING! This will remove all local volumes not used by at least one container."
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container."
            };
            let mut filters = VolumeFilters::parse(&a.filter)?;
            filters.all |= a.all;
            if !a.force && !crate::commands::prune::confirm(warning)? {
                return Ok(0);
            }
            let removed = engine.prune_volumes(&filters)?;
            let mut out = crate::commands::prune::block("Deleted Volumes", &removed);
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str("Total reclaimed space: 0B\n");
            crate::output::print(&out)?;
        }
    }
    Ok(0)
}
