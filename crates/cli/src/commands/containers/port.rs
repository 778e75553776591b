//! `port`: a container's port mappings.

use anyhow::{Result, bail};
use berth_engine::Engine;

use crate::cli::PortArgs;

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
