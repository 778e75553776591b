//! `top`, `stats`, `port`, `rename`, `update` and `attach`.

use anyhow::{Result, anyhow, bail};
use berth_engine::Engine;
use berth_engine::containers::RestartPolicy;
use berth_engine::containers::rename::UpdateRequest;
use serde_json::json;

use super::attach::{self, AttachOptions, Ended};
use super::options::parse_bytes;
use crate::cli::{AttachArgs, PortArgs, RenameArgs, StatsArgs, TopArgs, UpdateArgs};
use crate::format::{self, units};

/// `top`: the host's `ps` (default `-ef`), rows of the container's pids.
pub fn top(engine: &Engine, a: TopArgs) -> Result<u8> {
    let (name, ps_args) = a
        .container_and_args
        .split_first()
        .ok_or_else(|| anyhow!("top: no container"))?;
    let row = engine.container(name)?;
    if !row.state.is_live() {
        bail!("Container {} is not running", row.id);
    }
    let pids = engine.container_pids(&row.id)?;
    let args = if ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        ps_args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| anyhow!("run ps: {e}"))?;
    if !output.status.success() {
        bail!("ps: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow!("Couldn't find PID field in ps output"))?;
    let mut out = String::new();
    out.push_str(header);
    out.push('\n');
    for line in lines {
        let pid: Option<i32> = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    crate::output::print(&out)?;
    Ok(0)
}

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

/// `port`: berth has no published ports until bridge networking lands.
pub fn port(engine: &Engine, a: PortArgs) -> Result<u8> {
    let row = engine.container(&a.container)?;
    if let Some(p) = a.port {
        let p = if p.contains('/') {
            p
        } else {
            format!("{p}/tcp")
        };
        bail!("No public port '{p}' published for {}", row.name);
    }
    Ok(0)
}

pub fn rename(engine: &Engine, a: RenameArgs) -> Result<u8> {
    engine.rename_container(&a.container, &a.new_name)?;
    Ok(0)
}

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
            Ok(()) => crate::output::print(&format!("{name}\n"))?,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn attach(engine: &Engine, a: AttachArgs) -> Result<u8> {
    let row = engine.container(&a.container)?;
    if !row.state.is_live() {
        bail!("You cannot attach to a stopped container, start it first");
    }
    let opts = AttachOptions {
        stdin: !a.no_stdin && row.config.open_stdin,
        tty: row.config.tty,
        sig_proxy: a.sig_proxy,
        detach_keys: attach::parse_detach_keys(a.detach_keys.as_deref())?,
    };
    let stream = engine.attach(&row.id, &opts.engine_options())?;
    Ok(match attach::relay(engine, stream, &opts, Some(&row.id))? {
        Ended::Exited(code) => code.clamp(0, 255) as u8,
        Ended::Detached => 0,
        Ended::Lost => engine
            .container(&row.id)
            .map(|r| r.exit_code.clamp(0, 255) as u8)
            .unwrap_or(0),
    })
}
