//! What a container was created with: the run options after validation and
//! defaulting, stored as JSON in its database row. `inspect` shows it, the
//! spec builder turns it into config.json, the monitor reads its restart
//! policy and log settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ContainerConfig {
    /// The image as the user named it.
    pub image: String,
    /// `--entrypoint` ("" clears the image's), else the image's.
    pub entrypoint: Option<Vec<String>>,
    /// Arguments after the image, else the image's Cmd.
    pub cmd: Vec<String>,
    /// The image's Env then `-e`/`--env-file`, later ones winning.
    pub env: Vec<String>,
    pub working_dir: String,
    /// `-u`: `user[:group]`, names or numbers; "" is root.
    pub user: String,
    pub hostname: String,
    pub domainname: String,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client detaches
    /// (`run -i`).
    pub stdin_once: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub exposed_ports: Vec<String>,
    /// Mount points the image declares (`VOLUME`).
    pub image_volumes: Vec<String>,
    pub host: HostConfig,
    /// The bridge networks it joins at each start, by name: the one of
    /// `--network` first (eth0, the default route), then those of `network
    /// connect` (eth1, …, in name order).
    pub networks: BTreeMap<String, EndpointConfig>,
    /// With `--init`: the static binary mounted as pid 1, found at create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_binary: Option<std::path::PathBuf>,
    /// `--health-*` over the image's `HEALTHCHECK` (Docker's shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
}

/// Docker's `Healthcheck`: durations in nanoseconds, 0 = the default.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` off, `["CMD", args…]`, `["CMD-SHELL", cmd]`.
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl HealthConfig {
    /// The command a probe runs, or None when checks are off.
    pub fn probe_args(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, args)) if kind == "CMD" && !args.is_empty() => Some(args.to_vec()),
            Some((kind, args)) if kind == "CMD-SHELL" && !args.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), args.join(" ")])
            }
            _ => None,
        }
    }

    /// This config with the image's values where it has none (as dockerd
    /// merges them).
    pub fn over(mut self, image: &HealthConfig) -> HealthConfig {
        if self.test.is_empty() {
            self.test = image.test.clone();
        }
        for (mine, theirs) in [
            (&mut self.interval, image.interval),
            (&mut self.timeout, image.timeout),
            (&mut self.start_period, image.start_period),
            (&mut self.start_interval, image.start_interval),
            (&mut self.retries, image.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
        self
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct HostConfig {
    pub mounts: Vec<MountSpec>,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub devices: Vec<DeviceSpec>,
    pub init: bool,
    pub network_mode: String,
    pub auto_remove: bool,
    pub restart: RestartPolicy,
    pub resources: Resources,
    pub ulimits: Vec<Ulimit>,
    pub cgroup_parent: String,
    pub shm_size: i64,
    /// `-p`: "80/tcp" to the host sides asked for, as Docker's
    /// `PortBindings`.
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    /// `-P`: every exposed port on a host port the kernel picks.
    pub publish_all_ports: bool,
    /// `--dns`, `--dns-search`, `--dns-option`: resolv.conf's lines.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host name:ip` ("host-gateway" for the network's gateway).
    pub extra_hosts: Vec<String>,
    /// `--group-add`: more groups for every process of the container,
    /// names looked up in its /etc/group at start, or numbers.
    pub group_add: Vec<String>,
    /// `--sysctl`: namespaced kernel parameters, set at start.
    pub sysctls: BTreeMap<String, String>,
    /// `--oom-score-adj`, -1000..=1000.
    pub oom_score_adj: i32,
    /// `--ipc`: "private" or "shareable" (a namespace of its own), "host",
    /// "none" (no /dev/shm), "container:ID".
    pub ipc_mode: String,
    /// `--pid`: "" (its own), "host", "container:ID".
    pub pid_mode: String,
    /// `--uts`: "" (its own) or "host".
    pub uts_mode: String,
    /// `--cgroupns`: "private" or "host"; "" takes the host's cgroup
    /// version's default (private on v2, the host's on v1), as Docker.
    pub cgroupns_mode: String,
    /// `--userns`: "" or "host" (no remapping is configured, so both mean
    /// the host's user namespace).
    pub userns_mode: String,
    /// `--annotation`: handed to the runtime in the OCI spec.
    pub annotations: BTreeMap<String, String>,
    /// `--device-cgroup-rule`: "c 42:* rmw"-style device access rules.
    pub device_cgroup_rules: Vec<String>,
    /// `--volumes-from` as given; their mounts are copied into `mounts` at
    /// create.
    pub volumes_from: Vec<String>,
    /// `--log-driver`, `--log-opt`.
    pub log_config: LogConfig,
    /// `--runtime`: "runc" or "" (berth's own runtime, runc-compatible).
    pub runtime: String,
    /// `--isolation`: "" or "default" (Linux has no other).
    pub isolation: String,
}

/// Docker's `LogConfig`: the driver and its options.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct LogConfig {
    /// "json-file", "local" (berth's own file, read by `logs`) or "none";
    /// "" is the engine's default (json-file).
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Config")]
    pub config: BTreeMap<String, String>,
}

/// A block device and a weight (`--blkio-weight-device`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct WeightDevice {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Weight")]
    pub weight: u16,
}

/// A block device and a rate (`--device-read-bps` and kin).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ThrottleDevice {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Rate")]
    pub rate: u64,
}

/// A container's place on one network, as asked for (Docker's
/// `EndpointSettings` inputs).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct EndpointConfig {
    /// `--network-alias` / `connect --alias`: more names on this network.
    pub aliases: Vec<String>,
    /// `--ip` / `connect --ip`.
    pub ipv4_address: Option<String>,
    /// `--mac-address`.
    pub mac_address: Option<String>,
    /// Joined after create (`network connect`): eth1 and on.
    pub connected: bool,
}

/// A host side asked for: `HostIp` ("" for every address) and `HostPort`
/// ("" for any, "8080", or a range "8000-8010" of which one is taken).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PortBinding {
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Resources {
    /// Bytes; 0 = unlimited.
    pub memory: i64,
    /// Memory plus swap in bytes; -1 unlimited, 0 = unset (twice `memory`).
    pub memory_swap: i64,
    pub memory_reservation: i64,
    /// CPUs in units of 1e-9 (`--cpus 0.5` = 500000000).
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpu_quota: i64,
    pub cpu_period: u64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// 0 or -1 = unlimited.
    pub pids_limit: i64,
    /// `--oom-kill-disable` (cgroup v1 only, as in Docker).
    pub oom_kill_disable: bool,
    /// `--memory-swappiness` 0..=100; None leaves the kernel's (cgroup v1).
    pub memory_swappiness: Option<i64>,
    /// `--blkio-weight` 10..=1000 (0 = unset).
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<WeightDevice>,
    /// `--device-read-bps` / `--device-write-bps`: bytes per second.
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    /// `--device-read-iops` / `--device-write-iops`: operations per second.
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MountSpec {
    pub kind: MountKind,
    /// Host path (bind), volume name (volume; empty = anonymous), unused for tmpfs.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// Extra options: tmpfs `size=`/`mode=`, bind propagation.
    pub options: Vec<String>,
    /// A volume named by berth (removed with `rm -v`).
    #[serde(default)]
    pub anonymous: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeviceSpec {
    pub host_path: String,
    pub container_path: String,
    pub permissions: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct RestartPolicy {
    /// "no", "always", "unless-stopped", "on-failure".
    pub name: String,
    pub maximum_retry_count: i64,
}

impl RestartPolicy {
    /// Whether the monitor starts the container again after it exited with
    /// `code`, having restarted it `restarts` times already. An explicit
    /// stop never restarts.
    pub fn should_restart(&self, code: i32, restarts: i64, stop_requested: bool) -> bool {
        if stop_requested {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }

    /// Parses `--restart no|always|unless-stopped|on-failure[:N]`.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(c)) => {
                c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    format!(
                        "invalid restart policy format: maximum retry count must be an integer: {s}"
                    )
                })?
            }
            (_, Some(_)) => {
                return Err(format!(
                    "invalid restart policy format: maximum retry count cannot be used with restart policy '{name}'"
                ));
            }
            _ => 0,
        };
        match name {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: if name.is_empty() {
                    "no".into()
                } else {
                    name.into()
                },
                maximum_retry_count,
            }),
            _ => Err(format!(
                "invalid restart policy format: unknown policy '{name}'"
            )),
        }
    }
}
