//! `/containers/...`: listing, inspecting and the lifecycle; `create` is
//! in `create.rs`, the hijacked `attach` in `hijack.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use berth_engine::cancel::Cancel;
use berth_engine::containers::ContainerRow;
use berth_engine::containers::attach::{AttachOptions, parse_detach_keys};
use berth_engine::containers::list::ContainerFilters;
use berth_engine::containers::logs::{LogStream, LogsOptions};
use berth_engine::events::{EventFilters, EventsOptions};
use serde_json::{Value, json};

use crate::container_json::short_id_aliases;
pub use crate::container_json::summary_json;
use crate::error::{ApiError, ApiResult};
use crate::hijack::{self, Framing};
use crate::system::{cancelling_stream, tokio_stream};
use crate::{Daemon, State, blocking, query};

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/containers/json", get(list))
        .route("/containers/create", post(crate::create::create))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/changes", get(changes))
        .route("/containers/{id}/export", get(export))
        .route("/containers/{id}/stats", get(stats))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/update", post(update))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/wait", post(wait))
        .route(
            "/containers/{id}/archive",
            get(crate::archive::get)
                .head(crate::archive::head)
                .put(crate::archive::put),
        )
        .route("/containers/{id}", delete(remove))
}

async fn list(state: State, Query(q): Q) -> ApiResult<Json<Value>> {
    let all = query::truthy(q.get("all"));
    let size = query::truthy(q.get("size"));
    let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(-1);
    let filters = query::filters(q.get("filters"))?;
    let list = blocking(&state, move |e| {
        let filters = ContainerFilters::parse(&filters)?;
        let rows = e.list_containers(all, limit.max(0) as usize, &filters)?;
        let published = e.all_published_ports()?;
        let mut images = std::collections::HashMap::new();
        Ok(rows
            .iter()
            .map(|r| {
                let mut v = summary_json(r, &published);
                v["Image"] = e.image_shown(r, &mut images).into();
                if size {
                    let (rw, virt) = e.container_size(&r.id);
                    v["SizeRw"] = rw.into();
                    v["SizeRootFs"] = virt.into();
                }
                v
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(Value::Array(list)))
}

async fn inspect(
    state: State,
    Path(id): Path<String>,
    Query(q): Q,
    axum::Extension(version): axum::Extension<crate::versions::ApiVersion>,
) -> ApiResult<Json<Value>> {
    let size = query::truthy(q.get("size"));
    let mut v = blocking(&state, move |e| {
        let row = e.container(&id)?;
        let mut v = e.inspect_container(&row);
        if size {
            let (rw, virt) = e.container_size(&row.id);
            v["SizeRw"] = rw.into();
            v["SizeRootFs"] = virt.into();
        }
        Ok(v)
    })
    .await?;
    if version < crate::versions::ApiVersion(1, 45) {
        short_id_aliases(&mut v);
    }
    Ok(Json(v))
}

async fn top(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<Json<Value>> {
    let args: Vec<String> = q
        .get("ps_args")
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let (header, rows) = blocking(&state, move |e| Ok(e.container_top(&id, &args)?)).await?;
    let titles: Vec<&str> = header.split_whitespace().collect();
    let n = titles.len().max(1);
    // The last column (the command) keeps its spaces, as Docker splits.
    let processes: Vec<Vec<String>> = rows
        .iter()
        .map(|line| {
            let mut fields: Vec<String> = Vec::new();
            let mut rest = line.trim_start();
            for _ in 0..n - 1 {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                fields.push(rest[..end].to_string());
                rest = rest[end..].trim_start();
            }
            fields.push(rest.to_string());
            fields
        })
        .collect();
    Ok(Json(json!({"Titles": titles, "Processes": processes})))
}

/// Logs: multiplexed frames without a tty, raw with one; streamed.
async fn logs(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<Response> {
    let stdout = query::truthy(q.get("stdout"));
    let stderr = query::truthy(q.get("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let timestamps = query::truthy(q.get("timestamps"));
    let time = |key: &str| -> ApiResult<Option<time::OffsetDateTime>> {
        q.get(key)
            .filter(|s| !s.is_empty() && s.as_str() != "0")
            .map(|s| berth_engine::times::parse(s, key).map_err(ApiError::from))
            .transpose()
    };
    let options = LogsOptions {
        since: time("since")?,
        until: time("until")?,
        tail: q
            .get("tail")
            .filter(|t| t.as_str() != "all" && !t.is_empty())
            .map(|t| {
                t.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid tail value: {t}")))
            })
            .transpose()?,
        follow: query::truthy(q.get("follow")),
        cancel: Some(Cancel::new()?),
    };
    let cancel = options.cancel.clone();
    let id2 = id.clone();
    let row = blocking(&state, move |e| Ok(e.container(&id2)?)).await?;
    let tty = row.config.tty;
    // `details=1`: the log options' labels and env before each line.
    let details = query::truthy(q.get("details"))
        .then(|| berth_engine::containers::logs::details(&row.config));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(64);
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let result = engine.logs(&row.id, &options, |entry| {
            let stream = match entry.stream {
                LogStream::Stdout if stdout => 1u8,
                LogStream::Stderr if stderr => 2,
                _ => return Ok(true),
            };
            let mut data = Vec::with_capacity(entry.data.len() + 40);
            if timestamps {
                data.extend_from_slice(entry.time.as_bytes());
                data.push(b' ');
            }
            if let Some(d) = &details {
                data.extend_from_slice(d.as_bytes());
                data.push(b' ');
            }
            data.extend_from_slice(&entry.data);
            let mut frame = Vec::with_capacity(data.len() + 8);
            if !tty {
                frame.push(stream);
                frame.extend_from_slice(&[0, 0, 0]);
                frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
            }
            frame.extend_from_slice(&data);
            // The client went: stop.
            Ok(tx.blocking_send(Ok(frame.into())).is_ok())
        });
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(cancelling_stream(rx, cancel)),
    )
        .into_response())
}

async fn changes(state: State, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let list = blocking(&state, move |e| {
        let row = e.container(&id)?;
        Ok(e.container_changes(&row)?)
    })
    .await?;
    Ok(Json(
        list.iter()
            .map(|(kind, path)| {
                let k = match kind.letter() {
                    'C' => 0,
                    'A' => 1,
                    _ => 2,
                };
                json!({"Path": path, "Kind": k})
            })
            .collect(),
    ))
}

/// A blocking writer into a streamed response body.
pub struct BodyWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
}

impl BodyWriter {
    pub fn new() -> (
        BodyWriter,
        tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        (BodyWriter { tx }, rx)
    }
    pub fn fail(&self, message: String) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(message)));
    }
}

impl std::io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn export(state: State, Path(id): Path<String>) -> ApiResult<Response> {
    // Errors before the first byte are statuses; later ones end the stream.
    let (row, root) = blocking(&state, move |e| {
        let row = e.container(&id)?;
        let root = e.container_root(&row)?;
        Ok((row, root))
    })
    .await?;
    let (mut writer, rx) = BodyWriter::new();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = berth_image::diff::write_layer_at(
            std::os::fd::AsFd::as_fd(&root.fd),
            std::path::Path::new(&format!("container {}", row.id)),
            &mut writer,
        ) {
            writer.fail(e.to_string());
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(tokio_stream(rx)),
    )
        .into_response())
}

/// One reading of a container's cgroup, with the host's CPU time then.
#[derive(Default)]
struct Sample {
    stats: berth_engine::ContainerStats,
    /// The host's CPU time (all CPUs), nanoseconds, from /proc/stat.
    system_ns: u64,
    read: String,
}

fn sample(engine: &berth_engine::Engine, id: &str) -> Sample {
    let stats = engine.container_stats(id).unwrap_or_default();
    let ticks: u64 = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(7)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum()
            })
        })
        .unwrap_or(0);
    Sample {
        stats,
        // USER_HZ is 100 on Linux.
        system_ns: ticks * 10_000_000,
        read: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    }
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn stats_json(row: &ContainerRow, s: &Sample, pre: Option<&Sample>) -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = |x: Option<&Sample>| match x {
        Some(x) => json!({
            "cpu_usage": {"total_usage": x.stats.cpu_usage_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "system_cpu_usage": x.system_ns,
            "online_cpus": cpus,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }),
        None => json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}}),
    };
    json!({
        "id": row.id,
        "name": format!("/{}", row.name),
        "read": s.read,
        "preread": pre.map(|p| p.read.clone()).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        "pids_stats": {"current": s.stats.pids_current, "limit": s.stats.pids_limit},
        "blkio_stats": {"io_service_bytes_recursive": Value::Null},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(Some(s)),
        "precpu_stats": cpu(pre),
        "memory_stats": {
            "usage": s.stats.memory_usage,
            "limit": s.stats.memory_limit.unwrap_or_else(host_memory),
            "stats": {"cache": s.stats.memory_cache, "total_inactive_file": s.stats.memory_cache, "inactive_file": s.stats.memory_cache},
            "failcnt": s.stats.oom_kills,
        },
        "networks": {},
    })
}

/// Stats: one sample (`stream=0`; with `one-shot`, no "pre" sample), or
/// one a second until the client goes.
async fn stats(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<Response> {
    let stream = q.get("stream").is_none_or(|v| query::truthy(Some(v)));
    let one_shot = query::truthy(q.get("one-shot"));
    let id2 = id.clone();
    let row = blocking(&state, move |e| Ok(e.container(&id2)?)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut pre = None;
        if !stream && !one_shot {
            // Docker's non-streamed sample carries a "pre" a second before.
            pre = Some(sample(&engine, &row.id));
            std::thread::sleep(std::time::Duration::from_millis(1000));
        }
        loop {
            let now = sample(&engine, &row.id);
            let mut line =
                serde_json::to_vec(&stats_json(&row, &now, pre.as_ref())).unwrap_or_default();
            line.push(b'\n');
            if tx.blocking_send(Ok(line.into())).is_err() || !stream {
                return;
            }
            pre = Some(now);
            std::thread::sleep(std::time::Duration::from_millis(1000));
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(tokio_stream(rx)),
    )
        .into_response())
}

async fn resize(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let (h, w) = size_of(&q)?;
    blocking(&state, move |e| Ok(e.resize_container(&id, h, w)?)).await?;
    Ok(StatusCode::OK)
}

pub fn size_of(q: &HashMap<String, String>) -> ApiResult<(u16, u16)> {
    let get = |k: &str| -> ApiResult<u16> {
        q.get(k)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid {k} value: {v}")))
            })
            .unwrap_or(Ok(0))
    };
    Ok((get("h")?, get("w")?))
}

async fn start(state: State, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let daemon = state.0.clone();
    blocking(&state, move |e| {
        let row = e.container(&id)?;
        if row.state.is_live() {
            return Ok(StatusCode::NOT_MODIFIED);
        }
        let started = if daemon.pending.any_for(&row.id) {
            daemon.pending.start_attached(e, &row.id)
        } else {
            e.start_container(&row.id).map(|_| ())
        };
        if let Err(err) = started {
            // A --rm container that could not start is removed, as dockerd
            // does: the CLI waits for `condition=removed` before exiting.
            if row.config.host.auto_remove {
                let _ = e.remove_container(&row.id, true, true);
            }
            return Err(err.into());
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

fn timeout_of(q: &HashMap<String, String>) -> ApiResult<Option<i64>> {
    q.get("t")
        .map(|t| {
            t.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid value for t: {t}")))
        })
        .transpose()
}

async fn stop(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let timeout = timeout_of(&q)?;
    let signal = q.get("signal").cloned().filter(|s| !s.is_empty());
    blocking(&state, move |e| {
        let row = e.container(&id)?;
        if !row.state.is_live() {
            return Ok(StatusCode::NOT_MODIFIED);
        }
        e.stop_container(&row.id, timeout, signal.as_deref())?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn restart(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let timeout = timeout_of(&q)?;
    let signal = q.get("signal").cloned().filter(|s| !s.is_empty());
    blocking(&state, move |e| {
        e.restart_container(&id, timeout, signal.as_deref())?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn kill(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let signal = q
        .get("signal")
        .cloned()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "KILL".into());
    blocking(&state, move |e| {
        e.kill_container(&id, &signal)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn pause(state: State, Path(id): Path<String>) -> ApiResult<StatusCode> {
    blocking(&state, move |e| Ok(e.pause_container(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unpause(state: State, Path(id): Path<String>) -> ApiResult<StatusCode> {
    blocking(&state, move |e| Ok(e.unpause_container(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rename(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let name = q.get("name").cloned().unwrap_or_default();
    blocking(&state, move |e| Ok(e.rename_container(&id, &name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    memory: Option<i64>,
    memory_swap: Option<i64>,
    memory_reservation: Option<i64>,
    nano_cpus: Option<i64>,
    cpu_shares: Option<u64>,
    cpu_quota: Option<i64>,
    cpu_period: Option<u64>,
    cpuset_cpus: Option<String>,
    cpuset_mems: Option<String>,
    pids_limit: Option<i64>,
    blkio_weight: Option<u16>,
    memory_swappiness: Option<i64>,
    restart_policy: Option<crate::create::WireRestartPolicy>,
}

async fn update(
    state: State,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<Json<Value>> {
    let b: UpdateBody = crate::create::parse_body(&body)?;
    // Docker's CLI sends every field, zero for "not given".
    let nz = |v: Option<i64>| v.filter(|x| *x != 0);
    let request = berth_engine::containers::update::UpdateRequest {
        memory: nz(b.memory),
        memory_swap: nz(b.memory_swap),
        memory_reservation: nz(b.memory_reservation),
        nano_cpus: nz(b.nano_cpus),
        cpu_shares: b.cpu_shares.filter(|x| *x != 0),
        cpu_quota: nz(b.cpu_quota),
        cpu_period: b.cpu_period.filter(|x| *x != 0),
        cpuset_cpus: b.cpuset_cpus.filter(|s| !s.is_empty()),
        cpuset_mems: b.cpuset_mems.filter(|s| !s.is_empty()),
        pids_limit: nz(b.pids_limit),
        blkio_weight: b.blkio_weight.filter(|w| *w != 0),
        memory_swappiness: b.memory_swappiness.filter(|s| *s != -1),
        restart: b
            .restart_policy
            .filter(|r| !r.name.is_empty())
            .map(|r| r.into_engine())
            .transpose()?,
    };
    let warnings = blocking(&state, move |e| Ok(e.update_container(&id, &request)?)).await?;
    Ok(Json(json!({"Warnings": warnings})))
}

async fn attach(state: State, Path(id): Path<String>, Query(q): Q, mut req: Request) -> Response {
    let result = async {
        let id2 = id.clone();
        let row = blocking(&state, move |e| Ok(e.container(&id2)?)).await?;
        let stdin = query::truthy(q.get("stdin"));
        let stdout = query::truthy(q.get("stdout"));
        let stderr = query::truthy(q.get("stderr"));
        let logs = query::truthy(q.get("logs"));
        let stream = query::truthy(q.get("stream"));
        if !stream && !logs {
            return Err(ApiError::bad_request(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        let detach_keys = parse_detach_keys(
            q.get("detachKeys")
                .map(String::as_str)
                .filter(|k| !k.is_empty()),
        )?;
        let (response, on_upgrade) = hijack::switch(&mut req, row.config.tty)?;
        let options = AttachOptions {
            stdin: stdin && row.config.open_stdin,
            stdout,
            stderr,
            size: None,
        };
        hijack::attach(
            state.engine.clone(),
            &state.pending,
            hijack::AttachRequest {
                id: row.id.clone(),
                options,
                framing: Framing {
                    tty: row.config.tty,
                    stdin: options.stdin,
                    stdout,
                    stderr,
                },
                detach_keys,
                running: row.state.is_live(),
                logs,
                stream,
            },
            on_upgrade,
        );
        Ok(response)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Answers at once with the headers (the docker CLI starts the container
/// only once its wait is in place), and with the exit code when the
/// condition is met.
async fn wait(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<Response> {
    let condition = q
        .get("condition")
        .cloned()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "not-running".into());
    if !matches!(condition.as_str(), "not-running" | "next-exit" | "removed") {
        return Err(ApiError::bad_request(format!(
            "invalid condition: \"{condition}\""
        )));
    }
    let since = time::OffsetDateTime::now_utc();
    let id2 = id.clone();
    let row = blocking(&state, move |e| Ok(e.container(&id2)?)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
    let engine = state.engine.clone();
    let cancel = Cancel::new()?;
    let follower_cancel = cancel.clone();
    tokio::task::spawn_blocking(move || {
        let code = wait_for(&engine, &row, &condition, since, follower_cancel);
        let body = match code {
            Ok(code) => json!({"StatusCode": code, "Error": Value::Null}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
        };
        let mut line = serde_json::to_vec(&body).unwrap_or_default();
        line.push(b'\n');
        let _ = tx.blocking_send(Ok(line.into()));
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(cancelling_stream(rx, Some(cancel))),
    )
        .into_response())
}

fn wait_for(
    engine: &berth_engine::Engine,
    row: &ContainerRow,
    condition: &str,
    since: time::OffsetDateTime,
    cancel: Cancel,
) -> berth_engine::Result<i32> {
    if condition == "not-running" {
        return engine.wait_container(&row.id);
    }
    // The container's next `die` (and, for `removed`, its `destroy`), from
    // the event log: nothing that happens after the request is missed.
    let filters = EventFilters::parse(&["type=container".into(), format!("container={}", row.id)])?;
    let options = EventsOptions {
        since: Some(since),
        until: None,
        filters,
        cancel: Some(cancel),
    };
    let mut code = None;
    if condition == "removed" && !row.state.is_live() && !row.config.host.auto_remove {
        // Not going to be removed by itself: wait for someone's rm.
        code = Some(row.exit_code);
    }
    engine.events(&options, |e| match e.action.as_str() {
        "die" => {
            code = e
                .attributes
                .get("exitCode")
                .and_then(|c| c.parse().ok())
                .or(Some(0));
            Ok(condition == "removed")
        }
        "destroy" => Ok(false),
        _ => Ok(true),
    })?;
    Ok(code.unwrap_or(0))
}

async fn remove(state: State, Path(id): Path<String>, Query(q): Q) -> ApiResult<StatusCode> {
    let force = query::truthy(q.get("force"));
    let volumes = query::truthy(q.get("v"));
    if query::truthy(q.get("link")) {
        return Err(ApiError::bad_request("links are not supported"));
    }
    blocking(
        &state,
        move |e| Ok(e.remove_container(&id, force, volumes)?),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn prune(state: State, Query(q): Q) -> ApiResult<Json<Value>> {
    let filters = query::filters(q.get("filters"))?;
    let (deleted, reclaimed) = blocking(&state, move |e| {
        let filters = berth_engine::containers::prune::ContainerPruneFilters::parse(&filters)?;
        Ok(e.prune_containers(&filters)?)
    })
    .await?;
    Ok(Json(
        json!({"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}),
    ))
}
