//! `top`: the host's `ps` output, rows of the container's processes.

use anyhow::{Result, anyhow};
use berth_engine::Engine;

use crate::cli::TopArgs;

/// `top`: the host's `ps` (default `-ef`), rows of the container's pids.
pub fn top(engine: &Engine, a: TopArgs) -> Result<u8> {
    let (name, ps_args) = a
        .container_and_args
        .split_first()
        .ok_or_else(|| anyhow!("top: no container"))?;
    let (header, rows) = engine.container_top(name, ps_args)?;
    let mut out = header;
    out.push('\n');
    for line in rows {
        out.push_str(&line);
        out.push('\n');
    }
    crate::output::print(&out)?;
    Ok(0)
}
