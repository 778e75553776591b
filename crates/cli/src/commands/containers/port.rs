//! `port`: a running container's published ports, as Docker prints them.

use anyhow::{Result, bail};
use berth_engine::Engine;

use crate::cli::PortArgs;

pub fn port(engine: &Engine, a: PortArgs) -> Result<u8> {
    let row = engine.container(&a.container)?;
    let published = engine.published_ports(&row.id)?;
    let mut out = String::new();
    match a.port {
        Some(p) => {
            let (port, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
            let Ok(port) = port.parse::<u16>() else {
                bail!("Error: invalid port ({port}): invalid syntax");
            };
            for m in published
                .iter()
                .filter(|m| m.container_port == port && m.protocol == proto)
            {
                out.push_str(&format!("{}:{}\n", m.host_ip, m.host_port));
            }
            if out.is_empty() {
                bail!("No public port '{port}/{proto}' published for {}", row.name);
            }
        }
        None => {
            for m in &published {
                out.push_str(&format!(
                    "{}/{} -> {}:{}\n",
                    m.container_port, m.protocol, m.host_ip, m.host_port
                ));
            }
        }
    }
    crate::output::print(&out)?;
    Ok(0)
}
