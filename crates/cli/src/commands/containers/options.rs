//! `run`/`create` flags into the engine's container configuration, each
//! value checked with Docker's error wording.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use berth_engine::containers::parse;
use berth_engine::containers::{
    ContainerConfig, CreateRequest, HostConfig, Resources, RestartPolicy,
};

use crate::cli::CreateFlags;

pub fn create_request(f: &CreateFlags) -> Result<CreateRequest> {
    if !matches!(f.pull.as_str(), "missing" | "never" | "always") {
        bail!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            f.pull
        );
    }
    let mut port_bindings = BTreeMap::new();
    for p in &f.publish {
        berth_engine::containers::port_spec::parse_publish(p, &mut port_bindings)?;
    }
    let mut exposed_ports = Vec::new();
    for e in &f.expose {
        exposed_ports.extend(berth_engine::containers::port_spec::parse_expose(e)?);
    }
    let mut env = Vec::new();
    for file in &f.env_file {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow!("open {file}: {e}"))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            env.push(expand_env(line));
        }
    }
    env.extend(f.env.iter().map(|e| expand_env(e)));
    let mut labels = BTreeMap::new();
    for l in &f.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    // Docker's syntaxes are the engine's to parse (the API carries the
    // same strings); it also checks the result as Docker's daemon does.
    let mut mounts = Vec::new();
    for v in &f.volume {
        mounts.push(parse::parse_volume(v)?);
    }
    for m in &f.mount {
        mounts.push(parse::parse_mount(m)?);
    }
    for t in &f.tmpfs {
        mounts.push(parse::parse_tmpfs(t)?);
    }
    let memory = f
        .memory
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    let memory_swap = match f.memory_swap.as_deref() {
        None => 0,
        Some("-1") => -1,
        Some(s) => parse_bytes(s)?,
    };
    let nano_cpus = match &f.cpus {
        None => 0,
        Some(s) => {
            let v: f64 = s.parse().map_err(|_| anyhow!("invalid argument \"{s}\" for \"--cpus\" flag: failed to parse {s} as a rational number"))?;
            (v * 1e9) as i64
        }
    };
    let ulimits = f
        .ulimit
        .iter()
        .map(|u| parse::parse_ulimit(u))
        .collect::<berth_engine::Result<Vec<_>>>()?;
    let devices = f
        .device
        .iter()
        .map(|d| parse::parse_device(d))
        .collect::<berth_engine::Result<Vec<_>>>()?;
    let restart = RestartPolicy::parse(&f.restart).map_err(|e| anyhow!(e))?;
    if f.rm && restart.name != "no" {
        bail!("Conflicting options: --restart and --rm");
    }
    let entrypoint = f.entrypoint.as_ref().map(|e| {
        if e.is_empty() {
            vec![String::new()]
        } else {
            vec![e.clone()]
        }
    });
    Ok(CreateRequest {
        name: f.name.clone(),
        entrypoint_set: f.entrypoint.is_some(),
        config: ContainerConfig {
            image: f.image().to_string(),
            entrypoint,
            cmd: f.command().to_vec(),
            env,
            working_dir: f.workdir.clone().unwrap_or_default(),
            user: f.user.clone().unwrap_or_default(),
            hostname: f.hostname.clone().unwrap_or_default(),
            domainname: f.domainname.clone().unwrap_or_default(),
            labels,
            tty: f.tty,
            open_stdin: f.interactive,
            stdin_once: false,
            stop_signal: f.stop_signal.clone(),
            stop_timeout: f.stop_timeout,
            exposed_ports,
            networks: [(
                f.network.clone().unwrap_or_default(),
                berth_engine::containers::EndpointConfig {
                    aliases: f.network_alias.clone(),
                    ipv4_address: f.ip.clone(),
                    mac_address: f.mac_address.clone(),
                    connected: false,
                },
            )]
            .into_iter()
            .collect(),
            image_volumes: Vec::new(),
            init_binary: None,
            host: HostConfig {
                mounts,
                read_only: f.read_only,
                privileged: f.privileged,
                cap_add: f.cap_add.clone(),
                cap_drop: f.cap_drop.clone(),
                security_opt: f.security_opt.clone(),
                devices,
                init: f.init,
                network_mode: f.network.clone().unwrap_or_default(),
                port_bindings,
                publish_all_ports: f.publish_all,
                dns: f.dns.clone(),
                dns_search: f.dns_search.clone(),
                dns_options: f.dns_option.clone(),
                extra_hosts: f.add_host.clone(),
                auto_remove: f.rm,
                restart,
                resources: Resources {
                    memory,
                    memory_swap,
                    memory_reservation: f
                        .memory_reservation
                        .as_deref()
                        .map(parse_bytes)
                        .transpose()?
                        .unwrap_or(0),
                    nano_cpus,
                    cpu_shares: f.cpu_shares.unwrap_or(0),
                    cpu_quota: f.cpu_quota.unwrap_or(0),
                    cpu_period: f.cpu_period.unwrap_or(0),
                    cpuset_cpus: f.cpuset_cpus.clone().unwrap_or_default(),
                    cpuset_mems: f.cpuset_mems.clone().unwrap_or_default(),
                    pids_limit: f.pids_limit.unwrap_or(0),
                },
                ulimits,
                cgroup_parent: f.cgroup_parent.clone().unwrap_or_default(),
                shm_size: f
                    .shm_size
                    .as_deref()
                    .map(parse_bytes)
                    .transpose()?
                    .unwrap_or(0),
            },
        },
    })
}

/// `-e NAME` takes NAME's value from this environment (and is dropped if unset).
fn expand_env(e: &str) -> String {
    if e.contains('=') {
        return e.to_string();
    }
    match std::env::var(e) {
        Ok(v) => format!("{e}={v}"),
        Err(_) => e.to_string(),
    }
}

/// Docker's byte sizes (`32m`), for flags.
pub fn parse_bytes(s: &str) -> Result<i64> {
    Ok(parse::parse_bytes(s)?)
}
