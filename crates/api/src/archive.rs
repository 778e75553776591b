//! `/containers/{id}/archive` (what `docker cp` and docker-py's
//! `put_archive`/`get_archive` use): HEAD stats a path, GET streams it as
//! a tar, PUT extracts a tar into a directory.
//!
//! Both ways go through a private host directory and the engine's
//! confined copy (`containers::copy`: paths resolved inside the
//! container's root, no symlink followed out of it), so nothing in the
//! archive or the container can reach outside either tree; the tar is
//! only ever unpacked into that fresh directory (the `tar` crate refuses
//! `..` and absolute names).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use berth_engine::containers::copy::{self, PathStat};
use berth_engine::containers::copy_archive;
use serde_json::json;

use crate::containers::BodyWriter;
use crate::error::{ApiError, ApiResult};
use crate::system::tokio_stream;
use crate::{State, blocking};

type Q = Query<HashMap<String, String>>;

fn path_of(q: &HashMap<String, String>) -> ApiResult<String> {
    let path = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("path is required"))?;
    // Relative paths are from the container's root, as Docker's.
    Ok(if path.starts_with('/') {
        path.clone()
    } else {
        format!("/{path}")
    })
}

/// Stats `path`, with Docker's words for a path that is not there.
fn stat_in(
    root: &berth_engine::containers::root::ContainerRoot,
    path: &str,
    container: &str,
) -> ApiResult<PathStat> {
    copy::stat_path(root, path).map_err(|e| {
        if e.kind == berth_engine::ErrorKind::NotFound {
            ApiError::not_found(format!(
                "Could not find the file {path} in container {container}"
            ))
        } else {
            e.into()
        }
    })
}

fn stat_header(stat: &PathStat) -> HeaderValue {
    let mtime = time::OffsetDateTime::from_unix_timestamp(stat.mtime_unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let v = json!({
        "name": stat.name,
        "size": stat.size,
        "mode": stat.mode,
        "mtime": mtime,
        "linkTarget": stat.link_target,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(v.to_string());
    HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub async fn head(state: State, UrlPath(id): UrlPath<String>, Query(q): Q) -> ApiResult<Response> {
    let path = path_of(&q)?;
    let stat = blocking(&state, move |e| {
        let row = e.container(&id)?;
        let root = e.container_root(&row)?;
        stat_in(&root, &path, &id)
    })
    .await?;
    let mut r = StatusCode::OK.into_response();
    r.headers_mut()
        .insert("X-Docker-Container-Path-Stat", stat_header(&stat));
    Ok(r)
}

pub async fn get(state: State, UrlPath(id): UrlPath<String>, Query(q): Q) -> ApiResult<Response> {
    let path = path_of(&q)?;
    // Looked at first (errors become statuses), then streamed as a tar.
    let (stat, root) = blocking(&state, move |e| {
        let row = e.container(&id)?;
        let root = e.container_root(&row)?;
        let stat = stat_in(&root, &path, &id)?;
        Ok((stat, (root, path)))
    })
    .await?;
    let (mut writer, rx) = BodyWriter::new();
    let header = stat_header(&stat);
    tokio::task::spawn_blocking(move || {
        let (root, path) = root;
        if let Err(e) = copy_archive::archive_out(&root, &path, &mut writer) {
            writer.fail(e.to_string());
        }
    });
    let mut r = (
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(tokio_stream(rx)),
    )
        .into_response();
    r.headers_mut()
        .insert("X-Docker-Container-Path-Stat", header);
    Ok(r)
}

pub async fn put(
    state: State,
    UrlPath(id): UrlPath<String>,
    Query(q): Q,
    body: Body,
) -> ApiResult<StatusCode> {
    let path = path_of(&q)?;
    let reader = crate::images::body_reader(body);
    blocking(&state, move |e| {
        let row = e.container(&id)?;
        let root = e.container_root(&row)?;
        let stat = stat_in(&root, &path, &id)?;
        if stat.mode & (1 << 31) == 0 {
            return Err(ApiError::bad_request(format!(
                "extraction point is not a directory: {path}"
            )));
        }
        Ok(copy_archive::archive_in(&root, &path, reader)?)
    })
    .await?;
    Ok(StatusCode::OK)
}
