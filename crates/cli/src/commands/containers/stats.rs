//! `stats`: cgroup usage of containers, as docker's table, streamed or once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::containers::ContainerRow;
use berth_runtime::ContainerStats;
use serde_json::{Value, json};

use crate::cli::StatsArgs;

use crate::format::{self, units};

/// One table per second, the screen cleared before each (docker's), or
/// one table with `--no-stream`. CPU % is over the time since the previous
/// sample of the same container.
pub fn stats(engine: &Engine, a: StatsArgs) -> Result<u8> {
    let mut previous: HashMap<String, (ContainerStats, Instant)> = HashMap::new();
    for r in select(engine, &a)? {
        if let Ok(s) = engine.container_stats(&r.id) {
            previous.insert(r.id.clone(), (s, Instant::now()));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    loop {
        let rows = select(engine, &a)?;
        // Read once a frame: the limit of a container without one.
        let host_mem = host_memory();
        if rows.is_empty() && !a.containers.is_empty() {
            return Ok(0);
        }
        let values: Vec<Value> = rows
            .iter()
            .map(|r| {
                let now = engine
                    .container_stats(&r.id)
                    .ok()
                    .map(|s| (s, Instant::now()));
                let before = previous.remove(&r.id);
                let value = row(&a, r, host_mem, before.as_ref(), now.as_ref());
                if let Some(now) = now {
                    previous.insert(r.id.clone(), now);
                }
                value
            })
            .collect();
        let table = format::render_rows(a.format.as_deref(), DEFAULT, &header(), &values)?;
        if a.no_stream {
            crate::output::print(&table)?;
            return Ok(0);
        }
        crate::output::print(&format!("\x1b[2J\x1b[H{table}"))?;
        std::thread::sleep(Duration::from_secs(1));
    }
}

const DEFAULT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

fn header() -> Value {
    json!({"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"})
}

/// The containers named, or the running ones (every one with `-a`), as
/// they are now.
fn select(engine: &Engine, a: &StatsArgs) -> Result<Vec<ContainerRow>> {
    if a.containers.is_empty() {
        return Ok(engine
            .containers()?
            .into_iter()
            .filter(|r| a.all || r.state.is_live())
            .collect());
    }
    Ok(a.containers
        .iter()
        .filter_map(|n| engine.container(n).ok())
        .collect())
}

fn row(
    a: &StatsArgs,
    r: &ContainerRow,
    host_mem: u64,
    before: Option<&(ContainerStats, Instant)>,
    now: Option<&(ContainerStats, Instant)>,
) -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let (cpu, mem, limit, pids) = match (before, now) {
        (Some((b, at)), Some((s, now_at))) => {
            let delta = s.cpu_usage_ns.saturating_sub(b.cpu_usage_ns) as f64;
            let elapsed = now_at.duration_since(*at).as_nanos().max(1) as f64;
            let limit = s.memory_limit.filter(|l| *l < host_mem).unwrap_or(host_mem);
            (
                (delta / elapsed * 100.0).min(cpus * 100.0),
                s.memory_usage.saturating_sub(s.memory_cache),
                limit,
                s.pids_current,
            )
        }
        _ => (0.0, 0, 0, 0),
    };
    let id = if a.no_trunc {
        r.id.clone()
    } else {
        r.id[..12].to_string()
    };
    json!({
        "ID": id,
        "Container": id,
        "Name": r.name,
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", units::human_size_binary(mem), units::human_size_binary(limit)),
        "MemPerc": format!("{:.2}%", if limit > 0 { mem as f64 / limit as f64 * 100.0 } else { 0.0 }),
        "NetIO": "0B / 0B",
        "BlockIO": "0B / 0B",
        "PIDs": pids.to_string(),
    })
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
