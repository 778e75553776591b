//! Docker's default `bridge` network, made real the first time a container
//! joins it: a row named `bridge` (with the predefined network's fixed ID)
//! and a Linux bridge of the configured name (`berth0`), on the first of
//! Docker's default pools that overlaps no other network and no route of
//! the host (172.17.0.0/16 where it is free, as docker0's). Until then it
//! is listed without a subnet, as Docker's is before its daemon starts.
//!
//! A bridge that is gone (a reboot, a user's `ip link del`) is set up again
//! from its row at the next start, for every network alike.

use std::collections::BTreeMap;

use super::record::{self, NetworkRow};
use super::subnet::{self, Subnet};
use super::{BRIDGE_NAME_OPTION, kernel};
use crate::Engine;
use crate::error::{Error, Result};

pub(crate) const NAME: &str = "bridge";

/// What `--network bridge` meets when the default bridge is turned off.
pub(crate) fn turned_off() -> Error {
    Error::unsupported(
        "network bridge: the default bridge is turned off (BERTH_BRIDGE=none); set BERTH_BRIDGE or berth.toml's [network] bridge to a name to turn it on, or use --network none, host or a network made with `network create`",
    )
}

/// The default bridge's row, its bridge up; made on first use.
pub(crate) fn ensure(engine: &Engine) -> Result<NetworkRow> {
    let Some(bridge) = engine.config.default_bridge.clone() else {
        return Err(turned_off());
    };
    if let Some(row) = engine.db.read(|c| record::by_name(c, NAME))? {
        ensure_up(engine, &row)?;
        return Ok(row);
    }
    let routes = kernel::host_routes()?;
    let _lock = engine.networks_lock()?;
    let (row, made) = engine.db.write(|c| {
        if let Some(row) = record::by_name(c, NAME)? {
            return Ok((row, false));
        }
        let rows = record::all(c)?;
        if rows.iter().any(|r| r.bridge == bridge) {
            return Err(Error::conflict(format!(
                "default bridge {bridge}: a network made with `network create` already uses it"
            )));
        }
        let mut avoid: Vec<Subnet> = rows
            .iter()
            .filter_map(|r| Subnet::parse(&r.subnet).ok())
            .collect();
        avoid.extend(routes.iter().copied());
        let subnet = subnet::first_free(&avoid).ok_or_else(|| {
            Error::unsupported(
                "default bridge: every one of Docker's default address pools overlaps a network or a route of this host",
            )
        })?;
        let options: BTreeMap<&str, String> = [
            ("com.docker.network.bridge.default_bridge", "true".into()),
            ("com.docker.network.bridge.enable_icc", "true".into()),
            ("com.docker.network.bridge.enable_ip_masquerade", "true".into()),
            ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0".into()),
            (BRIDGE_NAME_OPTION, bridge.clone()),
            ("com.docker.network.driver.mtu", "1500".into()),
        ]
        .into_iter()
        .collect();
        let row = NetworkRow {
            id: super::builtin(NAME, "bridge").id,
            name: NAME.into(),
            driver: "bridge".into(),
            bridge: bridge.clone(),
            subnet: subnet.to_string(),
            gateway: subnet.first_host().to_string(),
            ip_range: None,
            internal: false,
            attachable: false,
            labels: "{}".into(),
            options: serde_json::to_string(&options).unwrap_or_else(|_| "{}".into()),
            created_at: crate::now_nanos(),
        };
        record::insert(c, &row)?;
        Ok((row, true))
    })?;
    let set_up = engine
        .set_up_bridge(&row)
        .and_then(|()| engine.apply_rules());
    if let Err(e) = set_up {
        if made {
            let _ = engine.db.write(|c| record::delete(c, &row.id));
            let _ = kernel::remove_bridge(&row.bridge);
            let _ = engine.apply_rules();
        }
        return Err(e.context(format!("set up the default bridge {bridge}")));
    }
    Ok(row)
}

/// Sets the network's bridge and rules up again if its bridge is gone.
pub(crate) fn ensure_up(engine: &Engine, row: &NetworkRow) -> Result<()> {
    if kernel::bridge_exists(&row.bridge)? {
        return Ok(());
    }
    let _lock = engine.networks_lock()?;
    engine
        .set_up_bridge(row)
        .and_then(|()| engine.apply_rules())
        .map_err(|e| e.context(format!("set up network {} again", row.name)))
}
