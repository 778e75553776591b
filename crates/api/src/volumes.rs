//! `/volumes`: list, create, inspect, remove, prune.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use berth_engine::containers::volumes::VolumeFilters;

use crate::create::parse_body;
use crate::error::{ApiError, ApiResult};
use crate::{Daemon, State, blocking, query};

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

async fn list(state: State, Query(q): Q) -> ApiResult<Json<Value>> {
    let filters = query::filters(q.get("filters"))?;
    let filters = VolumeFilters::parse(&filters)?;
    let list = blocking(&state, move |e| {
        Ok(e.volumes()?
            .iter()
            .filter(|v| filters.matches(v))
            .map(|v| v.docker_json())
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({"Volumes": list, "Warnings": []})))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireVolume {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

async fn create(state: State, body: bytes::Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    let w: WireVolume = if body.is_empty() {
        WireVolume::default()
    } else {
        parse_body(&body)?
    };
    if !matches!(w.driver.as_str(), "" | "local") {
        return Err(ApiError::not_found(format!(
            "error looking up volume plugin {}: plugin \"{}\" not found",
            w.driver, w.driver
        )));
    }
    let v = blocking(&state, move |e| {
        let name = Some(w.name).filter(|n| !n.is_empty());
        let name = e.create_volume(
            name.as_deref(),
            w.labels.unwrap_or_default(),
            w.driver_opts.unwrap_or_default(),
        )?;
        Ok(e.volume(&name)?.docker_json())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

async fn inspect(state: State, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let v = blocking(&state, move |e| Ok(e.volume(&name)?.docker_json())).await?;
    Ok(Json(v))
}

async fn remove(state: State, Path(name): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let force = query::truthy(q.get("force"));
    blocking(&state, move |e| Ok(e.remove_volume(&name, force)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn prune(state: State, Query(q): Q) -> ApiResult<Json<Value>> {
    let filters = query::filters(q.get("filters"))?;
    let filters = VolumeFilters::parse(&filters)?;
    let removed = blocking(&state, move |e| Ok(e.prune_volumes(&filters)?)).await?;
    Ok(Json(
        json!({"VolumesDeleted": removed, "SpaceReclaimed": 0}),
    ))
}
