//! `run`/`create` flags into the engine's container configuration, each
//! value checked with Docker's error wording.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use berth_engine::containers::config::{HealthConfig, LogConfig};
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
    let env = environment(&f.env_file, &f.env)?;
    refuse_unavailable(f)?;
    let mut labels = BTreeMap::new();
    for file in &f.label_file {
        // As docker: a line without `=` in a label file is dropped.
        for line in read_lines(file)? {
            if let Some((k, v)) = line.split_once('=') {
                labels.insert(k.to_string(), v.to_string());
            }
        }
    }
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
    let mut sysctls = BTreeMap::new();
    for s in &f.sysctl {
        let (k, v) = parse::parse_sysctl(s)?;
        sysctls.insert(k, v);
    }
    let annotations = key_values(&f.annotation);
    let log_config = LogConfig {
        kind: f.log_driver.clone().unwrap_or_default(),
        config: key_values(&f.log_opt),
    };
    if log_config.kind == "none" && !log_config.config.is_empty() {
        bail!("invalid logging opts for driver none");
    }
    let throttle = |list: &[String], flag: &str| {
        list.iter()
            .map(|d| parse::parse_throttle_device(d, flag))
            .collect::<berth_engine::Result<Vec<_>>>()
    };
    for rule in &f.device_cgroup_rule {
        parse::check_device_cgroup_rule(rule)?;
    }
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
        build_step: false,
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
            healthcheck: healthcheck(f)?,
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
                group_add: f.group_add.clone(),
                sysctls,
                oom_score_adj: f.oom_score_adj.unwrap_or(0),
                ipc_mode: f.ipc.clone().unwrap_or_default(),
                pid_mode: f.pid.clone().unwrap_or_default(),
                uts_mode: f.uts.clone().unwrap_or_default(),
                cgroupns_mode: f.cgroupns.clone().unwrap_or_default(),
                userns_mode: f.userns.clone().unwrap_or_default(),
                annotations,
                device_cgroup_rules: f.device_cgroup_rule.clone(),
                volumes_from: f.volumes_from.clone(),
                log_config,
                runtime: f.runtime.clone().unwrap_or_default(),
                isolation: f.isolation.clone().unwrap_or_default(),
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
                    oom_kill_disable: f.oom_kill_disable,
                    memory_swappiness: Some(f.memory_swappiness).filter(|s| *s != -1),
                    blkio_weight: f.blkio_weight.unwrap_or(0),
                    blkio_weight_device: f
                        .blkio_weight_device
                        .iter()
                        .map(|d| parse::parse_weight_device(d))
                        .collect::<berth_engine::Result<Vec<_>>>()?,
                    blkio_device_read_bps: throttle(&f.device_read_bps, "--device-read-bps")?,
                    blkio_device_write_bps: throttle(&f.device_write_bps, "--device-write-bps")?,
                    blkio_device_read_iops: throttle(&f.device_read_iops, "--device-read-iops")?,
                    blkio_device_write_iops: throttle(&f.device_write_iops, "--device-write-iops")?,
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

/// Flags Docker has that berth does not (yet) carry out: refused with the
/// reason rather than ignored.
fn refuse_unavailable(f: &CreateFlags) -> Result<()> {
    if !f.link.is_empty() {
        bail!(
            "--link: legacy container links are not available in berth; put the containers on a user network (berth network create NET; --network NET), where they find each other by name"
        );
    }
    if !f.disable_content_trust {
        bail!(
            "--disable-content-trust=false: image signature verification (Docker Content Trust) is not available in berth"
        );
    }
    if f.kernel_memory.is_some() {
        // As Docker's daemon: accepted, not applied (cgroup v2 has no such
        // limit and v1's is unsafe).
        eprintln!(
            "WARNING: Specifying a kernel memory limit is deprecated and will be removed in a future release."
        );
    }
    Ok(())
}

/// `--health-*` and `--no-healthcheck` as Docker's `Healthcheck` (None:
/// the image's, if any).
fn healthcheck(f: &CreateFlags) -> Result<Option<HealthConfig>> {
    let given = f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_retries.is_some()
        || f.health_start_interval.is_some()
        || f.health_start_period.is_some()
        || f.health_timeout.is_some();
    if f.no_healthcheck {
        if given {
            bail!("--no-healthcheck conflicts with --health-* options");
        }
        return Ok(Some(HealthConfig {
            test: vec!["NONE".into()],
            ..HealthConfig::default()
        }));
    }
    if !given {
        return Ok(None);
    }
    let duration = |flag: &str, v: &Option<String>| -> Result<i64> {
        let n = match v {
            Some(v) => parse::parse_go_duration(flag, v)?,
            None => 0,
        };
        if n < 0 {
            bail!("{flag} cannot be negative");
        }
        Ok(n)
    };
    let retries = f.health_retries.unwrap_or(0);
    if retries < 0 {
        bail!("--health-retries cannot be negative");
    }
    Ok(Some(HealthConfig {
        test: match f.health_cmd.as_deref() {
            Some(cmd) if !cmd.is_empty() => vec!["CMD-SHELL".into(), cmd.into()],
            _ => Vec::new(),
        },
        interval: duration("--health-interval", &f.health_interval)?,
        timeout: duration("--health-timeout", &f.health_timeout)?,
        start_period: duration("--health-start-period", &f.health_start_period)?,
        start_interval: duration("--health-start-interval", &f.health_start_interval)?,
        retries,
    }))
}

/// Docker's `k=v` lists (`--annotation`, `--log-opt`, `volume create
/// --label/-o`): a bare key has an empty value.
pub fn key_values(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A file of `--env-file` or `--label-file` lines: blank lines and `#`
/// comments skipped.
fn read_lines(file: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| anyhow!("open {file}: {e}"))?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// `--env-file` lines then `-e` values (`run`, `create` and `exec`), as
/// Docker reads them: blank lines and `#` comments skipped, a bare name
/// taking its value from this environment.
pub fn environment(files: &[String], vars: &[String]) -> Result<Vec<String>> {
    let mut env = Vec::new();
    for file in files {
        env.extend(read_lines(file)?.iter().map(|l| expand_env(l)));
    }
    env.extend(vars.iter().map(|e| expand_env(e)));
    Ok(env)
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
