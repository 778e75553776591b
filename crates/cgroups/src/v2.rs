//! cgroup v2: the unified hierarchy.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::error::{Error, Result, read, read_keyed, read_u64, write};
use crate::{FreezerState, Stats, join};

/// Controllers enabled for the subtree on the way down to a new cgroup.
const CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids", "hugetlb", "misc"];

pub fn create(root: &Path, path: &str) -> Result<()> {
    let mut current = root.to_path_buf();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        enable_controllers(&current)?;
        current = current.join(part);
        if !current.is_dir() {
            std::fs::create_dir(&current).map_err(|e| Error::io("create cgroup", &current, e))?;
        }
    }
    Ok(())
}

/// Turns on, in `dir`'s subtree_control, every controller `dir` has.
fn enable_controllers(dir: &Path) -> Result<()> {
    let Ok(available) = std::fs::read_to_string(dir.join("cgroup.controllers")) else {
        return Ok(()); // not a real cgroupfs (tests) or nothing to enable
    };
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let wanted: Vec<String> = available
        .split_whitespace()
        .filter(|c| CONTROLLERS.contains(c) && !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
}

/// runc's mapping of v1 cpu shares [2, 262144] onto v2 weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        0
    } else {
        1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
    }
}

/// v1 blkio weight [10, 1000] onto v2 io.weight [1, 10000].
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + ((weight.clamp(10, 1000) as u64 - 10) * 9999) / 990
}

pub fn apply(root: &Path, path: &str, r: &LinuxResources) -> Result<()> {
    let d = join(root, path);
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = cpu.shares()
            && shares > 0
        {
            write(&d.join("cpu.weight"), &shares_to_weight(shares).to_string())?;
        }
        // As in runc, zero means "not set".
        let (quota, period) = (
            cpu.quota().filter(|q| *q != 0),
            cpu.period().filter(|p| *p != 0),
        );
        if quota.is_some() || period.is_some() {
            let quota = match quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            let period = period.unwrap_or(100_000);
            write(&d.join("cpu.max"), &format!("{quota} {period}"))?;
        }
        if let Some(burst) = cpu.burst() {
            write(&d.join("cpu.max.burst"), &burst.to_string())?;
        }
        if let Some(idle) = cpu.idle() {
            write(&d.join("cpu.idle"), &idle.to_string())?;
        }
        if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
            write(&d.join("cpuset.cpus"), cpus)?;
        }
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            write(&d.join("cpuset.mems"), mems)?;
        }
    }
    if let Some(mem) = r.memory() {
        let limit = mem.limit().filter(|l| *l > 0);
        if let Some(limit) = mem.limit().filter(|l| *l != 0) {
            write(
                &d.join("memory.max"),
                &if limit > 0 {
                    limit.to_string()
                } else {
                    "max".into()
                },
            )?;
        }
        if let Some(swap) = mem.swap().filter(|s| *s != 0) {
            // OCI's swap is memory+swap; v2's swap.max is swap alone.
            let value = match (swap, limit) {
                (s, _) if s <= 0 => "max".to_string(),
                (s, Some(l)) if s >= l => (s - l).to_string(),
                (s, Some(l)) => {
                    return Err(Error::Invalid(format!(
                        "memory+swap limit {s} is below the memory limit {l}"
                    )));
                }
                (_, None) => {
                    return Err(Error::Invalid(
                        "a swap limit needs a memory limit on cgroup v2".into(),
                    ));
                }
            };
            let file = d.join("memory.swap.max");
            if file.exists() || !is_cgroupfs(&d) {
                write(&file, &value)?;
            } else if value != "0" && value != "max" {
                return Err(Error::Unsupported(
                    "this kernel has no swap accounting (memory.swap.max)".into(),
                ));
            }
        }
        if let Some(res) = mem.reservation().filter(|r| *r != 0) {
            write(
                &d.join("memory.low"),
                &if res > 0 { res.to_string() } else { "0".into() },
            )?;
        }
        if mem.disable_oom_killer() == Some(true) {
            return Err(Error::Unsupported(
                "disabling the OOM killer is not possible on cgroup v2".into(),
            ));
        }
    }
    if let Some(pids) = r.pids()
        && let Some(value) = crate::pids_max(pids.limit())
    {
        write(&d.join("pids.max"), &value)?;
    }
    if let Some(blkio) = r.block_io() {
        if let Some(weight) = blkio.weight().filter(|w| *w != 0) {
            write(
                &d.join("io.weight"),
                &blkio_to_io_weight(weight).to_string(),
            )?;
        }
        // Per-device weights: BFQ's file where the scheduler is BFQ (its
        // scale is v1's), io.weight's otherwise, as runc does.
        for w in blkio.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(weight) = w.weight() {
                let (file, value) = if d.join("io.bfq.weight").exists() {
                    ("io.bfq.weight", weight as u64)
                } else {
                    ("io.weight", blkio_to_io_weight(weight))
                };
                write(
                    &d.join(file),
                    &format!("{}:{} {value}", w.major(), w.minor()),
                )?;
            }
        }
        for (kind, major, minor, rate) in crate::blkio::throttles(blkio) {
            write(
                &d.join("io.max"),
                &format!("{major}:{minor} {}={rate}", kind.v2_key()),
            )?;
        }
    }
    if let Some(rdma) = r.rdma().as_ref().filter(|r| !r.is_empty()) {
        for line in crate::rdma::max_lines(rdma) {
            write(&d.join("rdma.max"), &line)?;
        }
    }
    if let Some(limits) = r.hugepage_limits() {
        for l in limits {
            write(
                &d.join(format!("hugetlb.{}.max", l.page_size())),
                &l.limit().to_string(),
            )?;
        }
    }
    if let Some(unified) = r.unified() {
        let mut keys: Vec<_> = unified.iter().collect();
        keys.sort();
        for (key, value) in keys {
            if key.contains('/') || key.starts_with('.') {
                return Err(Error::Invalid(format!(
                    "linux.resources.unified key {key:?} is not a cgroup file name"
                )));
            }
            write(&d.join(key), value)?;
        }
    }
    if let Some(devices) = r.devices()
        && !devices.is_empty()
    {
        crate::bpf::apply_device_filter(&d, devices)?;
    }
    Ok(())
}

/// A directory of the real cgroup2 filesystem (not a test's fake).
fn is_cgroupfs(d: &Path) -> bool {
    d.join("cgroup.controllers").exists()
}

pub fn freeze(root: &Path, path: &str, state: FreezerState) -> Result<()> {
    let d = join(root, path);
    let want = match state {
        FreezerState::Frozen => "1",
        FreezerState::Thawed => "0",
    };
    write(&d.join("cgroup.freeze"), want)?;
    let events = d.join("cgroup.events");
    if !events.exists() {
        return Ok(());
    }
    for _ in 0..2000 {
        if read_keyed(&events)?
            .iter()
            .any(|(k, v)| k == "frozen" && v.to_string() == want)
        {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Invalid(format!(
        "{}: the cgroup did not reach frozen={want}",
        events.display()
    )))
}

pub fn freezer_state(root: &Path, path: &str) -> Result<FreezerState> {
    let d: PathBuf = join(root, path);
    match read(&d.join("cgroup.freeze")) {
        Ok(s) if s.trim() == "1" => Ok(FreezerState::Frozen),
        _ => Ok(FreezerState::Thawed),
    }
}

pub fn stats(root: &Path, path: &str) -> Result<Stats> {
    let d = join(root, path);
    let mut s = Stats::default();
    let cpu = read_keyed(&d.join("cpu.stat")).unwrap_or_default();
    s.cpu_usage_ns = cpu
        .iter()
        .find(|(k, _)| k == "usage_usec")
        .map_or(0, |(_, v)| v * 1000);
    s.memory_usage = read_u64(&d.join("memory.current"))
        .ok()
        .flatten()
        .unwrap_or(0);
    s.memory_limit = read_u64(&d.join("memory.max")).ok().flatten();
    let mem = read_keyed(&d.join("memory.stat")).unwrap_or_default();
    s.memory_cache = mem.iter().find(|(k, _)| k == "file").map_or(0, |(_, v)| *v);
    let events = read_keyed(&d.join("memory.events")).unwrap_or_default();
    s.oom_kills = events
        .iter()
        .find(|(k, _)| k == "oom_kill")
        .map_or(0, |(_, v)| *v);
    s.pids_current = read_u64(&d.join("pids.current"))
        .ok()
        .flatten()
        .unwrap_or(0);
    s.pids_limit = read_u64(&d.join("pids.max")).ok().flatten();
    Ok(s)
}
