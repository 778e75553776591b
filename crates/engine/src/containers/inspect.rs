//! `inspect` of a container in Docker's shape, and the sizes `ps -s` shows.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::config::MountKind;
use super::record::{ContainerRow, State};
use crate::Engine;
use crate::error::Result;
use crate::images::resolve;
use crate::monitor::log::log_path;

/// RFC 3339 with nanoseconds, or Go's zero time for "never".
pub fn rfc3339(nanos: i64) -> String {
    if nanos == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos as i128)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn dir_size(path: &std::path::Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    for e in entries.flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => total += dir_size(&e.path()),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}

impl Engine {
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.paths.container_dir(id)
    }

    /// The image ID (`sha256:…`) a name resolves to.
    pub fn image_id_of(&self, name: &str) -> Result<String> {
        Ok(self.db.read(|c| resolve::resolve_id(c, name))?.to_string())
    }

    /// (writable layer bytes, plus the image's: the "virtual" size).
    pub fn container_size(&self, id: &str) -> (u64, u64) {
        let rw = dir_size(&self.paths.container_dir(id).join("diff"));
        let image = self
            .db
            .read(|c| super::record::image_size_of(c, id))
            .unwrap_or(0);
        (rw, rw + image as u64)
    }

    /// A container's entry under `NetworkSettings.Networks`: its lease on
    /// the network while it runs, empty otherwise (as Docker's).
    fn endpoint_json(&self, id: &str, network: &str) -> Value {
        let mut out = self.endpoint_fields(id, network);
        // The fields Docker's endpoint settings always have.
        if let Some(o) = out.as_object_mut() {
            for (k, v) in [
                ("IPAMConfig", Value::Null),
                ("Links", Value::Null),
                ("Aliases", Value::Null),
                ("DriverOpts", Value::Null),
                ("IPv6Gateway", json!("")),
                ("GlobalIPv6Address", json!("")),
                ("GlobalIPv6PrefixLen", json!(0)),
                ("DNSNames", Value::Null),
            ] {
                o.entry(k).or_insert(v);
            }
        }
        out
    }

    fn endpoint_fields(&self, id: &str, network: &str) -> Value {
        let empty = json!({
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "MacAddress": "",
        });
        let Ok(n) = self.network(network) else {
            return empty;
        };
        let lease = self
            .db
            .read(|c| crate::networks::leases::of_container(c, id))
            .unwrap_or_default()
            .into_iter()
            .find(|l| l.network_id == n.id);
        match lease {
            Some(l) => json!({
                "NetworkID": n.id,
                "EndpointID": crate::networks::endpoint_id(&n.id, id),
                "Gateway": n.gateway.map(|g| g.to_string()).unwrap_or_default(),
                "IPAddress": l.ip.to_string(),
                "IPPrefixLen": n.subnet.map(|s| s.prefix).unwrap_or(0),
                "MacAddress": l.mac,
            }),
            None => json!({
                "NetworkID": if n.builtin { String::new() } else { n.id },
                "EndpointID": "", "Gateway": "", "IPAddress": "",
                "IPPrefixLen": 0, "MacAddress": "",
            }),
        }
    }

    /// `NetworkSettings`: the endpoint on the container's network (Docker
    /// repeats the default bridge's at the top level) and, while it runs,
    /// every exposed port with its host sides (null if unpublished).
    fn network_settings(&self, row: &ContainerRow) -> Value {
        let network = &row.config.host.network_mode;
        let endpoint = self.endpoint_json(&row.id, network);
        let running = row.state.is_live();
        let mut ports = serde_json::Map::new();
        if running && !matches!(network.as_str(), "host" | "none") {
            let published = self.published_ports(&row.id).unwrap_or_default();
            for key in &row.config.exposed_ports {
                ports.insert(key.clone(), Value::Null);
            }
            for p in &published {
                let key = format!("{}/{}", p.container_port, p.protocol);
                let entry = ports.entry(key).or_insert(Value::Null);
                if entry.is_null() {
                    *entry = json!([]);
                }
                if let Some(list) = entry.as_array_mut() {
                    list.push(json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}));
                }
            }
        }
        // Every network it is on: its first, then those it was connected to.
        let mut networks = serde_json::Map::new();
        let disconnected = !matches!(network.as_str(), "" | "host" | "none")
            && !network.starts_with("container:")
            && !row.config.networks.contains_key(network);
        if !disconnected {
            networks.insert(network.clone(), endpoint.clone());
        }
        for name in row.config.networks.keys().filter(|n| *n != network) {
            networks.insert(name.clone(), self.endpoint_json(&row.id, name));
        }
        for (name, value) in networks.iter_mut() {
            let Some(config) = row.config.networks.get(name) else {
                continue;
            };
            if name == "bridge" {
                continue;
            }
            // User networks: the names the network's resolver answers.
            let mut dns_names = vec![json!(row.name), json!(&row.id[..12])];
            dns_names.extend(config.aliases.iter().map(|a| json!(a)));
            value["Aliases"] = if config.aliases.is_empty() {
                Value::Null
            } else {
                json!(config.aliases)
            };
            value["DNSNames"] = Value::Array(dns_names);
            if let Some(ip) = &config.ipv4_address {
                value["IPAMConfig"] = json!({"IPv4Address": ip});
            }
        }
        let top = |k: &str| -> Value {
            if network == "bridge" {
                endpoint.get(k).cloned().unwrap_or(Value::Null)
            } else {
                json!("")
            }
        };
        json!({
            "Bridge": "", "SandboxID": "", "HairpinMode": false,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports,
            "SandboxKey": if running { format!("/proc/{}/ns/net", row.pid) } else { String::new() },
            "SecondaryIPAddresses": Value::Null, "SecondaryIPv6Addresses": Value::Null,
            "EndpointID": top("EndpointID"),
            "Gateway": top("Gateway"),
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": top("IPAddress"),
            "IPPrefixLen": if network == "bridge" { endpoint.get("IPPrefixLen").cloned().unwrap_or(json!(0)) } else { json!(0) },
            "IPv6Gateway": "",
            "MacAddress": top("MacAddress"),
            "Networks": networks,
        })
    }

    pub fn inspect_container(&self, row: &ContainerRow) -> Value {
        let c = &row.config;
        let h = &c.host;
        let dir = self.paths.container_dir(&row.id);
        let mut args = c.entrypoint.clone().unwrap_or_default();
        args.extend(c.cmd.iter().cloned());
        let (path, rest) = match args.split_first() {
            Some((p, r)) => (p.clone(), r.to_vec()),
            None => (String::new(), Vec::new()),
        };
        let mounts: Vec<Value> = h
            .mounts
            .iter()
            .map(|m| {
                let (kind, name, source) = match m.kind {
                    MountKind::Bind => ("bind", String::new(), m.source.clone()),
                    MountKind::Volume => (
                        "volume",
                        m.source.clone(),
                        self.paths.volume_data(&m.source).display().to_string(),
                    ),
                    MountKind::Tmpfs => ("tmpfs", String::new(), String::new()),
                };
                let mut v = json!({
                    "Type": kind, "Source": source, "Destination": m.target,
                    "Mode": if m.read_only { "ro" } else { "" }, "RW": !m.read_only,
                    "Propagation": if m.kind == MountKind::Bind { "rprivate" } else { "" },
                });
                if m.kind == MountKind::Volume {
                    v["Name"] = name.into();
                    v["Driver"] = "local".into();
                }
                v
            })
            .collect();
        let binds: Vec<String> = h
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Bind)
            .map(|m| {
                format!(
                    "{}:{}{}",
                    m.source,
                    m.target,
                    if m.read_only { ":ro" } else { "" }
                )
            })
            .collect();
        let tmpfs: serde_json::Map<String, Value> = h
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Tmpfs)
            .map(|m| (m.target.clone(), Value::from(m.options.join(","))))
            .collect();
        let r = &h.resources;
        let network = h.network_mode.clone();
        let empty_object = |keys: &[String]| -> Value {
            if keys.is_empty() {
                Value::Null
            } else {
                Value::Object(keys.iter().map(|k| (k.clone(), json!({}))).collect())
            }
        };
        let health = self
            .db
            .read(|c| super::health::get(c, &row.id))
            .ok()
            .flatten()
            .filter(|_| {
                c.healthcheck
                    .as_ref()
                    .is_some_and(|h| h.probe_args().is_some())
            });
        let mut doc = json!({
            "Id": row.id,
            "Created": rfc3339(row.created_at),
            "Path": path,
            "Args": rest,
            "State": {
                "Status": row.state.docker_status(),
                "Running": matches!(row.state, State::Running | State::Paused | State::Starting),
                "Paused": row.state == State::Paused,
                "Restarting": false,
                "OOMKilled": row.oom_killed,
                "Dead": false,
                "Pid": row.pid,
                "ExitCode": row.exit_code,
                "Error": row.error,
                "StartedAt": rfc3339(row.started_at),
                "FinishedAt": rfc3339(row.finished_at),
            },
            "Image": row.image_id,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": log_path(&dir, &row.id),
            "Name": format!("/{}", row.name),
            "RestartCount": row.restart_count,
            "Driver": "overlay",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": Value::Null,
            "HostConfig": {
                "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
                "LogConfig": log_config(&h.log_config, &self.config),
                "NetworkMode": network,
                "PortBindings": h.port_bindings,
                "PublishAllPorts": h.publish_all_ports,
                "RestartPolicy": {"Name": h.restart.name, "MaximumRetryCount": h.restart.maximum_retry_count},
                "AutoRemove": h.auto_remove,
                "CapAdd": if h.cap_add.is_empty() { Value::Null } else { json!(h.cap_add) },
                "CapDrop": if h.cap_drop.is_empty() { Value::Null } else { json!(h.cap_drop) },
                "Privileged": h.privileged,
                "ReadonlyRootfs": h.read_only,
                "SecurityOpt": if h.security_opt.is_empty() { Value::Null } else { json!(h.security_opt) },
                "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
                "ShmSize": if h.shm_size > 0 { h.shm_size } else { 64 << 20 },
                "CgroupParent": h.cgroup_parent,
                "Memory": r.memory,
                "MemorySwap": r.memory_swap,
                "MemoryReservation": r.memory_reservation,
                "NanoCpus": r.nano_cpus,
                "CpuShares": r.cpu_shares,
                "CpuPeriod": r.cpu_period,
                "CpuQuota": r.cpu_quota,
                "CpusetCpus": r.cpuset_cpus,
                "CpusetMems": r.cpuset_mems,
                "PidsLimit": if r.pids_limit > 0 { json!(r.pids_limit) } else { Value::Null },
                "Ulimits": h.ulimits.iter().map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
                "Devices": h.devices.iter().map(|d| json!({"PathOnHost": d.host_path, "PathInContainer": d.container_path, "CgroupPermissions": d.permissions})).collect::<Vec<_>>(),
                "Init": h.init,
                "GroupAdd": null_if_empty(&h.group_add),
                "Sysctls": if h.sysctls.is_empty() { Value::Null } else { json!(h.sysctls) },
                "OomScoreAdj": h.oom_score_adj,
                "OomKillDisable": r.oom_kill_disable,
                "MemorySwappiness": r.memory_swappiness,
                "IpcMode": if h.ipc_mode.is_empty() { "private" } else { &h.ipc_mode },
                "PidMode": h.pid_mode,
                "UTSMode": h.uts_mode,
                "CgroupnsMode": if h.cgroupns_mode.is_empty() {
                    if berth_runtime::host_cgroup_is_v2() { "private" } else { "host" }
                } else {
                    &h.cgroupns_mode
                },
                "UsernsMode": h.userns_mode,
                "Annotations": if h.annotations.is_empty() { Value::Null } else { json!(h.annotations) },
                "DeviceCgroupRules": null_if_empty(&h.device_cgroup_rules),
                "VolumesFrom": null_if_empty(&h.volumes_from),
                "Runtime": if h.runtime.is_empty() { crate::runtimes::DEFAULT_RUNTIME } else { &h.runtime },
                "Isolation": h.isolation,
                "BlkioWeight": r.blkio_weight,
                "BlkioWeightDevice": r.blkio_weight_device,
                "BlkioDeviceReadBps": r.blkio_device_read_bps,
                "BlkioDeviceWriteBps": r.blkio_device_write_bps,
                "BlkioDeviceReadIOps": r.blkio_device_read_iops,
                "BlkioDeviceWriteIOps": r.blkio_device_write_iops,
                "Dns": h.dns,
                "DnsOptions": h.dns_options,
                "DnsSearch": h.dns_search,
                "ExtraHosts": null_if_empty(&h.extra_hosts),
            },
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "UpperDir": dir.join("diff"),
                    "WorkDir": dir.join("work"),
                    "MergedDir": dir.join("rootfs"),
                },
            },
            "Mounts": mounts,
            "Config": {
                "Hostname": c.hostname,
                "Domainname": c.domainname,
                "User": c.user,
                "AttachStdin": c.open_stdin && c.stdin_once,
                "AttachStdout": true,
                "AttachStderr": true,
                "ExposedPorts": empty_object(&c.exposed_ports),
                "Tty": c.tty,
                "OpenStdin": c.open_stdin,
                "StdinOnce": c.stdin_once,
                "Env": if c.env.is_empty() { Value::Null } else { json!(c.env) },
                "Cmd": if c.cmd.is_empty() { Value::Null } else { json!(c.cmd) },
                "Image": c.image,
                "Volumes": empty_object(&c.image_volumes),
                "WorkingDir": c.working_dir,
                "Entrypoint": c.entrypoint,
                "OnBuild": Value::Null,
                "Labels": c.labels,
                "StopSignal": c.stop_signal,
                "StopTimeout": c.stop_timeout,
                "Healthcheck": c.healthcheck,
            },
            "NetworkSettings": self.network_settings(row),
        });
        if let Some(h) = health {
            doc["State"]["Health"] = h.docker_json();
        }
        // Docker's Config leaves these out when unset (`omitempty`), so
        // `{{json .Config}}` prints what docker prints.
        if let Some(config) = doc["Config"].as_object_mut() {
            for key in ["ExposedPorts", "StopSignal", "StopTimeout", "Healthcheck"] {
                if config.get(key).is_some_and(Value::is_null) {
                    config.shift_remove(key);
                }
            }
        }
        // The rest of docker's keys: what berth does not have (swarm,
        // Windows, realtime cgroups, device requests), at docker's value
        // for "unset".
        let unset = json!({
            "ContainerIDFile": "",
            "VolumeDriver": "",
            "Links": Value::Null,
            "Cgroup": "",
            "ConsoleSize": [0, 0],
            "CpuRealtimePeriod": 0,
            "CpuRealtimeRuntime": 0,
            "DeviceRequests": Value::Null,
            "CpuCount": 0,
            "CpuPercent": 0,
            "IOMaximumIOps": 0,
            "IOMaximumBandwidth": 0,
            "MaskedPaths": if h.privileged { Value::Null } else { json!(super::spec::MASKED_PATHS) },
            "ReadonlyPaths": if h.privileged { Value::Null } else { json!(super::spec::READONLY_PATHS) },
        });
        if let (Some(host), Value::Object(more)) = (doc["HostConfig"].as_object_mut(), unset) {
            host.extend(more);
        }
        // Keys docker omits when unset (`omitempty` in its HostConfig).
        if let Some(host) = doc["HostConfig"].as_object_mut() {
            for key in ["Sysctls", "Annotations", "Tmpfs"] {
                if host.get(key).is_some_and(Value::is_null) {
                    host.remove(key);
                }
            }
            if host.get("Init") == Some(&Value::Bool(false)) {
                host.remove("Init");
            }
        }
        doc
    }
}

/// Docker's `null` for an unset list.
fn null_if_empty(list: &[String]) -> Value {
    if list.is_empty() {
        Value::Null
    } else {
        json!(list)
    }
}

/// The container's log driver and options; unset ones are the engine's
/// (json-file with its rotation).
fn log_config(c: &super::config::LogConfig, engine: &crate::EngineConfig) -> Value {
    let kind = if c.kind.is_empty() {
        "json-file"
    } else {
        &c.kind
    };
    let mut config = c.config.clone();
    if kind != "none" {
        config
            .entry("max-size".into())
            .or_insert_with(|| engine.log_max_size.to_string());
        config
            .entry("max-file".into())
            .or_insert_with(|| engine.log_max_files.to_string());
    }
    json!({"Type": kind, "Config": config})
}
