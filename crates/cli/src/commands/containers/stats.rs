//! `stats`: cgroup usage of containers, as Docker's table.

use anyhow::{Result, bail};
use berth_engine::Engine;

use crate::cli::StatsArgs;
use serde_json::json;

use crate::format::{self, units};

pub fn stats(engine: &Engine, a: StatsArgs) -> Result<u8> {
    if !a.no_stream {
        bail!("streaming stats are not supported yet; use --no-stream");
    }
    let rows = if a.containers.is_empty() {
        engine
            .containers()?
            .into_iter()
            .filter(|r| a.all || r.state.is_live())
            .collect()
    } else {
        a.containers
            .iter()
            .map(|n| engine.container(n))
            .collect::<berth_engine::Result<Vec<_>>>()?
    };
    let first: Vec<_> = rows
        .iter()
        .map(|r| engine.container_stats(&r.id).ok())
        .collect();
    let interval = std::time::Duration::from_millis(500);
    std::thread::sleep(interval);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let mut values = Vec::new();
    for (r, before) in rows.iter().zip(first) {
        let after = engine.container_stats(&r.id).ok();
        let (cpu, mem, limit, pids) = match (before, after) {
            (Some(b), Some(s)) => {
                let delta = s.cpu_usage_ns.saturating_sub(b.cpu_usage_ns) as f64;
                let cpu = delta / interval.as_nanos() as f64 * 100.0;
                let host_mem = host_memory();
                let limit = s.memory_limit.filter(|l| *l < host_mem).unwrap_or(host_mem);
                (
                    cpu.min(cpus * 100.0),
                    s.memory_usage.saturating_sub(s.memory_cache),
                    limit,
                    s.pids_current,
                )
            }
            _ => (0.0, 0, 0, 0),
        };
        values.push(json!({
            "ID": if a.no_trunc { r.id.clone() } else { r.id[..12].to_string() },
            "Container": if a.no_trunc { r.id.clone() } else { r.id[..12].to_string() },
            "Name": r.name,
            "CPUPerc": format!("{cpu:.2}%"),
            "MemUsage": format!("{} / {}", units::human_size_binary(mem), units::human_size_binary(limit)),
            "MemPerc": format!("{:.2}%", if limit > 0 { mem as f64 / limit as f64 * 100.0 } else { 0.0 }),
            "NetIO": "0B / 0B",
            "BlockIO": "0B / 0B",
            "PIDs": pids.to_string(),
        }));
    }
    let header = json!({"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"});
    let default = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
    crate::output::print(&format::render_rows(
        a.format.as_deref(),
        default,
        &header,
        &values,
    )?)?;
    Ok(0)
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<u64>().ok())
                })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
