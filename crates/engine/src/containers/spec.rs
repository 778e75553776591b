//! The OCI spec builder: a container's configuration plus Docker's secure
//! defaults become the bundle's config.json.
//!
//! Built as JSON rather than through typed builders so that it reads like the
//! file it produces; the runtime parses it back into typed form, and the
//! golden test (`spec_tests.rs`) pins the whole document.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::config::{ContainerConfig, MountKind};
use super::security;
use crate::error::{Error, Result};

/// Docker's default capabilities (14).
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything besides the configuration that the spec names.
pub struct SpecInputs<'a> {
    pub id: &'a str,
    pub config: &'a ContainerConfig,
    pub rootfs: &'a Path,
    /// Holds `hostname`, `hosts` and `resolv.conf`.
    pub container_dir: &'a Path,
    /// Host directories of the volume mounts, in `config.host.mounts` order
    /// (None for mounts that are not volumes).
    pub volume_dirs: &'a [Option<PathBuf>],
    /// The local driver's options of those volumes (`volume create -o`):
    /// such a volume is mounted from its device, not from its directory.
    pub volume_options: &'a [std::collections::BTreeMap<String, String>],
    pub cgroup_v2: bool,
    /// The engine's default cgroup parent.
    pub cgroup_parent: &'a str,
    /// berth's binary, mounted as the container's init with `--init`.
    pub init_binary: Option<&'a Path>,
    /// `--network container:X`: X's network namespace (its init's) and
    /// the directory of the hosts and resolv.conf it shares with X.
    pub joined_network: Option<(PathBuf, &'a Path)>,
    /// `--ipc container:X`, `--pid container:X`: the OCI namespace type and
    /// the path of X's init's namespace file.
    pub joined_namespaces: Vec<(&'static str, PathBuf)>,
    /// `--ipc shareable` / `container:X`: the host directory /dev/shm binds.
    pub shared_shm: Option<PathBuf>,
}

/// Where `--init` puts the init, as Docker does.
pub const INIT_PATH: &str = "/sbin/docker-init";

pub fn build(inputs: &SpecInputs) -> Result<Value> {
    let config = inputs.config;
    let host = &config.host;
    let mut args = command_line(config)?;
    if host.init {
        if inputs.init_binary.is_none() {
            return Err(Error::internal("--init: berth's binary was not found"));
        }
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    let caps = security::capabilities(host.privileged, &host.cap_add, &host.cap_drop)?;
    let security = security::SecurityOpts::parse(&host.security_opt)?;

    // Docker's order: PATH (the image's replaces the default in place),
    // HOSTNAME, TERM with a tty, then the container's variables.
    let mut env = vec![format!("PATH={DEFAULT_PATH}")];
    env.push(format!("HOSTNAME={}", config.hostname));
    if config.tty {
        env.push("TERM=xterm".to_string());
    }
    for e in &config.env {
        let key = e.split('=').next().unwrap_or_default();
        if let Some(slot) = env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            *slot = e.clone();
        } else {
            env.push(e.clone());
        }
    }

    let host_network = host.network_mode == "host";
    let uts_host = host.uts_mode == "host";
    let mut namespaces = vec![json!({"type": "mount"})];
    if !uts_host {
        namespaces.push(json!({"type": "uts"}));
    }
    for (kind, host_mode) in [
        ("pid", host.pid_mode == "host"),
        ("ipc", host.ipc_mode == "host"),
    ] {
        match inputs.joined_namespaces.iter().find(|(k, _)| *k == kind) {
            Some((_, path)) => namespaces.push(json!({"type": kind, "path": path})),
            None if !host_mode => namespaces.push(json!({"type": kind})),
            None => {}
        }
    }
    match &inputs.joined_network {
        Some((ns, _)) => namespaces.push(json!({"type": "network", "path": ns})),
        None if !host_network => namespaces.push(json!({"type": "network"})),
        None => {}
    }
    // Docker's default: a private cgroup namespace on v2, the host's on v1.
    let cgroupns = match host.cgroupns_mode.as_str() {
        "private" => true,
        "host" => false,
        _ => inputs.cgroup_v2,
    };
    if cgroupns {
        namespaces.push(json!({"type": "cgroup"}));
    }

    let mut sysctl = serde_json::Map::new();
    // (A joined namespace is set up by the container that made it.)
    if !host_network && inputs.joined_network.is_none() {
        sysctl.insert("net.ipv4.ip_unprivileged_port_start".into(), "0".into());
        sysctl.insert("net.ipv4.ping_group_range".into(), "0 2147483647".into());
    }
    for (name, value) in &host.sysctls {
        sysctl.insert(name.clone(), value.clone().into());
    }

    let cgroup_parent = if host.cgroup_parent.is_empty() {
        inputs.cgroup_parent
    } else {
        &host.cgroup_parent
    };
    let cgroups_path =
        format!("/{}/{}", cgroup_parent.trim_matches('/'), inputs.id).replace("//", "/");

    let (devices, mut device_rules) = security::devices(host.privileged, &host.devices)?;
    for rule in &host.device_cgroup_rules {
        device_rules.push(super::parse::device_cgroup_rule_json(rule)?);
    }
    let mut linux = json!({
        "resources": resources(config, device_rules)?,
        "cgroupsPath": cgroups_path,
        "namespaces": namespaces,
        "devices": devices,
    });
    if !sysctl.is_empty() {
        linux["sysctl"] = Value::Object(sysctl);
    }
    if !host.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    if let Some(profile) = security.seccomp(host.privileged, &caps)? {
        linux["seccomp"] = profile;
    }

    let mut process = json!({
        "terminal": config.tty,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": env,
        "cwd": if config.working_dir.is_empty() { "/" } else { &config.working_dir },
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps,
        },
        "noNewPrivileges": security.no_new_privileges,
    });
    if host.oom_score_adj != 0 {
        process["oomScoreAdj"] = host.oom_score_adj.into();
    }
    if !host.ulimits.is_empty() {
        let rlimits: Vec<Value> = host
            .ulimits
            .iter()
            .map(|u| {
                json!({
                    "type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()),
                    "soft": u.soft,
                    "hard": u.hard,
                })
            })
            .collect();
        process["rlimits"] = Value::Array(rlimits);
    }

    let mut doc = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": inputs.rootfs, "readonly": host.read_only},
        "mounts": mounts(inputs)?,
        "linux": linux,
    });
    // The host's UTS namespace keeps the host's names.
    if !uts_host {
        doc["hostname"] = config.hostname.clone().into();
        doc["domainname"] = config.domainname.clone().into();
    }
    if !host.annotations.is_empty() {
        doc["annotations"] = json!(host.annotations);
    }
    Ok(doc)
}

impl crate::Engine {
    /// The container's OCI spec as it starts now: from its row (so what
    /// `update` changed holds), with the user resolved in its mounted root
    /// `rootfs` when given.
    pub(crate) fn spec_for(
        &self,
        row: &super::ContainerRow,
        rootfs: &Path,
        user: Option<&super::user::ExecUser>,
    ) -> Result<oci_spec::runtime::Spec> {
        let dir = self.paths.container_dir(&row.id);
        let volume_dirs: Vec<Option<PathBuf>> = row
            .config
            .host
            .mounts
            .iter()
            .map(|m| (m.kind == MountKind::Volume).then(|| self.paths.volume_data(&m.source)))
            .collect();
        let volume_options = self.db.read(|c| {
            let mut out = Vec::new();
            for m in &row.config.host.mounts {
                let json = match m.kind {
                    MountKind::Volume => super::volumes_record::options(c, &m.source)?,
                    _ => None,
                };
                out.push(
                    json.and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                );
            }
            Ok(out)
        })?;
        let joined_dir;
        let joined_network = match row.config.host.network_mode.strip_prefix("container:") {
            Some(other) => {
                let other = self.running_peer(other, "network")?;
                joined_dir = self.paths.container_dir(&other.id);
                Some((
                    PathBuf::from(format!("/proc/{}/ns/net", other.pid)),
                    joined_dir.as_path(),
                ))
            }
            None => None,
        };
        let joined_namespaces = self.joined_namespaces(&row.config.host)?;
        let shared_shm = self.shared_shm(&row.config.host, &dir)?;
        let mut doc = build(&SpecInputs {
            joined_namespaces,
            shared_shm,
            joined_network,
            id: &row.id,
            config: &row.config,
            rootfs,
            container_dir: &dir,
            volume_dirs: &volume_dirs,
            volume_options: &volume_options,
            cgroup_v2: berth_runtime::host_cgroup_is_v2(),
            cgroup_parent: &self.config.cgroup_parent,
            init_binary: row.config.init_binary.as_deref(),
        })?;
        if let Some(u) = user {
            let mut spec_user = json!({"uid": u.uid, "gid": u.gid});
            if !u.additional_gids.is_empty() {
                spec_user["additionalGids"] = u.additional_gids.clone().into();
            }
            doc["process"]["user"] = spec_user;
        }
        serde_json::from_value(doc).map_err(|e| {
            Error::internal(format!(
                "container {}: the spec built is invalid: {e}",
                row.id
            ))
        })
    }
}

/// Entrypoint + Cmd, which must name something to run.
pub fn command_line(config: &ContainerConfig) -> Result<Vec<String>> {
    let mut args = config.entrypoint.clone().unwrap_or_default();
    args.extend(config.cmd.iter().cloned());
    if args.is_empty() {
        return Err(Error::invalid("No command specified"));
    }
    Ok(args)
}

/// The cgroup resources alone (for `update` of a running container).
pub fn resources_json(config: &ContainerConfig) -> Result<Value> {
    let mut r = resources(config, Vec::new())?;
    if let Some(o) = r.as_object_mut() {
        o.remove("devices");
    }
    Ok(r)
}

fn resources(config: &ContainerConfig, device_rules: Vec<Value>) -> Result<Value> {
    let r = &config.host.resources;
    let mut out = json!({ "devices": device_rules });
    let mut memory = serde_json::Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), r.memory.into());
        // Docker: unset swap means as much swap as memory (swap = 2x memory).
        let swap = match r.memory_swap {
            0 => r.memory * 2,
            s => s,
        };
        memory.insert("swap".into(), swap.into());
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), r.memory_reservation.into());
    }
    if r.oom_kill_disable {
        memory.insert("disableOOMKiller".into(), true.into());
    }
    if let Some(s) = r.memory_swappiness.filter(|s| *s >= 0) {
        memory.insert("swappiness".into(), s.into());
    }
    if !memory.is_empty() {
        out["memory"] = Value::Object(memory);
    }
    let mut cpu = serde_json::Map::new();
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), r.cpu_shares.into());
    }
    if r.nano_cpus > 0 {
        let period: u64 = 100_000;
        cpu.insert("period".into(), period.into());
        cpu.insert(
            "quota".into(),
            ((r.nano_cpus as i128 * period as i128 / 1_000_000_000) as i64).into(),
        );
    } else {
        if r.cpu_period > 0 {
            cpu.insert("period".into(), r.cpu_period.into());
        }
        if r.cpu_quota > 0 {
            cpu.insert("quota".into(), r.cpu_quota.into());
        }
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), r.cpuset_cpus.clone().into());
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), r.cpuset_mems.clone().into());
    }
    if !cpu.is_empty() {
        out["cpu"] = Value::Object(cpu);
    }
    if r.pids_limit > 0 {
        out["pids"] = json!({"limit": r.pids_limit});
    }
    if let Some(block_io) = block_io(r)? {
        out["blockIO"] = block_io;
    }
    Ok(out)
}

/// `--blkio-weight*` and `--device-{read,write}-{bps,iops}`, each device
/// named by its number, looked up now (as Docker does at each start).
fn block_io(r: &super::config::Resources) -> Result<Option<Value>> {
    let numbers = |path: &str| -> Result<(u32, u32)> {
        use std::os::unix::fs::MetadataExt;
        let rdev = std::fs::metadata(path)
            .map_err(|e| Error::invalid(format!("block device {path}: {e}")))?
            .rdev();
        Ok((rustix::fs::major(rdev), rustix::fs::minor(rdev)))
    };
    let mut out = serde_json::Map::new();
    if r.blkio_weight > 0 {
        out.insert("weight".into(), r.blkio_weight.into());
    }
    let mut weights = Vec::new();
    for d in &r.blkio_weight_device {
        let (major, minor) = numbers(&d.path)?;
        weights.push(json!({"major": major, "minor": minor, "weight": d.weight}));
    }
    if !weights.is_empty() {
        out.insert("weightDevice".into(), weights.into());
    }
    for (key, list) in [
        ("throttleReadBpsDevice", &r.blkio_device_read_bps),
        ("throttleWriteBpsDevice", &r.blkio_device_write_bps),
        ("throttleReadIOPSDevice", &r.blkio_device_read_iops),
        ("throttleWriteIOPSDevice", &r.blkio_device_write_iops),
    ] {
        let mut devices = Vec::new();
        for d in list {
            let (major, minor) = numbers(&d.path)?;
            devices.push(json!({"major": major, "minor": minor, "rate": d.rate}));
        }
        if !devices.is_empty() {
            out.insert(key.into(), devices.into());
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// A volume of the local driver with options, as its device: `o=bind` is a
/// bind of `device`, any other `type` (tmpfs, nfs, ext4, …) a mount of
/// `device` with `o` as its options, made in the container's mount
/// namespace at each start.
fn volume_with_options(
    m: &super::config::MountSpec,
    options: &std::collections::BTreeMap<String, String>,
) -> Value {
    let kind = options.get("type").map(String::as_str).unwrap_or_default();
    let device = options
        .get("device")
        .map(String::as_str)
        .unwrap_or_default();
    let o: Vec<String> = options
        .get("o")
        .map(|o| {
            o.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if o.iter().any(|x| x == "bind" || x == "rbind") {
        let mut opts = vec!["rbind".to_string(), "rprivate".to_string()];
        if m.read_only || o.iter().any(|x| x == "ro") {
            opts.push("ro".into());
        }
        return json!({"destination": m.target, "type": "bind", "source": device, "options": opts});
    }
    let mut opts = o;
    if m.read_only {
        opts.push("ro".into());
    }
    let source = if device.is_empty() { kind } else { device };
    json!({"destination": m.target, "type": kind, "source": source, "options": opts})
}

fn mounts(inputs: &SpecInputs) -> Result<Vec<Value>> {
    let host = &inputs.config.host;
    let shm_size = if host.shm_size > 0 {
        host.shm_size
    } else {
        64 << 20
    };
    let sys_ro = if host.privileged { "rw" } else { "ro" };
    let mut out = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", sys_ro]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", sys_ro]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
    ];
    // `--ipc`: no /dev/shm, the host's, a shareable one (its own or the
    // container's it joins, a tmpfs on the host), or a tmpfs of its own.
    match (host.ipc_mode.as_str(), &inputs.shared_shm) {
        ("none", _) => {}
        ("host", _) => out.push(json!({"destination": "/dev/shm", "type": "bind",
               "source": "/dev/shm", "options": ["rbind", "rprivate"]})),
        (_, Some(shm)) => out.push(json!({"destination": "/dev/shm", "type": "bind",
               "source": shm, "options": ["rbind", "rprivate"]})),
        _ => out.push(
            json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm_size}")]}),
        ),
    }
    let user_targets: Vec<&str> = host.mounts.iter().map(|m| m.target.as_str()).collect();
    for file in ["resolv.conf", "hostname", "hosts"] {
        let target = format!("/etc/{file}");
        if user_targets.contains(&target.as_str()) {
            continue;
        }
        let mut options = vec!["rbind", "rprivate"];
        if host.read_only {
            options.push("ro");
        }
        let dir = match (&inputs.joined_network, file) {
            // As Docker: the network's files are the other container's.
            (Some((_, other)), "resolv.conf" | "hosts") => *other,
            _ => inputs.container_dir,
        };
        out.push(json!({"destination": target, "type": "bind",
                         "source": dir.join(file), "options": options}));
    }
    let mut user = Vec::new();
    for (i, m) in host.mounts.iter().enumerate() {
        let options = inputs.volume_options.get(i).filter(|o| !o.is_empty());
        let mount = match m.kind {
            // A bind of its device; a device volume (tmpfs, nfs, …) is
            // mounted on the host and bound like any volume
            // (volume_mounts.rs).
            MountKind::Volume
                if options.is_some_and(|o| !super::volume_mounts::is_device_mount(o)) =>
            {
                volume_with_options(m, options.unwrap_or(&Default::default()))
            }
            MountKind::Bind | MountKind::Volume => {
                let source = match (&m.kind, inputs.volume_dirs.get(i).cloned().flatten()) {
                    (MountKind::Volume, Some(dir)) => dir,
                    (MountKind::Volume, None) => {
                        return Err(Error::internal(format!(
                            "volume for {} has no directory",
                            m.target
                        )));
                    }
                    _ => PathBuf::from(&m.source),
                };
                let mut options: Vec<String> = vec!["rbind".into()];
                let propagation = m
                    .options
                    .iter()
                    .find(|o| o.contains("private") || o.contains("shared") || o.contains("slave"))
                    .cloned()
                    .unwrap_or_else(|| "rprivate".into());
                options.push(propagation);
                if m.read_only {
                    options.push("ro".into());
                }
                json!({"destination": m.target, "type": "bind", "source": source, "options": options})
            }
            MountKind::Tmpfs => {
                let mut options: Vec<String> =
                    vec!["noexec".into(), "nosuid".into(), "nodev".into()];
                options.extend(m.options.iter().cloned());
                if m.read_only {
                    options.push("ro".into());
                }
                json!({"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": options})
            }
        };
        user.push(mount);
    }
    if let (true, Some(binary)) = (host.init, inputs.init_binary) {
        user.push(
            json!({"destination": INIT_PATH, "type": "bind", "source": binary,
                         "options": ["rbind", "rprivate", "ro"]}),
        );
    }
    // Parents before children, whatever order the user gave (as Docker sorts).
    user.sort_by_key(|m| {
        m["destination"]
            .as_str()
            .map(|d| d.trim_end_matches('/').matches('/').count())
            .unwrap_or(0)
    });
    // A user mount replaces a default one at the same place (`--tmpfs /dev/shm`).
    out.retain(|d| !user.iter().any(|u| u["destination"] == d["destination"]));
    out.extend(user);
    Ok(out)
}
