//! `top`: the host's `ps` output, rows of the container's processes.

use anyhow::{Result, anyhow, bail};
use berth_engine::Engine;

use crate::cli::TopArgs;

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
