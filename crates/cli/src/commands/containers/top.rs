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
    // As dockerd parses ps and docker prints it: the header's words are
    // the columns, the last (the command) takes the rest of each line;
    // aligned by tabwriter at docker's minimum width of 20.
    let titles: Vec<&str> = header.split_whitespace().collect();
    let mut table = titles.join("\t");
    table.push('\n');
    for line in rows {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let split = titles.len().saturating_sub(1).min(fields.len());
        let mut cells: Vec<String> = fields[..split].iter().map(|f| f.to_string()).collect();
        cells.push(fields[split..].join(" "));
        table.push_str(&cells.join("\t"));
        table.push('\n');
    }
    crate::output::print(&crate::format::tabwrite_with(&table, 20, 3))?;
    Ok(0)
}
