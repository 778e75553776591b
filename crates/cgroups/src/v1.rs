//! cgroup v1: one directory per controller.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxBlockIo, LinuxDeviceCgroup, LinuxResources};

use crate::error::{Error, Result, read, read_keyed, read_u64, write};
use crate::{FreezerState, Stats, join};

type Mounts = BTreeMap<String, PathBuf>;

fn dir(mounts: &Mounts, controller: &str, path: &str) -> Option<PathBuf> {
    mounts.get(controller).map(|m| join(m, path))
}

pub fn create(mounts: &Mounts, path: &str) -> Result<()> {
    for (controller, mount) in mounts {
        let target = join(mount, path);
        if controller == "cpuset" {
            create_cpuset(mount, path)?;
        } else {
            std::fs::create_dir_all(&target).map_err(|e| Error::io("create cgroup", &target, e))?;
        }
    }
    Ok(())
}

/// A new v1 cpuset starts with empty `cpus` and `mems`, and no task can join
/// it until both are set: copy them down from the parent at every new level.
fn create_cpuset(mount: &Path, path: &str) -> Result<()> {
    let mut current = mount.to_path_buf();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let parent = current.clone();
        current = current.join(part);
        if !current.is_dir() {
            std::fs::create_dir(&current).map_err(|e| Error::io("create cgroup", &current, e))?;
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = current.join(file);
            let empty = std::fs::read_to_string(&mine)
                .map(|s| s.trim().is_empty())
                .unwrap_or(true);
            if empty && let Ok(theirs) = std::fs::read_to_string(parent.join(file)) {
                write(&mine, theirs.trim())?;
            }
        }
    }
    Ok(())
}

pub fn apply(mounts: &Mounts, path: &str, r: &LinuxResources) -> Result<()> {
    if let Some(cpu) = r.cpu() {
        let d = require(mounts, "cpu", path)?;
        // As in runc, zero means "not set" for every value below.
        if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
            write(&d.join("cpu.shares"), &shares.to_string())?;
        }
        let quota = cpu
            .quota()
            .filter(|q| *q != 0)
            .map(|q| if q < 0 { -1 } else { q });
        match (cpu.period().filter(|p| *p != 0), quota) {
            (Some(period), Some(quota)) => {
                // The kernel checks quota against the current period: try both orders.
                let first = write(&d.join("cpu.cfs_period_us"), &period.to_string())
                    .and_then(|_| write(&d.join("cpu.cfs_quota_us"), &quota.to_string()));
                if first.is_err() {
                    write(&d.join("cpu.cfs_quota_us"), &quota.to_string())?;
                    write(&d.join("cpu.cfs_period_us"), &period.to_string())?;
                }
            }
            (Some(period), None) => write(&d.join("cpu.cfs_period_us"), &period.to_string())?,
            (None, Some(quota)) => write(&d.join("cpu.cfs_quota_us"), &quota.to_string())?,
            (None, None) => {}
        }
        if let Some(burst) = cpu.burst() {
            write(&d.join("cpu.cfs_burst_us"), &burst.to_string())?;
        }
        if cpu.idle().is_some_and(|i| i != 0) {
            return Err(Error::Unsupported(
                "linux.resources.cpu.idle needs cgroup v2 (cpu.idle); this host uses v1".into(),
            ));
        }
        if let Some(rt) = cpu.realtime_period().filter(|v| *v != 0) {
            write(&d.join("cpu.rt_period_us"), &rt.to_string())?;
        }
        if let Some(rt) = cpu.realtime_runtime().filter(|v| *v != 0) {
            write(&d.join("cpu.rt_runtime_us"), &rt.to_string())?;
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            let d = require(mounts, "cpuset", path)?;
            if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
                write(&d.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
                write(&d.join("cpuset.mems"), mems)?;
            }
        }
    }
    if let Some(mem) = r.memory() {
        let d = require(mounts, "memory", path)?;
        let limit = mem
            .limit()
            .filter(|l| *l != 0)
            .map(|l| if l < 0 { -1 } else { l });
        let swap = mem
            .swap()
            .filter(|s| *s != 0)
            .map(|s| if s < 0 { -1 } else { s });
        let memsw = d.join("memory.memsw.limit_in_bytes");
        match (limit, swap) {
            (Some(limit), Some(swap)) if memsw.exists() => {
                // memsw must never be below memory: raise whichever must go first.
                let ok = write(&d.join("memory.limit_in_bytes"), &limit.to_string())
                    .and_then(|_| write(&memsw, &swap.to_string()));
                if ok.is_err() {
                    write(&memsw, &swap.to_string())?;
                    write(&d.join("memory.limit_in_bytes"), &limit.to_string())?;
                }
            }
            (Some(limit), Some(swap)) if swap != limit && swap != -1 => {
                return Err(Error::Unsupported(format!(
                    "memory swap limit {swap} cannot be set: this kernel has no swap accounting ({} is missing)",
                    memsw.display()
                )));
            }
            (Some(limit), _) => write(&d.join("memory.limit_in_bytes"), &limit.to_string())?,
            (None, Some(swap)) if memsw.exists() => write(&memsw, &swap.to_string())?,
            _ => {}
        }
        if let Some(res) = mem.reservation().filter(|r| *r != 0) {
            write(&d.join("memory.soft_limit_in_bytes"), &res.to_string())?;
        }
        if let Some(sw) = mem.swappiness().filter(|s| *s <= 100)
            && d.join("memory.swappiness").exists()
        {
            write(&d.join("memory.swappiness"), &sw.to_string())?;
        }
        if mem.disable_oom_killer() == Some(true) {
            write(&d.join("memory.oom_control"), "1")?;
        }
    }
    if let Some(pids) = r.pids() {
        let d = require(mounts, "pids", path)?;
        if let Some(value) = crate::pids_max(pids.limit()) {
            write(&d.join("pids.max"), &value)?;
        }
    }
    if let Some(devices) = r.devices()
        && !devices.is_empty()
    {
        let d = require(mounts, "devices", path)?;
        for rule in devices {
            let file = if rule.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&d.join(file), &device_rule(rule))?;
        }
    }
    if let Some(blkio) = r.block_io() {
        apply_blkio(mounts, path, blkio)?;
    }
    if let Some(rdma) = r.rdma().as_ref().filter(|r| !r.is_empty()) {
        let d = require(mounts, "rdma", path)?;
        for line in crate::rdma::max_lines(rdma) {
            write(&d.join("rdma.max"), &line)?;
        }
    }
    if let Some(limits) = r.hugepage_limits() {
        for l in limits {
            let d = require(mounts, "hugetlb", path)?;
            write(
                &d.join(format!("hugetlb.{}.limit_in_bytes", l.page_size())),
                &l.limit().to_string(),
            )?;
        }
    }
    if let Some(net) = r.network() {
        if let Some(id) = net.class_id() {
            write(
                &require(mounts, "net_cls", path)?.join("net_cls.classid"),
                &id.to_string(),
            )?;
        }
        if let Some(prios) = net.priorities() {
            let d = require(mounts, "net_prio", path)?;
            for p in prios {
                write(
                    &d.join("net_prio.ifpriomap"),
                    &format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
    }
    if let Some(unified) = r.unified()
        && !unified.is_empty()
    {
        return Err(Error::Unsupported(
            "linux.resources.unified needs cgroup v2; this host uses v1".into(),
        ));
    }
    Ok(())
}

/// `c 1:3 rwm`, `a *:* rwm`.
pub fn device_rule(rule: &LinuxDeviceCgroup) -> String {
    let kind = rule
        .typ()
        .map(|t| t.as_str().to_string())
        .unwrap_or_else(|| "a".into());
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = rule.access().clone().unwrap_or_else(|| "rwm".into());
    format!(
        "{kind} {}:{} {access}",
        num(rule.major()),
        num(rule.minor())
    )
}

/// Block I/O: the weight (CFQ's `blkio.weight`, or BFQ's), per-device
/// weights, and the four throttles, each a `major:minor value` line.
fn apply_blkio(mounts: &Mounts, path: &str, blkio: &LinuxBlockIo) -> Result<()> {
    let weights = blkio.weight().filter(|w| *w != 0).is_some()
        || blkio
            .weight_device()
            .as_ref()
            .is_some_and(|d| !d.is_empty());
    let throttles = crate::blkio::throttles(blkio);
    if !weights && throttles.is_empty() {
        return Ok(());
    }
    let d = require(mounts, "blkio", path)?;
    if weights {
        let prefix = if d.join("blkio.weight").exists() {
            "blkio."
        } else if d.join("blkio.bfq.weight").exists() {
            "blkio.bfq."
        } else {
            return Err(Error::Unsupported(
                "linux.resources.blockIO weights need the CFQ or BFQ I/O scheduler (no blkio.weight or blkio.bfq.weight on this host)".into(),
            ));
        };
        if let Some(weight) = blkio.weight().filter(|w| *w != 0) {
            write(&d.join(format!("{prefix}weight")), &weight.to_string())?;
        }
        for w in blkio.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(weight) = w.weight() {
                write(
                    &d.join(format!("{prefix}weight_device")),
                    &format!("{}:{} {weight}", w.major(), w.minor()),
                )?;
            }
        }
    }
    for (kind, major, minor, rate) in throttles {
        write(
            &d.join(format!("blkio.throttle.{}_device", kind.v1_name())),
            &format!("{major}:{minor} {rate}"),
        )?;
    }
    Ok(())
}

fn require(mounts: &Mounts, controller: &str, path: &str) -> Result<PathBuf> {
    dir(mounts, controller, path).ok_or_else(|| {
        Error::Unsupported(format!(
            "the {controller} cgroup controller is not mounted on this host"
        ))
    })
}

pub fn freeze(mounts: &Mounts, path: &str, state: FreezerState) -> Result<()> {
    let d = require(mounts, "freezer", path)?;
    let want = match state {
        FreezerState::Frozen => "FROZEN",
        FreezerState::Thawed => "THAWED",
    };
    let file = d.join("freezer.state");
    // Freezing can take a moment (FREEZING); retry until the kernel says so.
    for _ in 0..1000 {
        write(&file, want)?;
        if read(&file)?.trim() == want {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Invalid(format!(
        "{}: did not reach {want}",
        file.display()
    )))
}

pub fn freezer_state(mounts: &Mounts, path: &str) -> Result<FreezerState> {
    let d = require(mounts, "freezer", path)?;
    match read(&d.join("freezer.state")) {
        Ok(s) if s.trim() == "THAWED" => Ok(FreezerState::Thawed),
        Ok(_) => Ok(FreezerState::Frozen),
        Err(_) => Ok(FreezerState::Thawed),
    }
}

pub fn stats(mounts: &Mounts, path: &str) -> Result<Stats> {
    let mut s = Stats::default();
    if let Some(d) = dir(mounts, "cpuacct", path) {
        s.cpu_usage_ns = read_u64(&d.join("cpuacct.usage"))
            .ok()
            .flatten()
            .unwrap_or(0);
    }
    if let Some(d) = dir(mounts, "memory", path) {
        s.memory_usage = read_u64(&d.join("memory.usage_in_bytes"))
            .ok()
            .flatten()
            .unwrap_or(0);
        // An "unlimited" v1 limit is a huge page-aligned number.
        s.memory_limit = read_u64(&d.join("memory.limit_in_bytes"))
            .ok()
            .flatten()
            .filter(|l| *l < (1u64 << 62));
        let stat = read_keyed(&d.join("memory.stat")).unwrap_or_default();
        s.memory_cache = stat
            .iter()
            .find(|(k, _)| k == "cache")
            .map_or(0, |(_, v)| *v);
        let oom = read_keyed(&d.join("memory.oom_control")).unwrap_or_default();
        s.oom_kills = oom
            .iter()
            .find(|(k, _)| k == "oom_kill")
            .map_or(0, |(_, v)| *v);
    }
    if let Some(d) = dir(mounts, "pids", path) {
        s.pids_current = read_u64(&d.join("pids.current"))
            .ok()
            .flatten()
            .unwrap_or(0);
        s.pids_limit = read_u64(&d.join("pids.max")).ok().flatten();
    }
    Ok(s)
}
