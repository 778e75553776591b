//! `POST /containers/create`: Docker's `Config` + `HostConfig` +
//! `NetworkingConfig` into the engine's [`CreateRequest`]. Fields Docker
//! has and berth does not act on are accepted when they ask for nothing
//! (zero, empty, the default) and refused by name otherwise.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use berth_engine::containers::config::{
    DeviceSpec, HealthConfig, LogConfig, ThrottleDevice, WeightDevice,
};
use berth_engine::containers::parse;
use berth_engine::containers::{
    ContainerConfig, CreateRequest, EndpointConfig, HostConfig, MountKind, MountSpec, PortBinding,
    Resources, RestartPolicy,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::{State, blocking};

/// A JSON body, with Docker's word for one that does not parse.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad_request("empty request body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// `Cmd`/`Entrypoint`: a list, or (older clients) one string.
#[derive(Deserialize, Default, Clone)]
#[serde(untagged)]
enum StrOrList {
    #[default]
    Null,
    One(String),
    Many(Vec<String>),
}

impl StrOrList {
    fn into_list(self) -> Option<Vec<String>> {
        match self {
            StrOrList::Null => None,
            StrOrList::One(s) => Some(vec![s]),
            StrOrList::Many(v) => Some(v),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireConfig {
    hostname: String,
    domainname: String,
    user: String,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: StrOrList,
    entrypoint: StrOrList,
    image: String,
    labels: Option<BTreeMap<String, String>>,
    working_dir: String,
    exposed_ports: Option<BTreeMap<String, Value>>,
    stop_signal: Option<String>,
    stop_timeout: Option<i64>,
    mac_address: Option<String>,
    healthcheck: Option<HealthConfig>,
    host_config: Option<WireHostConfig>,
    networking_config: Option<WireNetworking>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct WireRestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

impl WireRestartPolicy {
    pub fn into_engine(self) -> ApiResult<RestartPolicy> {
        let spec = if self.maximum_retry_count > 0 {
            format!("{}:{}", self.name, self.maximum_retry_count)
        } else {
            self.name
        };
        RestartPolicy::parse(&spec).map_err(ApiError::bad_request)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireHostConfig {
    binds: Option<Vec<String>>,
    mounts: Option<Vec<WireMount>>,
    tmpfs: Option<BTreeMap<String, String>>,
    port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    publish_all_ports: bool,
    restart_policy: WireRestartPolicy,
    auto_remove: bool,
    network_mode: String,
    privileged: bool,
    readonly_rootfs: bool,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    security_opt: Option<Vec<String>>,
    devices: Option<Vec<WireDevice>>,
    init: Option<bool>,
    memory: i64,
    memory_swap: i64,
    memory_reservation: i64,
    nano_cpus: i64,
    cpu_shares: u64,
    cpu_quota: i64,
    cpu_period: u64,
    cpuset_cpus: String,
    cpuset_mems: String,
    pids_limit: Option<i64>,
    ulimits: Option<Vec<WireUlimit>>,
    cgroup_parent: String,
    shm_size: i64,
    dns: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    extra_hosts: Option<Vec<String>>,
    log_config: Option<LogConfig>,
    volumes_from: Option<Vec<String>>,
    links: Option<Vec<String>>,
    runtime: String,
    group_add: Option<Vec<String>>,
    sysctls: Option<BTreeMap<String, String>>,
    oom_score_adj: i32,
    ipc_mode: String,
    pid_mode: String,
    #[serde(rename = "UTSMode")]
    uts_mode: String,
    cgroupns_mode: String,
    userns_mode: String,
    annotations: Option<BTreeMap<String, String>>,
    device_cgroup_rules: Option<Vec<String>>,
    isolation: String,
    oom_kill_disable: Option<bool>,
    memory_swappiness: Option<i64>,
    blkio_weight: u16,
    blkio_weight_device: Option<Vec<WeightDevice>>,
    blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireMount {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    bind_options: Option<WireBindOptions>,
    tmpfs_options: Option<WireTmpfsOptions>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireBindOptions {
    propagation: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireTmpfsOptions {
    size_bytes: i64,
    mode: u32,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireDevice {
    path_on_host: String,
    path_in_container: String,
    cgroup_permissions: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireUlimit {
    name: String,
    soft: i64,
    hard: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireNetworking {
    endpoints_config: Option<BTreeMap<String, Option<WireEndpoint>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct WireEndpoint {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<WireIpam>,
    mac_address: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireIpam {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
}

fn mount_of(m: WireMount) -> ApiResult<MountSpec> {
    let kind = match m.kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            )));
        }
    };
    if m.target.is_empty() {
        return Err(ApiError::bad_request(
            "invalid mount config: Target must not be empty",
        ));
    }
    let mut options = Vec::new();
    if let Some(b) = m.bind_options.filter(|b| !b.propagation.is_empty()) {
        options.push(b.propagation);
    }
    if let Some(t) = m.tmpfs_options {
        if t.size_bytes > 0 {
            options.push(format!("size={}", t.size_bytes));
        }
        if t.mode > 0 {
            options.push(format!("mode={:o}", t.mode));
        }
    }
    if kind == MountKind::Bind && m.source.is_empty() {
        return Err(ApiError::bad_request(
            "invalid mount config for type \"bind\": field Source must not be empty",
        ));
    }
    Ok(MountSpec {
        anonymous: kind == MountKind::Volume && m.source.is_empty(),
        kind,
        source: m.source,
        target: m.target,
        read_only: m.read_only,
        options,
    })
}

fn request_of(name: Option<String>, w: WireConfig) -> ApiResult<CreateRequest> {
    if w.image.is_empty() {
        return Err(ApiError::bad_request("no image specified"));
    }
    let h = w.host_config.unwrap_or_default();
    if h.links.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::not_implemented(
            "Links are not supported (use a user network)",
        ));
    }
    if !matches!(h.runtime.as_str(), "" | "runc" | "berth") {
        return Err(ApiError::bad_request(format!(
            "unknown or invalid runtime name: {}",
            h.runtime
        )));
    }
    let mut mounts = Vec::new();
    for b in h.binds.unwrap_or_default() {
        mounts.push(parse::parse_volume(&b)?);
    }
    for m in h.mounts.unwrap_or_default() {
        mounts.push(mount_of(m)?);
    }
    for (target, opts) in h.tmpfs.unwrap_or_default() {
        let spec = if opts.is_empty() {
            target
        } else {
            format!("{target}:{opts}")
        };
        mounts.push(parse::parse_tmpfs(&spec)?);
    }
    let devices = h
        .devices
        .unwrap_or_default()
        .into_iter()
        .map(|d| DeviceSpec {
            container_path: if d.path_in_container.is_empty() {
                d.path_on_host.clone()
            } else {
                d.path_in_container
            },
            host_path: d.path_on_host,
            permissions: if d.cgroup_permissions.is_empty() {
                "rwm".into()
            } else {
                d.cgroup_permissions
            },
        })
        .collect();
    let ulimits = h
        .ulimits
        .unwrap_or_default()
        .into_iter()
        .map(|u| berth_engine::containers::config::Ulimit {
            name: u.name,
            soft: u.soft,
            hard: u.hard,
        })
        .collect();
    let restart = if h.restart_policy.name.is_empty() {
        RestartPolicy::parse("no").map_err(ApiError::bad_request)?
    } else {
        h.restart_policy.into_engine()?
    };
    if h.auto_remove && restart.name != "no" {
        return Err(ApiError::bad_request(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    let port_bindings = h
        .port_bindings
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    // The first endpoint named is the container's main network.
    let mut networks = BTreeMap::new();
    let mode = h.network_mode.clone();
    let endpoints = w
        .networking_config
        .and_then(|n| n.endpoints_config)
        .unwrap_or_default();
    let main = endpoints
        .iter()
        .find(|(k, _)| **k == mode)
        .or(endpoints.iter().next());
    let endpoint = match main.and_then(|(_, e)| e.as_ref()) {
        Some(e) => EndpointConfig {
            aliases: e.aliases.clone().unwrap_or_default(),
            ipv4_address: e
                .ipam_config
                .as_ref()
                .map(|i| i.ipv4_address.clone())
                .filter(|a| !a.is_empty()),
            mac_address: Some(e.mac_address.clone())
                .filter(|m| !m.is_empty())
                .or(w.mac_address.clone().filter(|m| !m.is_empty())),
            connected: false,
        },
        None => EndpointConfig {
            mac_address: w.mac_address.clone().filter(|m| !m.is_empty()),
            ..EndpointConfig::default()
        },
    };
    networks.insert(mode.clone(), endpoint);
    let entrypoint = w.entrypoint.into_list();
    Ok(CreateRequest {
        name: name.filter(|n| !n.is_empty()),
        entrypoint_set: entrypoint.is_some(),
        build_step: false,
        config: ContainerConfig {
            image: w.image,
            entrypoint: entrypoint.map(|e| if e.is_empty() { vec![String::new()] } else { e }),
            cmd: w.cmd.into_list().unwrap_or_default(),
            env: w.env.unwrap_or_default(),
            working_dir: w.working_dir,
            user: w.user,
            hostname: w.hostname,
            domainname: w.domainname,
            labels: w.labels.unwrap_or_default(),
            tty: w.tty,
            open_stdin: w.open_stdin,
            stdin_once: w.stdin_once,
            stop_signal: w.stop_signal.filter(|s| !s.is_empty()),
            stop_timeout: w.stop_timeout,
            exposed_ports: w.exposed_ports.unwrap_or_default().into_keys().collect(),
            image_volumes: Vec::new(),
            networks,
            init_binary: None,
            healthcheck: w.healthcheck,
            host: HostConfig {
                mounts,
                read_only: h.readonly_rootfs,
                privileged: h.privileged,
                cap_add: h.cap_add.unwrap_or_default(),
                cap_drop: h.cap_drop.unwrap_or_default(),
                security_opt: h.security_opt.unwrap_or_default(),
                devices,
                init: h.init.unwrap_or(false),
                network_mode: mode,
                auto_remove: h.auto_remove,
                restart,
                resources: Resources {
                    memory: h.memory,
                    memory_swap: h.memory_swap,
                    memory_reservation: h.memory_reservation,
                    nano_cpus: h.nano_cpus,
                    cpu_shares: h.cpu_shares,
                    cpu_quota: h.cpu_quota,
                    cpu_period: h.cpu_period,
                    cpuset_cpus: h.cpuset_cpus,
                    cpuset_mems: h.cpuset_mems,
                    pids_limit: h.pids_limit.unwrap_or(0),
                    oom_kill_disable: h.oom_kill_disable.unwrap_or(false),
                    memory_swappiness: h.memory_swappiness,
                    blkio_weight: h.blkio_weight,
                    blkio_weight_device: h.blkio_weight_device.unwrap_or_default(),
                    blkio_device_read_bps: h.blkio_device_read_bps.unwrap_or_default(),
                    blkio_device_write_bps: h.blkio_device_write_bps.unwrap_or_default(),
                    blkio_device_read_iops: h.blkio_device_read_iops.unwrap_or_default(),
                    blkio_device_write_iops: h.blkio_device_write_iops.unwrap_or_default(),
                },
                ulimits,
                cgroup_parent: h.cgroup_parent,
                shm_size: h.shm_size,
                port_bindings,
                publish_all_ports: h.publish_all_ports,
                dns: h.dns.unwrap_or_default(),
                dns_search: h.dns_search.unwrap_or_default(),
                dns_options: h.dns_options.unwrap_or_default(),
                extra_hosts: h.extra_hosts.unwrap_or_default(),
                group_add: h.group_add.unwrap_or_default(),
                sysctls: h.sysctls.unwrap_or_default(),
                oom_score_adj: h.oom_score_adj,
                ipc_mode: h.ipc_mode,
                pid_mode: h.pid_mode,
                uts_mode: h.uts_mode,
                cgroupns_mode: h.cgroupns_mode,
                userns_mode: h.userns_mode,
                annotations: h.annotations.unwrap_or_default(),
                device_cgroup_rules: h.device_cgroup_rules.unwrap_or_default(),
                volumes_from: h.volumes_from.unwrap_or_default(),
                log_config: h.log_config.unwrap_or_default(),
                runtime: h.runtime,
                isolation: h.isolation,
            },
        },
    })
}

pub async fn create(
    state: State,
    Query(q): Query<HashMap<String, String>>,
    body: bytes::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let wire: WireConfig = parse_body(&body)?;
    let request = request_of(q.get("name").cloned(), wire)?;
    let created = blocking(&state, move |e| Ok(e.create_container(&request)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": created.id, "Warnings": created.warnings})),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cli_body() {
        let body = br#"{"Hostname":"","Domainname":"","User":"","AttachStdin":true,"Tty":true,
            "OpenStdin":true,"StdinOnce":true,"Env":[],"Cmd":["sh"],"Image":"busybox",
            "Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},
            "HostConfig":{"Binds":["/tmp:/ctr:ro"],"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
            "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"LogConfig":{"Type":"","Config":{}},
            "Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576}}],"Unknown":1},
            "NetworkingConfig":{"EndpointsConfig":{}}}"#;
        let w: WireConfig = parse_body(body).unwrap();
        let r = request_of(Some("b1".into()), w).unwrap();
        assert_eq!(r.name.as_deref(), Some("b1"));
        assert!(!r.entrypoint_set);
        assert_eq!(r.config.cmd, ["sh"]);
        assert!(r.config.tty && r.config.open_stdin && r.config.stdin_once);
        assert_eq!(r.config.host.mounts.len(), 2);
        assert!(r.config.host.mounts[0].read_only);
        assert_eq!(r.config.host.mounts[1].options, ["size=1048576"]);
        assert_eq!(r.config.host.port_bindings["80/tcp"][0].host_port, "8080");
        assert!(r.config.host.auto_remove);
    }

    #[test]
    fn wrong_types_are_400() {
        let e = parse_body::<WireConfig>(br#"{"Image":"busybox","Tty":"yes"}"#)
            .err()
            .unwrap();
        assert_eq!(e.status, 400);
        assert_eq!(parse_body::<WireConfig>(b"{").err().unwrap().status, 400);
        let w: WireConfig =
            parse_body(br#"{"Image":"b","HostConfig":{"LogConfig":{"Type":"syslog"}}}"#).unwrap();
        // Carried to the engine, which refuses a driver it lacks (400).
        let r = request_of(None, w).unwrap();
        assert_eq!(r.config.host.log_config.kind, "syslog");
    }
}
