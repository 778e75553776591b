//! `run`/`create` flags into the engine's container configuration, each
//! value checked with Docker's error wording.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use berth_engine::containers::config::{DeviceSpec, Ulimit};
use berth_engine::containers::{
    ContainerConfig, CreateRequest, HostConfig, MountKind, MountSpec, Resources, RestartPolicy,
};

use crate::cli::CreateFlags;

pub fn create_request(f: &CreateFlags) -> Result<CreateRequest> {
    if !matches!(f.pull.as_str(), "missing" | "never" | "always") {
        bail!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            f.pull
        );
    }
    if !f.publish.is_empty() {
        bail!("-p/--publish: published ports need bridge networking, which is not available yet");
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
    let mut mounts = Vec::new();
    for v in &f.volume {
        mounts.push(parse_volume(v)?);
    }
    for m in &f.mount {
        mounts.push(parse_mount(m)?);
    }
    for t in &f.tmpfs {
        let (target, opts) = t.split_once(':').unwrap_or((t, ""));
        if !target.starts_with('/') {
            bail!(
                "invalid mount config for type \"tmpfs\": invalid mount path: '{target}' mount path must be absolute"
            );
        }
        mounts.push(MountSpec {
            kind: MountKind::Tmpfs,
            source: String::new(),
            target: target.to_string(),
            read_only: false,
            options: opts
                .split(',')
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect(),
            anonymous: false,
        });
    }
    let mut targets = std::collections::HashSet::new();
    for m in &mounts {
        if !targets.insert(m.target.clone()) {
            bail!("Duplicate mount point: {}", m.target);
        }
    }
    let memory = f
        .memory
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    if memory > 0 && memory < 6 * 1024 * 1024 {
        bail!("Minimum memory limit allowed is 6MB");
    }
    let memory_swap = match f.memory_swap.as_deref() {
        None => 0,
        Some("-1") => -1,
        Some(s) => parse_bytes(s)?,
    };
    if memory_swap > 0 && memory_swap < memory {
        bail!("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    let nano_cpus = match &f.cpus {
        None => 0,
        Some(s) => {
            let v: f64 = s.parse().map_err(|_| anyhow!("invalid argument \"{s}\" for \"--cpus\" flag: failed to parse {s} as a rational number"))?;
            let available = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            if v > available as f64 {
                bail!(
                    "Range of CPUs is from 0.01 to {available}.00, as there are only {available} CPUs available"
                );
            }
            (v * 1e9) as i64
        }
    };
    let mut ulimits = Vec::new();
    for u in &f.ulimit {
        ulimits.push(parse_ulimit(u)?);
    }
    let mut devices = Vec::new();
    for d in &f.device {
        let parts: Vec<&str> = d.split(':').collect();
        let (host, ctr, perms) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, p] if p.chars().all(|c| "rwm".contains(c)) => (*h, *h, *p),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] => (*h, *c, *p),
            _ => bail!("invalid device specification: {d}"),
        };
        devices.push(DeviceSpec {
            host_path: host.into(),
            container_path: ctr.into(),
            permissions: perms.into(),
        });
    }
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
            exposed_ports: Vec::new(),
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

/// `-v SRC:DST[:OPTS]`: a host path (absolute) binds, a name is a volume,
/// a lone path is an anonymous volume.
fn parse_volume(v: &str) -> Result<MountSpec> {
    let parts: Vec<&str> = v.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => bail!("invalid volume specification: '{v}'"),
    };
    if target.is_empty() || !target.starts_with('/') {
        bail!(
            "invalid volume specification: '{v}': invalid mount config for type \"volume\": invalid mount path: '{target}' mount path must be absolute"
        );
    }
    if target == "/" {
        bail!(
            "invalid volume specification: '{v}': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        );
    }
    let mut read_only = false;
    let mut options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "nocopy" | "consistent" | "cached" | "delegated" => {}
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                options.push(o.to_string())
            }
            _ => bail!("invalid volume specification: '{v}': invalid mode: {o}"),
        }
    }
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        if !source.is_empty() {
            let mut chars = source.chars();
            let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
                && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                bail!(
                    "create {source}: \"{source}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                );
            }
        }
        MountKind::Volume
    };
    Ok(MountSpec {
        kind,
        source: source.to_string(),
        target: target.to_string(),
        read_only,
        options,
        anonymous: false,
    })
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]`.
fn parse_mount(m: &str) -> Result<MountSpec> {
    let mut kind = MountKind::Volume;
    let (mut source, mut target, mut read_only) = (String::new(), String::new(), false);
    let mut options = Vec::new();
    for field in m.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => {
                kind = match v {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    _ => bail!(
                        "invalid argument \"{m}\" for \"--mount\" flag: invalid mount type \"{v}\""
                    ),
                }
            }
            "source" | "src" => source = v.to_string(),
            "target" | "destination" | "dst" => target = v.to_string(),
            "readonly" | "ro" => read_only = v.is_empty() || v == "true" || v == "1",
            "bind-propagation" => options.push(v.to_string()),
            "tmpfs-size" => options.push(format!("size={}", parse_bytes(v)?)),
            "tmpfs-mode" => options.push(format!("mode={v}")),
            _ => bail!(
                "invalid argument \"{m}\" for \"--mount\" flag: unexpected key '{k}' in '{field}'"
            ),
        }
    }
    if target.is_empty() {
        bail!("invalid argument \"{m}\" for \"--mount\" flag: target is required");
    }
    if kind == MountKind::Bind && !std::path::Path::new(&source).exists() {
        bail!("invalid mount config for type \"bind\": bind source path does not exist: {source}");
    }
    Ok(MountSpec {
        kind,
        source,
        target,
        read_only,
        options,
        anonymous: false,
    })
}

/// `--ulimit nofile=1024[:2048]`.
fn parse_ulimit(u: &str) -> Result<Ulimit> {
    let (name, values) = u
        .split_once('=')
        .ok_or_else(|| anyhow!("invalid ulimit argument: {u}"))?;
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    if !NAMES.contains(&name) {
        bail!("invalid ulimit type: {name}");
    }
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    let parse = |s: &str| -> Result<i64> {
        s.parse()
            .map_err(|_| anyhow!("invalid ulimit argument: {u}: bad number {s:?}"))
    };
    let (soft, hard) = (parse(soft)?, parse(hard)?);
    if soft > hard && hard != -1 {
        bail!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}");
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// Docker's RAMInBytes: `32m`, `1g`, `512k`, `100b`, plain bytes; 1024-based.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let number_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(number_end);
    let value: f64 = num.parse().map_err(|_| anyhow!("invalid size: '{s}'"))?;
    let mult: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        "p" => 1024.0f64.powi(5),
        _ => bail!("invalid size: '{s}'"),
    };
    Ok((value * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_volumes_and_ulimits() {
        assert_eq!(parse_bytes("32m").unwrap(), 32 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(
            parse_bytes("12x")
                .unwrap_err()
                .to_string()
                .contains("'12x'")
        );
        let m = parse_volume("/host:/ctr:ro").unwrap();
        assert_eq!((m.kind, m.read_only), (MountKind::Bind, true));
        let m = parse_volume("data:/var/lib/data").unwrap();
        assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, "data"));
        assert!(parse_volume("data:rel").is_err());
        assert!(
            parse_volume("/a:/b:bogus")
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (1024, 2048));
        assert!(parse_ulimit("nofile=2048:1024").is_err());
        assert!(
            parse_ulimit("bogus=1")
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
    }
}
