//! `top`: the host's `ps` output, cut down to the rows of a container's
//! processes (as Docker's daemon does).

use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// `ps ARGS` (default `-ef`) on the host: its header line and the
    /// lines of the container's processes.
    pub fn container_top(&self, name: &str, ps_args: &[String]) -> Result<(String, Vec<String>)> {
        let row = self.container(name)?;
        if !row.state.is_live() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                row.id
            )));
        }
        let pids = self.container_pids(&row.id)?;
        let args = if ps_args.is_empty() {
            vec!["-ef".to_string()]
        } else {
            ps_args.to_vec()
        };
        let output = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| Error::internal(format!("run ps: {e}")))?;
        if !output.status.success() {
            return Err(Error::invalid(format!(
                "ps: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().to_string();
        let pid_col = header
            .split_whitespace()
            .position(|h| h == "PID")
            .ok_or_else(|| Error::invalid("Couldn't find PID field in ps output"))?;
        let rows = lines
            .filter(|line| {
                line.split_whitespace()
                    .nth(pid_col)
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|p| pids.contains(&p))
            })
            .map(str::to_string)
            .collect();
        Ok((header, rows))
    }
}
