//! `POST /build` (the classic builder's protocol: a tar context as the
//! body, the options as query parameters, a JSON stream of `stream`,
//! `aux` and `error` lines) and `POST /build/prune`.
//!
//! The engine's build runs as `berth build` runs it; its steps are told
//! in the classic builder's words (`Step 1/4 : RUN …`, ` ---> Using
//! cache`, `Successfully built …`, `Successfully tagged …`), the image ID
//! as an `aux` line, so `DOCKER_BUILDKIT=0 docker build`, docker-py's
//! `images.build` and compose read it as they read dockerd's. BuildKit's
//! session protocol (`version=2`) is refused with the way out.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::response::Response;
use axum::routing::post;
use berth_engine::build::{BuildEvent, BuildOptions, BuildProgress};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{ApiError, ApiResult};
use crate::{Daemon, State, blocking};

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
        .route("/session", post(no_session))
}

/// BuildKit's session endpoint: not served (the classic protocol is).
async fn no_session() -> ApiError {
    ApiError::not_implemented(NO_BUILDKIT)
}

const NO_BUILDKIT: &str = "berth daemon has the classic builder's protocol only, not BuildKit's sessions: build with DOCKER_BUILDKIT=0 (or `berth build`)";

/// The query as (key, value) pairs, repeated keys kept (`t=a&t=b`).
fn pairs(raw: Option<String>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Query decoding: `%XX` and `+` for a space (Go's url.Values).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// The build's options from the query.
fn options(q: &[(String, String)]) -> ApiResult<BuildOptions> {
    let get = |k: &str| {
        q.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let truthy = |k: &str| matches!(get(k), Some("1" | "true" | "True"));
    let json_map = |k: &str| -> ApiResult<BTreeMap<String, Option<String>>> {
        match get(k) {
            None => Ok(BTreeMap::new()),
            // The CLI sends `null` for none.
            Some(v) => serde_json::from_str::<Option<BTreeMap<String, Option<String>>>>(v)
                .map(Option::unwrap_or_default)
                .map_err(|e| bad(format!("invalid {k}: {e}"))),
        }
    };
    if get("version") == Some("2") {
        return Err(bad(NO_BUILDKIT));
    }
    if let Some(remote) = get("remote") {
        return Err(bad(format!(
            "remote build contexts ({remote}) are not supported by berth: send the context"
        )));
    }
    let mut o = BuildOptions {
        tags: q
            .iter()
            .filter(|(k, v)| k == "t" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
        target: get("target").map(str::to_string),
        no_cache: truthy("nocache"),
        pull: truthy("pull"),
        network: match get("networkmode") {
            None | Some("default") => String::new(),
            Some(n) => n.to_string(),
        },
        platform: get("platform").map(str::to_string),
        ..BuildOptions::default()
    };
    if let Some(f) = get("dockerfile") {
        let path = PathBuf::from(f);
        if path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
            return Err(bad(format!(
                "the Dockerfile ({f}) must be within the build context"
            )));
        }
        o.dockerfile = Some(path);
    }
    for (k, v) in json_map("buildargs")? {
        if let Some(v) = v {
            o.build_args.insert(k, v);
        }
    }
    for (k, v) in json_map("labels")? {
        o.labels.insert(k, v.unwrap_or_default());
    }
    let host = &mut o.run_host;
    let number = |k: &str| -> ApiResult<i64> {
        get(k)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad(format!("invalid {k}: {v}")))
            })
            .transpose()
            .map(|n| n.unwrap_or(0))
    };
    host.resources.memory = number("memory")?;
    host.resources.memory_swap = number("memswap")?;
    host.resources.cpu_shares = number("cpushares")?.max(0) as u64;
    host.resources.cpu_period = number("cpuperiod")?.max(0) as u64;
    host.resources.cpu_quota = number("cpuquota")?;
    host.resources.cpuset_cpus = get("cpusetcpus").unwrap_or_default().to_string();
    host.resources.cpuset_mems = get("cpusetmems").unwrap_or_default().to_string();
    host.shm_size = number("shmsize")?;
    host.cgroup_parent = get("cgroupparent").unwrap_or_default().to_string();
    if let Some(hosts) = get("extrahosts") {
        host.extra_hosts = hosts.split(',').map(str::to_string).collect();
    }
    if let Some(u) = get("ulimits") {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Ulimit {
            name: String,
            soft: i64,
            hard: i64,
        }
        let list: Vec<Ulimit> = serde_json::from_str::<Option<Vec<Ulimit>>>(u)
            .map_err(|e| bad(format!("invalid ulimits: {e}")))?
            .unwrap_or_default();
        host.ulimits = list
            .into_iter()
            .map(|u| berth_engine::containers::config::Ulimit {
                name: u.name,
                soft: u.soft,
                hard: u.hard,
            })
            .collect();
    }
    if let Some(i) = get("isolation").filter(|i| *i != "default") {
        return Err(bad(format!(
            "Invalid isolation: {i:?} - Linux only supports 'default'"
        )));
    }
    Ok(o)
}

/// The classic builder's lines for the engine's events.
struct ClassicProgress {
    tx: UnboundedSender<Value>,
    quiet: bool,
}

impl ClassicProgress {
    fn stream(&self, text: String) {
        if !self.quiet {
            let _ = self.tx.send(json!({ "stream": text }));
        }
    }
}

impl BuildProgress for ClassicProgress {
    fn event(&self, event: BuildEvent<'_>) {
        match event {
            BuildEvent::Instruction {
                number,
                total,
                text,
            } => self.stream(format!("Step {number}/{total} : {text}\n")),
            BuildEvent::Start { .. } => {}
            BuildEvent::Output { data, .. } => {
                self.stream(String::from_utf8_lossy(data).into_owned());
            }
            BuildEvent::Cached { .. } => self.stream(" ---> Using cache\n".into()),
            BuildEvent::Done { .. } => {}
            BuildEvent::Error { message, .. } => self.stream(format!("{message}\n")),
            BuildEvent::Note { text, .. } => {
                if let Some(id) = text
                    .strip_prefix("writing image ")
                    .and_then(|t| t.strip_suffix(" done"))
                {
                    let _ = self.tx.send(json!({"aux": {"ID": id}}));
                    let short = id.trim_start_matches("sha256:").get(..12).unwrap_or(id);
                    self.stream(format!("Successfully built {short}\n"));
                } else if let Some(name) = text
                    .strip_prefix("naming to ")
                    .and_then(|t| t.strip_suffix(" done"))
                {
                    let familiar = berth_image::Reference::parse_normalized(name)
                        .map(|r| r.familiar_string())
                        .unwrap_or_else(|_| name.to_string());
                    self.stream(format!("Successfully tagged {familiar}\n"));
                }
            }
        }
    }
}

async fn build(state: State, RawQuery(raw): RawQuery, body: Body) -> ApiResult<Response> {
    let q = pairs(raw);
    let mut options = options(&q)?;
    let quiet = q
        .iter()
        .any(|(k, v)| k == "q" && matches!(v.as_str(), "1" | "true"));
    let reader = crate::images::body_reader(body);
    // The context first: a bad archive is the response's status.
    let context = blocking(&state, move |e| Ok(e.unpack_build_context(reader)?)).await?;
    options.context = context.path().to_path_buf();
    let engine = state.engine.clone();
    crate::images::json_stream(move |tx| {
        crate::images::on_thread(move || {
            let progress = ClassicProgress {
                tx: tx.clone(),
                quiet,
            };
            let outcome = engine.build(&options, &progress);
            drop(context);
            let outcome = outcome?;
            let mut tail = Vec::new();
            if quiet {
                tail.push(json!({"aux": {"ID": outcome.image.to_string()}}));
                tail.push(json!({"stream": format!("{}\n", outcome.image)}));
            }
            Ok(tail)
        })
    })
    .await
}

/// `POST /build/prune?all=&filters=&keep-storage=`.
async fn prune(state: State, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let q = pairs(raw);
    let get = |k: &str| {
        q.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let filters = crate::query::filters(get("filters").as_ref())?;
    let mut older_than = None;
    for f in &filters {
        match f.split_once('=') {
            Some(("until", d)) => {
                older_than = Some(
                    berth_engine::containers::parse::parse_go_duration("until", d).map_err(
                        |_| {
                            bad(format!(
                                "failed to prune build cache: invalid filter 'until={d}'"
                            ))
                        },
                    )?,
                )
            }
            Some((key, _)) => {
                return Err(bad(format!(
                    "failed to prune build cache: Invalid filter '{key}'"
                )));
            }
            None => return Err(bad(format!("invalid filter {f:?}"))),
        }
    }
    let keep = get("keep-storage")
        .filter(|k| !k.is_empty() && k != "0")
        .map(|k| {
            k.parse::<u64>()
                .map_err(|_| bad(format!("invalid keep-storage: {k}")))
        })
        .transpose()?;
    let (_, reclaimed) =
        blocking(&state, move |e| Ok(e.prune_build_cache(older_than, keep)?)).await?;
    Ok(Json(
        json!({"CachesDeleted": [], "SpaceReclaimed": reclaimed}),
    ))
}
