//! `update`: resources and the restart policy of containers.

use anyhow::{Result, anyhow};
use berth_engine::Engine;
use berth_engine::containers::RestartPolicy;
use berth_engine::containers::update::UpdateRequest;

use super::options::parse_bytes;
use crate::cli::UpdateArgs;

pub fn update(engine: &Engine, a: UpdateArgs) -> Result<u8> {
    let parse = |s: &Option<String>| s.as_deref().map(parse_bytes).transpose();
    let request = UpdateRequest {
        memory: parse(&a.memory)?,
        memory_swap: match a.memory_swap.as_deref() {
            Some("-1") => Some(-1),
            other => other.map(parse_bytes).transpose()?,
        },
        memory_reservation: parse(&a.memory_reservation)?,
        nano_cpus: a
            .cpus
            .as_deref()
            .map(|c| c.parse::<f64>().map(|v| (v * 1e9) as i64))
            .transpose()
            .map_err(|_| anyhow!("invalid argument for --cpus"))?,
        cpu_shares: a.cpu_shares,
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight,
        memory_swappiness: a.memory_swappiness,
        restart: a
            .restart
            .as_deref()
            .map(RestartPolicy::parse)
            .transpose()
            .map_err(|e| anyhow!(e))?,
    };
    let mut failed = false;
    for name in &a.containers {
        match engine.update_container(name, &request) {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("WARNING: {w}");
                }
                crate::output::print(&format!("{name}\n"))?
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}
