//! `/images/...`, `/commit` and `/distribution`: list, pull (create),
//! import, inspect, history, tag, remove, prune, push, save (get), load.
//! Names may hold slashes (`127.0.0.1:5000/lib/busybox`), so `/images/*`
//! is split by its last segment here rather than by the router.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::Engine;
use berth_engine::images::{ImageFilters, ImageSummary, RemoveEvent, SaveFormat};
use berth_image::Reference;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::containers::BodyWriter;
use crate::error::{ApiError, ApiResult};
use crate::progress::{JsonProgress, error_line};
use crate::system::tokio_stream;
use crate::{Daemon, State, blocking, query};

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/load", post(load))
        .route("/images/prune", post(prune))
        .route("/images/get", get(save_many))
        .route("/images/search", get(search))
        .route("/commit", post(commit))
        .route(
            "/images/{*rest}",
            get(by_name).post(by_name).delete(by_name),
        )
        .route("/distribution/{*rest}", get(distribution))
}

/// An image as `GET /images/json` shows it.
pub fn summary_json(s: &ImageSummary) -> Value {
    json!({
        "Id": s.id.to_string(),
        "ParentId": "",
        "RepoTags": s.repo_tags.iter().map(|r| r.familiar_string()).collect::<Vec<_>>(),
        "RepoDigests": s.repo_digests.iter().map(|r| r.familiar_string()).collect::<Vec<_>>(),
        "Created": s.created.map(|t| t.unix_timestamp()).unwrap_or(0),
        "Size": s.size,
        "SharedSize": -1,
        "VirtualSize": s.size,
        "Labels": s.labels,
        "Containers": s.containers,
    })
}

async fn list(state: State, Query(q): Q) -> ApiResult<Json<Value>> {
    let filters = query::filters(q.get("filters"))?;
    let all = query::truthy(q.get("all"));
    let list = blocking(&state, move |e| {
        let mut f = ImageFilters::parse(&filters)?;
        f.all = all;
        Ok(e.list_images(&f)?
            .iter()
            .map(summary_json)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(Value::Array(list)))
}

/// `X-Registry-Auth`: base64url JSON credentials; `{}` (what the CLI sends
/// without a login) means none.
fn credentials(headers: &HeaderMap) -> ApiResult<Option<berth_engine::Credentials>> {
    use base64::Engine as _;
    let Some(raw) = headers.get("X-Registry-Auth") else {
        return Ok(None);
    };
    let raw = raw.as_bytes();
    if raw.is_empty() {
        return Ok(None);
    }
    let trimmed: Vec<u8> = raw.iter().copied().filter(|b| *b != b'=').collect();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&trimmed))
        .map_err(|e| ApiError::bad_request(format!("invalid X-Registry-Auth header: {e}")))?;
    let v: Value = serde_json::from_slice(&json)
        .map_err(|e| ApiError::bad_request(format!("invalid X-Registry-Auth header: {e}")))?;
    let user = v["username"].as_str().unwrap_or_default();
    if user.is_empty() {
        return Ok(None);
    }
    Ok(Some(berth_engine::Credentials {
        username: user.to_string(),
        secret: v["password"].as_str().unwrap_or_default().to_string(),
    }))
}

/// A JSON-lines response fed by `run`: an error before any line becomes
/// the response's status; after that, an `error` line ends the stream.
pub(crate) async fn json_stream<F>(run: F) -> ApiResult<Response>
where
    F: FnOnce(
        mpsc::UnboundedSender<Value>,
    ) -> tokio::task::JoinHandle<Result<Vec<Value>, ApiError>>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let mut task = run(tx);
    let first = tokio::select! {
        v = rx.recv() => v,
        done = &mut task => {
            let tail = done.map_err(|e| ApiError::internal(e.to_string()))??;
            let mut lines: Vec<Value> = Vec::new();
            while let Ok(v) = rx.try_recv() { lines.push(v); }
            lines.extend(tail);
            let body: Vec<u8> = lines.iter().flat_map(|v| { let mut l = v.to_string().into_bytes(); l.push(b'\n'); l }).collect();
            return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
        }
    };
    let (out_tx, out_rx) = mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let line = |v: &Value| {
            let mut l = v.to_string().into_bytes();
            l.push(b'\n');
            Ok::<_, std::io::Error>(bytes::Bytes::from(l))
        };
        if let Some(v) = first {
            let _ = out_tx.send(line(&v)).await;
        }
        let mut task = task;
        loop {
            tokio::select! {
                v = rx.recv() => match v {
                    Some(v) => { let _ = out_tx.send(line(&v)).await; }
                    None => break,
                },
                done = &mut task => {
                    while let Ok(v) = rx.try_recv() { let _ = out_tx.send(line(&v)).await; }
                    let tail = match done {
                        Ok(Ok(tail)) => tail,
                        Ok(Err(e)) => vec![error_line(&e.message)],
                        Err(e) => vec![error_line(&e.to_string())],
                    };
                    for v in tail { let _ = out_tx.send(line(&v)).await; }
                    return;
                }
            }
        }
        // The progress channel closed: the task is ending.
        let tail = match task.await {
            Ok(Ok(tail)) => tail,
            Ok(Err(e)) => vec![error_line(&e.message)],
            Err(e) => vec![error_line(&e.to_string())],
        };
        for v in tail {
            let _ = out_tx.send(line(&v)).await;
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(tokio_stream(out_rx)),
    )
        .into_response())
}

/// Runs registry work on a plain thread: the engine's synchronous pull and
/// push run their I/O on a runtime of their own, which cannot be started
/// from one of tokio's threads.
pub(crate) fn on_thread(
    f: impl FnOnce() -> Result<Vec<Value>, ApiError> + Send + 'static,
) -> tokio::task::JoinHandle<Result<Vec<Value>, ApiError>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    tokio::spawn(async move {
        rx.await
            .map_err(|_| ApiError::internal("the registry worker thread died"))?
    })
}

fn parse_reference(from: &str, tag: Option<&String>) -> ApiResult<Reference> {
    let spec = match tag.filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    Reference::parse_with_default_tag(&spec)
        .map_err(|e| ApiError::bad_request(format!("invalid reference format: {spec}: {e}")))
}

/// `POST /images/create`: pull (`fromImage`) or import (`fromSrc`).
async fn create(state: State, Query(q): Q, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    if let Some(src) = q.get("fromSrc") {
        return import(state, &q, src.clone(), body).await;
    }
    let from = q
        .get("fromImage")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage or fromSrc is required"))?;
    let reference = parse_reference(from, q.get("tag"))?;
    let platform = q
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(|p| {
            berth_image::platform::Platform::parse(p)
                .map_err(|e| ApiError::bad_request(format!("invalid platform {p}: {e}")))
        })
        .transpose()?;
    let options = berth_engine::images::PullOptions {
        platform,
        all_tags: false,
        credentials: credentials(&headers)?,
    };
    let engine = state.engine.clone();
    json_stream(move |tx| {
        on_thread(move || {
            let progress = JsonProgress { tx };
            engine.pull(&reference, &options, &progress)?;
            Ok(Vec::new())
        })
    })
    .await
}

/// A request body as a blocking reader (for the engine's load/import).
pub(crate) fn body_reader(body: Body) -> impl std::io::Read + Send + 'static {
    let stream = body
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other));
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream))
}

async fn import(
    state: State,
    q: &HashMap<String, String>,
    src: String,
    body: Body,
) -> ApiResult<Response> {
    let reference = q.get("repo").filter(|r| !r.is_empty()).map(|r| {
        match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{r}:{t}"),
            None => r.clone(),
        }
    });
    let options = berth_engine::images::ImportOptions {
        reference,
        changes: q
            .get("changes")
            .map(|c| vec![c.clone()])
            .unwrap_or_default(),
        message: q.get("message").cloned().filter(|m| !m.is_empty()),
        platform: q.get("platform").cloned().filter(|p| !p.is_empty()),
        source: "-".into(),
        input: None,
    };
    if src == "-" {
        let reader = body_reader(body);
        let id = blocking(&state, move |e| Ok(e.import(reader, &options)?)).await?;
        return Ok(Json(json!({"status": id.to_string()})).into_response());
    }
    // dockerd downloads the archive itself, and says so first.
    let url = berth_engine::images::normalize_url(&src);
    let url2 = url.clone();
    let id = blocking(&state, move |e| Ok(e.import_url(&url2, &options)?)).await?;
    let body = format!(
        "{}\n{}\n",
        json!({"status": format!("Downloading from {url}")}),
        json!({"status": id.to_string()})
    );
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn load(state: State, Query(q): Q, body: Body) -> ApiResult<Response> {
    let quiet = query::truthy(q.get("quiet"));
    let reader = body_reader(body);
    let report = blocking(&state, move |e| Ok(e.load(reader)?)).await?;
    let mut out = String::new();
    for (tag, previous) in &report.renamed {
        let _ = previous;
        out.push_str(&format!(
            "{}\n",
            json!({"stream": format!("The image {} already exists, renaming the old one with ID {} to empty string\n", tag.familiar_string(), previous)})
        ));
    }
    for image in &report.images {
        if image.tags.is_empty() {
            out.push_str(&format!(
                "{}\n",
                json!({"stream": format!("Loaded image ID: {}\n", image.id)})
            ));
        }
        for t in &image.tags {
            out.push_str(&format!(
                "{}\n",
                json!({"stream": format!("Loaded image: {}\n", t.familiar_string())})
            ));
        }
    }
    let _ = quiet;
    // A stream of JSON lines, as Docker's (docker-py reads it line by line).
    let lines: Vec<Result<bytes::Bytes, std::io::Error>> = out
        .split_inclusive('\n')
        .map(|l| Ok(bytes::Bytes::from(l.to_string())))
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(futures_util::stream::iter(lines)),
    )
        .into_response())
}

async fn prune(state: State, Query(q): Q) -> ApiResult<Json<Value>> {
    let mut filters = query::filters(q.get("filters"))?;
    // `dangling=false` is how the CLI says `--all`.
    let all = query::values(&filters, "dangling").any(|v| v == "false" || v == "0");
    filters.retain(|f| !f.starts_with("dangling="));
    let report = blocking(&state, move |e| {
        let f = ImageFilters::parse(&filters)?;
        Ok(e.prune_images(all, &f)?)
    })
    .await?;
    Ok(Json(json!({
        "ImagesDeleted": report.events.iter().map(remove_event_json).collect::<Vec<_>>(),
        "SpaceReclaimed": report.reclaimed,
    })))
}

fn remove_event_json(e: &RemoveEvent) -> Value {
    match e {
        RemoveEvent::Untagged(r) => json!({"Untagged": r.familiar_string()}),
        RemoveEvent::Deleted(d) => json!({"Deleted": d.to_string()}),
    }
}

fn save_response(engine: Arc<Engine>, names: Vec<String>) -> Response {
    let (mut writer, rx) = BodyWriter::new();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.save(&names, &mut writer, SaveFormat::Docker) {
            writer.fail(e.to_string());
        }
    });
    (
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(tokio_stream(rx)),
    )
        .into_response()
}

async fn save_many(state: State, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let names: Vec<String> = raw
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("names="))
        .map(percent_decode)
        .collect();
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    check_names(&state, names.clone()).await?;
    Ok(save_response(state.engine.clone(), names))
}

/// Every name exists (a missing one is a 404 before the stream starts).
async fn check_names(state: &State, names: Vec<String>) -> ApiResult<()> {
    blocking(state, move |e| {
        for n in &names {
            e.image_id_of(n)?;
        }
        Ok(())
    })
    .await
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /images/search?term=&limit=&filters=`: what the index the term
/// names found, filtered as Docker's daemon filters.
async fn search(state: State, Query(q): Q, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let term = q
        .get("term")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("search: the term is empty"))?
        .clone();
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => Some(
            l.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        ),
        None => None,
    };
    let filters = query::filters(q.get("filters"))?
        .into_iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (f, String::new()),
        })
        .collect();
    let options = berth_engine::SearchOptions {
        term,
        limit,
        filters,
        credentials: credentials(&headers)?,
    };
    let results = state.engine.search_async(&options).await?;
    Ok(Json(serde_json::to_value(results).unwrap_or_default()))
}

/// `GET /distribution/{name}/json`: the registry's descriptor for a
/// reference and the platforms it offers, without pulling.
async fn distribution(
    state: State,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let name = rest
        .strip_suffix("/json")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::not_found(format!("page not found: /distribution/{rest}")))?;
    let reference = Reference::parse_with_default_tag(name)
        .map_err(|e| ApiError::bad_request(format!("invalid reference format: {name}: {e}")))?;
    let found = state
        .engine
        .distribution_inspect(&reference, credentials(&headers)?)
        .await?;
    let d = &found.descriptor;
    Ok(Json(json!({
        "Descriptor": {"mediaType": d.media_type, "digest": d.digest.to_string(), "size": d.size},
        "Platforms": found.platforms,
    })))
}

async fn commit(
    state: State,
    Query(q): Q,
    RawQuery(raw): RawQuery,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let container = q
        .get("container")
        .cloned()
        .ok_or_else(|| ApiError::bad_request("container is required"))?;
    let reference = q.get("repo").filter(|r| !r.is_empty()).map(|r| {
        match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{r}:{t}"),
            None => r.clone(),
        }
    });
    let changes: Vec<String> = raw
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("changes="))
        .map(percent_decode)
        .filter(|c| !c.is_empty())
        .collect();
    let options = berth_engine::containers::commit::CommitOptions {
        reference,
        author: q.get("author").cloned().filter(|a| !a.is_empty()),
        message: q.get("comment").cloned().filter(|m| !m.is_empty()),
        changes,
        pause: q.get("pause").is_none_or(|p| query::truthy(Some(p))),
    };
    let id = blocking(&state, move |e| {
        Ok(e.commit_container(&container, &options)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id.to_string()}))))
}

/// `/images/{name}/json|history|push|tag|get` and `DELETE /images/{name}`.
async fn by_name(
    state: State,
    method: Method,
    Path(rest): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let rest = rest.trim_start_matches('/').to_string();
    if method == Method::DELETE {
        let force = query::truthy(q.get("force"));
        let events = blocking(&state, move |e| Ok(e.remove_image(&rest, force)?)).await?;
        return Ok(Json(events.iter().map(remove_event_json).collect::<Vec<_>>()).into_response());
    }
    let (name, action) = rest
        .rsplit_once('/')
        .ok_or_else(|| ApiError::not_found("page not found"))?;
    let name = name.to_string();
    match (method.as_str(), action) {
        ("GET", "json") => {
            let v = blocking(&state, move |e| Ok(e.inspect_image(&name)?)).await?;
            Ok(Json(v).into_response())
        }
        ("GET", "history") => {
            let list = blocking(&state, move |e| Ok(e.history(&name)?)).await?;
            let v: Vec<Value> = list
                .iter()
                .map(|h| {
                    json!({
                        "Id": h.id.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "<missing>".into()),
                        "Created": h.created.as_deref().and_then(|c| time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).ok()).map(|t| t.unix_timestamp()).unwrap_or(0),
                        "CreatedBy": h.created_by,
                        "Tags": h.tags.iter().map(|t| t.familiar_string()).collect::<Vec<_>>(),
                        "Size": h.size,
                        "Comment": h.comment,
                    })
                })
                .collect();
            Ok(Json(v).into_response())
        }
        ("GET", "get") => {
            check_names(&state, vec![name.clone()]).await?;
            Ok(save_response(state.engine.clone(), vec![name]))
        }
        ("POST", "tag") => {
            let repo = q.get("repo").filter(|r| !r.is_empty()).ok_or_else(|| {
                ApiError::bad_request("repository name must have at least one component")
            })?;
            let target = match q.get("tag").filter(|t| !t.is_empty()) {
                Some(t) => format!("{repo}:{t}"),
                None => repo.clone(),
            };
            blocking(&state, move |e| Ok(e.tag(&name, &target)?)).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        ("POST", "push") => {
            let reference = parse_reference(&name, q.get("tag"))?;
            let options = berth_engine::images::PushOptions {
                all_tags: false,
                credentials: credentials(&headers)?,
            };
            let engine = state.engine.clone();
            json_stream(move |tx| {
                on_thread(move || {
                    let progress = JsonProgress { tx };
                    engine.push(&reference, &options, &progress)?;
                    Ok(Vec::new())
                })
            })
            .await
        }
        _ => Err(ApiError::not_found("page not found")),
    }
}
