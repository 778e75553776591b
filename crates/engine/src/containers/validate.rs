//! The checks Docker's daemon makes of a container's settings (whatever
//! front door they came through), with its words: memory and swap limits,
//! CPU ranges, mount points, restart policies.

use std::collections::HashSet;

use super::config::{HostConfig, LogConfig};
use crate::error::{Error, Result};

/// Docker's smallest memory limit.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

pub fn host_config(host: &HostConfig) -> Result<()> {
    resources(host)?;
    let mut targets = HashSet::new();
    for m in &host.mounts {
        proc_destination(&m.target)?;
        let target = m.target.trim_end_matches('/');
        if !targets.insert(if target.is_empty() { "/" } else { target }) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                m.target
            )));
        }
    }
    log_config(&host.log_config)?;
    if !(-1000..=1000).contains(&host.oom_score_adj) {
        return Err(Error::invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            host.oom_score_adj
        )));
    }
    if !matches!(host.isolation.as_str(), "" | "default") {
        return Err(Error::invalid(format!(
            "Invalid isolation: {:?} - Linux only supports 'default'",
            host.isolation
        )));
    }
    crate::runtimes::resolve_name(&host.runtime)?;
    for (name, value) in &host.sysctls {
        super::parse::parse_sysctl(&format!("{name}={value}"))?;
        if name.starts_with("net.") && host.network_mode == "host" {
            return Err(Error::invalid(format!(
                "sysctl {name:?} not allowed in host network namespace"
            )));
        }
        if !name.starts_with("net.") && host.ipc_mode == "host" {
            return Err(Error::invalid(format!(
                "sysctl {name:?} is not allowed in host's IPC namespace"
            )));
        }
    }
    for rule in &host.device_cgroup_rules {
        super::parse::check_device_cgroup_rule(rule)?;
    }
    if host.auto_remove && host.restart.name != "no" && !host.restart.name.is_empty() {
        return Err(Error::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    Ok(())
}

/// A mount inside /proc would hide what the kernel says there (runc refuses
/// it at start, CVE-2019-16884); berth says so at create.
fn proc_destination(target: &str) -> Result<()> {
    let mut clean: Vec<&str> = Vec::new();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                clean.pop();
            }
            p => clean.push(p),
        }
    }
    if clean.first() == Some(&"proc") {
        return Err(Error::invalid(format!(
            "invalid mount config: \"{target}\" cannot be mounted because it is inside /proc"
        )));
    }
    Ok(())
}

/// `--log-driver` and `--log-opt`: the drivers berth has and their options.
pub fn log_config(log: &LogConfig) -> Result<()> {
    match log.kind.as_str() {
        "" | "json-file" | "local" => {
            for (key, value) in &log.config {
                match key.as_str() {
                    "max-size" => {
                        super::parse::parse_bytes(value)?;
                    }
                    "max-file" => {
                        if value.parse::<u32>().ok().filter(|n| *n >= 1).is_none() {
                            return Err(Error::invalid(format!(
                                "invalid value for max-file: {value}: must be a number of at least 1"
                            )));
                        }
                    }
                    "labels-regex" | "env-regex" => {
                        regex_lite::Regex::new(value).map_err(|e| {
                            Error::invalid(format!("invalid value for {key}: {value:?}: {e}"))
                        })?;
                    }
                    // Read by `logs --details` (containers/logs.rs).
                    "labels" | "env" => {}
                    // Accepted and without effect: berth's log files are
                    // not compressed, and have no tag or delivery mode.
                    "compress" | "tag" | "mode" | "max-buffer-size" => {}
                    _ => {
                        return Err(Error::invalid(format!(
                            "unknown log opt '{key}' for {} log driver",
                            if log.kind.is_empty() {
                                "json-file"
                            } else {
                                &log.kind
                            }
                        )));
                    }
                }
            }
            Ok(())
        }
        "none" => match log.config.keys().next() {
            Some(key) => Err(Error::invalid(format!(
                "unknown log opt '{key}' for none log driver"
            ))),
            None => Ok(()),
        },
        other => Err(Error::invalid(format!(
            "logging driver \"{other}\" is not available in berth (json-file, local and none are)"
        ))),
    }
}

pub fn resources(host: &HostConfig) -> Result<()> {
    let r = &host.resources;
    if let Some(s) = r.memory_swappiness
        && !(0..=100).contains(&s)
        && s != -1
    {
        return Err(Error::invalid(format!(
            "invalid value: {s}. Valid memory swappiness range is 0-100"
        )));
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return Err(Error::invalid(format!(
            "Range of blkio weight is from 10 to 1000 (given {})",
            r.blkio_weight
        )));
    }
    if r.memory > 0 && r.memory < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
    }
    if r.memory_swap > 0 && r.memory == 0 {
        return Err(Error::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(Error::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if r.memory > 0 && r.memory_reservation > r.memory {
        return Err(Error::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if r.nano_cpus != 0 {
        if r.cpu_period != 0 || r.cpu_quota != 0 {
            return Err(Error::invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as i64)
            .unwrap_or(1);
        if r.nano_cpus < 10_000_000 || r.nano_cpus > cpus * 1_000_000_000 {
            return Err(Error::invalid(format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            )));
        }
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return Err(Error::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)",
        ));
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return Err(Error::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::config::{MountKind, MountSpec};

    fn with(f: impl FnOnce(&mut HostConfig)) -> Result<()> {
        let mut h = HostConfig::default();
        f(&mut h);
        host_config(&h)
    }

    #[test]
    fn docker_daemon_checks() {
        assert!(with(|_| {}).is_ok());
        let e = with(|h| h.resources.memory = 1 << 20).unwrap_err();
        assert_eq!(e.message, "Minimum memory limit allowed is 6MB");
        let e = with(|h| {
            h.resources.memory = 64 << 20;
            h.resources.memory_swap = 32 << 20;
        })
        .unwrap_err();
        assert!(e.message.starts_with("Minimum memoryswap"), "{e}");
        assert!(with(|h| h.resources.nano_cpus = 1_000_000).is_err());
        assert!(with(|h| h.resources.cpu_period = 10).is_err());
        let m = MountSpec {
            kind: MountKind::Tmpfs,
            source: String::new(),
            target: "/x".into(),
            read_only: false,
            options: vec![],
            anonymous: false,
        };
        let e = with(|h| {
            h.mounts = vec![
                m.clone(),
                MountSpec {
                    target: "/x/".into(),
                    ..m.clone()
                },
            ]
        })
        .unwrap_err();
        assert_eq!(e.message, "Duplicate mount point: /x/");
        for bad in ["/proc/sys", "/proc", "/x/../proc/kcore"] {
            let e = with(|h| {
                h.mounts = vec![MountSpec {
                    target: bad.into(),
                    ..m.clone()
                }]
            })
            .unwrap_err();
            assert!(e.message.contains("inside /proc"), "{bad}: {e}");
        }
    }
}
