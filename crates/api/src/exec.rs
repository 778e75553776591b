//! `/containers/{id}/exec` and `/exec/{id}/...`: create, start (hijacked
//! or detached), resize, inspect.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_engine::containers::attach::parse_detach_keys;
use berth_engine::containers::exec::{ExecRequest, ExecStartOptions, ExecState};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::create::parse_body;
use crate::error::{ApiError, ApiResult};
use crate::hijack::{self, Framing};
use crate::{Daemon, State, blocking};

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/resize", post(resize))
        .route("/exec/{id}/json", get(inspect))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireExec {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: String,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    privileged: bool,
    user: String,
    working_dir: String,
}

async fn create(
    state: State,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let w: WireExec = parse_body(&body)?;
    let args = w.cmd.unwrap_or_default();
    if args.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    if !w.detach_keys.is_empty() {
        parse_detach_keys(Some(&w.detach_keys))?;
    }
    let request = ExecRequest {
        args,
        env: w.env.unwrap_or_default(),
        user: Some(w.user).filter(|u| !u.is_empty()),
        workdir: Some(w.working_dir).filter(|d| !d.is_empty()),
        tty: w.tty,
        privileged: w.privileged,
        open_stdin: w.attach_stdin,
    };
    let _ = (w.attach_stdout, w.attach_stderr);
    let exec_id = blocking(&state, move |e| Ok(e.create_exec(&id, &request)?)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": exec_id}))))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireStart {
    detach: bool,
    tty: bool,
    console_size: Option<Vec<u16>>,
}

async fn start(state: State, Path(id): Path<String>, mut req: Request) -> Response {
    let result: ApiResult<Response> = async {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map_err(|e| ApiError::bad_request(format!("read request body: {e}")))?;
        req = Request::from_parts(parts, axum::body::Body::empty());
        let w: WireStart = if bytes.is_empty() {
            WireStart::default()
        } else {
            parse_body(&bytes)?
        };
        let id2 = id.clone();
        // Refused before the hijack while an error can still be a status.
        let (record, _) = blocking(&state, move |e| Ok(e.exec_startable(&id2)?)).await?;
        let size = match w.console_size.as_deref() {
            Some([h, w]) if *h > 0 && *w > 0 => Some((*h, *w)),
            _ => None,
        };
        let options = ExecStartOptions {
            detach: w.detach,
            size,
        };
        if w.detach {
            blocking(&state, move |e| {
                e.start_exec(&id, &options)?;
                Ok(())
            })
            .await?;
            return Ok(StatusCode::OK.into_response());
        }
        // The process starts only after the 101 is on the wire, as dockerd
        // does: clients read the headers through a buffer and then the raw
        // socket, so output sent with the headers would be lost.
        let tty = record.request.tty || w.tty;
        let (response, on_upgrade) = hijack::switch(&mut req, tty)?;
        let stdin = record.request.open_stdin;
        let daemon = state.clone();
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            match blocking(&daemon, move |e| Ok(e.start_exec(&id, &options)?)).await {
                Ok(stream) => {
                    let framing = Framing {
                        tty,
                        stdin,
                        stdout: true,
                        stderr: true,
                    };
                    hijack::relay(stream, TokioIo::new(upgraded), framing, Vec::new()).await;
                }
                Err(err) => hijack::refuse(upgraded, tty, &err.to_string()).await,
            }
        });
        Ok(response)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn resize(
    state: State,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let (h, w) = crate::containers::size_of(&q)?;
    blocking(&state, move |e| Ok(e.resize_exec(&id, h, w)?)).await?;
    Ok(StatusCode::CREATED)
}

async fn inspect(state: State, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let r = blocking(&state, move |e| Ok(e.exec_record(&id)?)).await?;
    let (entrypoint, arguments) = match r.request.args.split_first() {
        Some((first, rest)) => (first.clone(), rest.to_vec()),
        None => (String::new(), Vec::new()),
    };
    Ok(Json(json!({
        "ID": r.id,
        "Running": r.state == ExecState::Running,
        "ExitCode": r.exit_code,
        "ProcessConfig": {
            "tty": r.request.tty,
            "entrypoint": entrypoint,
            "arguments": arguments,
            "privileged": r.request.privileged,
            "user": r.request.user.clone().unwrap_or_default(),
        },
        "OpenStdin": r.request.open_stdin,
        "OpenStderr": true,
        "OpenStdout": true,
        "CanRemove": false,
        "ContainerID": r.container_id,
        "DetachKeys": "",
        "Pid": r.pid,
    })))
}
