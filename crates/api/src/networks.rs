//! `/networks`: list, inspect, create, remove, prune, connect, disconnect.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};
use berth_engine::containers::EndpointConfig;
use berth_engine::networks::NetworkCreate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::create::parse_body;
use crate::error::{ApiError, ApiResult};
use crate::{Daemon, State, blocking, query};

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

async fn list(state: State, Query(q): Query<HashMap<String, String>>) -> ApiResult<Json<Value>> {
    let filters = query::filters(q.get("filters"))?;
    let names: Vec<String> = query::values(&filters, "name")
        .map(str::to_string)
        .collect();
    let list = blocking(&state, move |e| {
        Ok(e.networks()?
            .iter()
            .filter(|n| names.is_empty() || names.iter().any(|x| n.name.contains(x.as_str())))
            .map(|n| e.network_json(n))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(Value::Array(list)))
}

async fn inspect(state: State, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let v = blocking(&state, move |e| {
        let n = e.network(&id)?;
        Ok(e.network_json(&n))
    })
    .await?;
    Ok(Json(v))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireNetwork {
    name: String,
    driver: String,
    internal: bool,
    attachable: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<WireIpam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireIpam {
    config: Option<Vec<WireIpamConfig>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireIpamConfig {
    subnet: String,
    gateway: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
}

async fn create(state: State, body: bytes::Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    let w: WireNetwork = parse_body(&body)?;
    if w.enable_ipv6 == Some(true) {
        return Err(ApiError::not_implemented(
            "IPv6 networks are not supported yet",
        ));
    }
    let config = w.ipam.and_then(|i| i.config).unwrap_or_default();
    if config.len() > 1 {
        return Err(ApiError::not_implemented(
            "one IPAM configuration per network is supported",
        ));
    }
    let c = config.into_iter().next().unwrap_or_default();
    let nonempty = |s: String| Some(s).filter(|s| !s.is_empty());
    let request = NetworkCreate {
        name: w.name,
        driver: if w.driver.is_empty() {
            "bridge".into()
        } else {
            w.driver
        },
        subnet: nonempty(c.subnet),
        gateway: nonempty(c.gateway),
        ip_range: nonempty(c.ip_range),
        internal: w.internal,
        attachable: w.attachable,
        labels: w.labels.unwrap_or_default(),
        options: w.options.unwrap_or_default(),
    };
    let id = blocking(&state, move |e| Ok(e.create_network(&request)?)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warning": ""}))))
}

async fn remove(state: State, Path(id): Path<String>) -> ApiResult<StatusCode> {
    blocking(&state, move |e| Ok(e.remove_network(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune?filters=`: `until`, `label`, `label!`.
async fn prune(state: State, Query(q): Query<HashMap<String, String>>) -> ApiResult<Json<Value>> {
    let filters = crate::query::filters(q.get("filters"))?;
    let removed = blocking(&state, move |e| {
        let f = berth_engine::containers::prune::ContainerPruneFilters::parse(&filters)?;
        Ok(e.prune_networks(&f)?)
    })
    .await?;
    Ok(Json(json!({"NetworksDeleted": removed})))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireConnect {
    container: String,
    endpoint_config: Option<WireEndpoint>,
    force: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireEndpoint {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<WireAddress>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireAddress {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
}

async fn connect(
    state: State,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<StatusCode> {
    let w: WireConnect = parse_body(&body)?;
    let ep = w.endpoint_config.unwrap_or_default();
    let endpoint = EndpointConfig {
        aliases: ep.aliases.unwrap_or_default(),
        ipv4_address: ep
            .ipam_config
            .map(|a| a.ipv4_address)
            .filter(|a| !a.is_empty()),
        mac_address: None,
        connected: true,
    };
    blocking(&state, move |e| {
        Ok(e.connect_network(&id, &w.container, endpoint)?)
    })
    .await?;
    Ok(StatusCode::OK)
}

async fn disconnect(
    state: State,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<StatusCode> {
    let w: WireConnect = parse_body(&body)?;
    blocking(&state, move |e| {
        Ok(e.disconnect_network(&id, &w.container, w.force)?)
    })
    .await?;
    Ok(StatusCode::OK)
}
