//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`, `/auth`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::cancel::Cancel;
use berth_engine::events::{EventFilters, EventsOptions};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::{Daemon, State, blocking, query, versions};

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/events", get(events))
        .route("/system/df", get(df))
        .route("/auth", post(auth))
}

/// The headers Docker puts on every answer (the CLI negotiates its
/// version from `Api-Version`).
pub fn common_headers(headers: &mut HeaderMap) {
    headers.insert("Api-Version", HeaderValue::from_static(MAX_VERSION_TEXT));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Ostype", HeaderValue::from_static("linux"));
    headers.insert(
        header::SERVER,
        HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
}

/// [`versions::MAX_VERSION`] as a header value (a unit test keeps them equal).
pub const MAX_VERSION_TEXT: &str = "1.50";

#[cfg(test)]
#[test]
fn header_version_is_the_newest_served() {
    assert_eq!(MAX_VERSION_TEXT, versions::MAX_VERSION.to_string());
}

async fn ping() -> Response {
    let mut response = "OK".into_response();
    let h = response.headers_mut();
    // Only the classic builder's protocol (BuildKit's gRPC is not served).
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn kernel_version() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

async fn version(state: State) -> Json<Value> {
    Json(server_version(&state.version))
}

/// `GET /version`'s answer: the engine as docker's Server block shows it
/// (also the CLI's `berth version`, whose engine is in-process).
pub fn server_version(v: &str) -> Value {
    let max = versions::MAX_VERSION.to_string();
    let min = versions::MIN_VERSION.to_string();
    json!({
        "Platform": {"Name": "berth"},
        "Components": [{
            "Name": "Engine",
            "Version": v,
            "Details": {
                "ApiVersion": max, "MinAPIVersion": min, "Arch": arch(), "Os": "linux",
                "KernelVersion": kernel_version(), "Experimental": "false",
                "GitCommit": "", "GoVersion": "", "BuildTime": "",
            },
        }],
        "Version": v,
        "ApiVersion": max,
        "MinAPIVersion": min,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel_version(),
        "BuildTime": "",
    })
}

async fn info(state: State) -> ApiResult<Json<Value>> {
    let info = blocking(&state, |e| Ok(e.info()?)).await?;
    Ok(Json(info))
}

/// Streams events as JSON lines: past ones from `since`, then new ones
/// until `until` or the client goes.
async fn events(state: State, Query(q): Query<HashMap<String, String>>) -> ApiResult<Response> {
    let time = |key: &str| -> ApiResult<Option<time::OffsetDateTime>> {
        q.get(key)
            .filter(|s| !s.is_empty())
            .map(|s| berth_engine::times::parse(s, key).map_err(ApiError::from))
            .transpose()
    };
    let options = EventsOptions {
        since: time("since")?,
        until: time("until")?,
        filters: EventFilters::parse(&query::filters(q.get("filters"))?)?,
        cancel: Some(Cancel::new()?),
    };
    let cancel = options.cancel.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(64);
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let _ = engine.events(&options, |e| {
            let mut line = serde_json::to_vec(&e.docker_json()).unwrap_or_default();
            line.push(b'\n');
            // The client went away: stop following.
            Ok(tx.blocking_send(Ok(line.into())).is_ok())
        });
    });
    let body = Body::from_stream(cancelling_stream(rx, cancel));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A receiver as a stream of body chunks.
pub(crate) fn tokio_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// [`tokio_stream`] for a follower: hyper drops a response body when its
/// client goes, and dropping this fires `cancel`, so the blocking follower
/// ends now rather than at its next event (which may never come).
pub(crate) fn cancelling_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
    cancel: Option<Cancel>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    struct OnDrop(Option<Cancel>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some(c) = &self.0 {
                c.cancel();
            }
        }
    }
    let guard = OnDrop(cancel);
    futures_util::stream::poll_fn(move |cx| {
        let _ = &guard;
        rx.poll_recv(cx)
    })
}

async fn df(state: State) -> ApiResult<Json<Value>> {
    let value = blocking(&state, |e| {
        let usage = e.disk_usage()?;
        let images: Vec<Value> = usage
            .images
            .iter()
            .map(|u| {
                let mut v = crate::images::summary_json(&u.summary);
                v["SharedSize"] = u.shared_size.into();
                v
            })
            .collect();
        let containers: Vec<Value> = e
            .containers()?
            .iter()
            .map(|row| {
                let mut v = crate::containers::summary_json(row, &[]);
                let (rw, virt) = e.container_size(&row.id);
                v["SizeRw"] = rw.into();
                v["SizeRootFs"] = virt.into();
                v
            })
            .collect();
        let volumes: Vec<Value> = e
            .volumes()?
            .iter()
            .map(|vol| {
                let mut v = vol.docker_json();
                // Sizes are not walked for a listing (Docker's "not computed").
                v["UsageData"] = json!({"Size": -1, "RefCount": vol.users.len()});
                v
            })
            .collect();
        Ok(json!({
            "LayersSize": usage.layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }))
    })
    .await?;
    Ok(Json(value))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase")]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    serveraddress: String,
}

async fn auth(state: State, body: bytes::Bytes) -> ApiResult<Json<Value>> {
    let config: AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid auth configuration: {e}")))?;
    let server = if config.serveraddress.is_empty() {
        "docker.io".to_string()
    } else {
        config.serveraddress
    };
    let credentials = berth_engine::Credentials {
        username: config.username,
        secret: config.password,
    };
    let engine = state.engine.clone();
    // The check runs registry I/O on a runtime of its own: a plain thread,
    // outside tokio's.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(engine.check_login(&server, &credentials));
    });
    rx.await
        .map_err(|_| ApiError::internal("login check failed"))??;
    Ok(Json(
        json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}
