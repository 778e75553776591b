//! What a Docker that is not in a swarm answers for swarm objects (503
//! "This node is not a swarm manager…") and plugins (an empty list).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{any, get};
use serde_json::{Value, json};

use crate::Daemon;
use crate::error::ApiError;

pub fn routes() -> Router<Arc<Daemon>> {
    let mut r = Router::new();
    for prefix in [
        "/swarm",
        "/services",
        "/nodes",
        "/tasks",
        "/secrets",
        "/configs",
    ] {
        r = r
            .route(prefix, any(not_a_swarm))
            .route(&format!("{prefix}/{{*rest}}"), any(not_a_swarm));
    }
    r.route("/plugins", get(no_plugins))
}

async fn not_a_swarm() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
    )
}

async fn no_plugins() -> Json<Value> {
    Json(json!([]))
}
