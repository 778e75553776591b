//! The managers against a fake cgroupfs (plain directories): the same
//! resources must land in the right files on v1 and v2.

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use super::*;

fn resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000i64)
                .period(100_000u64)
                .cpus("0")
                .mems("0")
                .build()
                .expect("cpu"),
        )
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64i64 << 20)
                .swap(128i64 << 20)
                .reservation(32i64 << 20)
                .build()
                .expect("mem"),
        )
        .pids(
            LinuxPidsBuilder::default()
                .limit(10i64)
                .build()
                .expect("pids"),
        )
        .build()
        .expect("resources")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

fn fake_v1() -> (tempfile::TempDir, Hierarchy) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mounts = BTreeMap::new();
    for c in [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer",
    ] {
        let m = dir.path().join(c);
        std::fs::create_dir(&m).expect("mkdir");
        mounts.insert(c.to_string(), m);
    }
    std::fs::write(dir.path().join("cpuset/cpuset.cpus"), "0-1\n").expect("write");
    std::fs::write(dir.path().join("cpuset/cpuset.mems"), "0\n").expect("write");
    (
        dir,
        Hierarchy::V1 {
            mounts,
            unified: None,
        },
    )
}

#[test]
fn v1_resources_land_in_controller_files() {
    let (dir, h) = fake_v1();
    // memsw exists only where swap accounting is on; make it exist.
    std::fs::create_dir_all(dir.path().join("memory/berth/c1")).expect("mkdir");
    std::fs::write(
        dir.path()
            .join("memory/berth/c1/memory.memsw.limit_in_bytes"),
        "",
    )
    .expect("write");
    let cg = Cgroup::new(h, "berth/c1").expect("path");
    assert_eq!(cg.path(), "/berth/c1");
    cg.create(Some(&resources())).expect("create");
    let d = |c: &str, f: &str| read(&dir.path().join(c).join("berth/c1").join(f));
    assert_eq!(d("cpu", "cpu.shares"), "512");
    assert_eq!(d("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(d("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(d("cpuset", "cpuset.cpus"), "0");
    assert_eq!(
        read(&dir.path().join("cpuset/berth/cpuset.cpus")),
        "0-1",
        "parents inherit cpus"
    );
    assert_eq!(
        d("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        d("memory", "memory.memsw.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        d("memory", "memory.soft_limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    assert_eq!(d("pids", "pids.max"), "10");
    cg.add_pid(4242).expect("add");
    assert_eq!(d("freezer", "cgroup.procs"), "4242");
    assert_eq!(cg.pids().expect("pids"), vec![4242]);
    cg.freeze(FreezerState::Frozen).expect("freeze");
    assert_eq!(cg.freezer_state().expect("state"), FreezerState::Frozen);
    cg.freeze(FreezerState::Thawed).expect("thaw");
    cg.remove().expect("remove");
    assert!(!cg.exists());
}

#[test]
fn v1_device_rules_and_unified_refused() {
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};
    let (dir, h) = fake_v1();
    let cg = Cgroup::new(h, "/d").expect("path");
    let rules = vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .expect("rule"),
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(3i64)
            .access("rwm")
            .build()
            .expect("rule"),
    ];
    let r = LinuxResourcesBuilder::default()
        .devices(rules)
        .build()
        .expect("resources");
    cg.create(Some(&r)).expect("create");
    // The fake file keeps only the last write per file.
    assert_eq!(
        read(&dir.path().join("devices/d/devices.deny")),
        "a *:* rwm"
    );
    assert_eq!(
        read(&dir.path().join("devices/d/devices.allow")),
        "c 1:3 rwm"
    );
    let mut unified = std::collections::HashMap::new();
    unified.insert("memory.high".to_string(), "1G".to_string());
    let r = LinuxResourcesBuilder::default()
        .unified(unified)
        .build()
        .expect("resources");
    assert!(cg.apply(&r).is_err(), "unified needs v2");
}

#[test]
fn v2_resources_are_converted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Hierarchy::V2 {
        root: dir.path().to_path_buf(),
    };
    let cg = Cgroup::new(h, "/berth/c2").expect("path");
    cg.create(Some(&resources())).expect("create");
    let d = |f: &str| read(&dir.path().join("berth/c2").join(f));
    assert_eq!(d("cpu.weight"), v2::shares_to_weight(512).to_string());
    assert_eq!(d("cpu.max"), "50000 100000");
    assert_eq!(d("cpuset.cpus"), "0");
    assert_eq!(d("memory.max"), (64u64 << 20).to_string());
    assert_eq!(
        d("memory.swap.max"),
        (64u64 << 20).to_string(),
        "swap.max is swap minus memory"
    );
    assert_eq!(d("memory.low"), (32u64 << 20).to_string());
    assert_eq!(d("pids.max"), "10");
    cg.freeze(FreezerState::Frozen).expect("freeze");
    assert_eq!(d("cgroup.freeze"), "1");
    assert_eq!(cg.freezer_state().expect("state"), FreezerState::Frozen);
    let unlimited = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .quota(-1i64)
                .build()
                .expect("cpu"),
        )
        .memory(
            LinuxMemoryBuilder::default()
                .limit(-1i64)
                .build()
                .expect("mem"),
        )
        .pids(
            LinuxPidsBuilder::default()
                .limit(-1i64)
                .build()
                .expect("pids"),
        )
        .build()
        .expect("resources");
    let unset = LinuxResourcesBuilder::default()
        .pids(
            LinuxPidsBuilder::default()
                .limit(0i64)
                .build()
                .expect("pids"),
        )
        .build()
        .expect("resources");
    cg.apply(&unset).expect("update");
    assert_eq!(d("pids.max"), "10", "0 means unset, as in runc");
    cg.apply(&unlimited).expect("update");
    assert_eq!(d("cpu.max"), "max 100000");
    assert_eq!(d("memory.max"), "max");
    assert_eq!(d("pids.max"), "max");
}

#[test]
fn weight_conversions_match_runc() {
    assert_eq!(v2::shares_to_weight(2), 1);
    assert_eq!(v2::shares_to_weight(1024), 39);
    assert_eq!(v2::shares_to_weight(262_144), 10_000);
    assert_eq!(v2::blkio_to_io_weight(10), 1);
    assert_eq!(v2::blkio_to_io_weight(1000), 10_000);
}

#[test]
fn detects_hierarchies_from_mountinfo() {
    let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw\n\
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
        36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
    match Hierarchy::from_mountinfo(hybrid).expect("detect") {
        Hierarchy::V1 { mounts, unified } => {
            assert_eq!(
                unified.as_deref(),
                Some(Path::new("/sys/fs/cgroup/unified"))
            );
            assert_eq!(mounts["memory"], Path::new("/sys/fs/cgroup/memory"));
            assert_eq!(mounts["cpu"], Path::new("/sys/fs/cgroup/cpu"));
            assert_eq!(mounts["cpuacct"], Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        }
        other => panic!("hybrid is v1: {other:?}"),
    }
    let unified = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_eq!(
        Hierarchy::from_mountinfo(unified).expect("detect"),
        Hierarchy::V2 {
            root: "/sys/fs/cgroup".into()
        }
    );
    assert!(Hierarchy::from_mountinfo("").is_err());
    assert!(Cgroup::new(Hierarchy::V2 { root: "/x".into() }, "/a/../b").is_err());
}
