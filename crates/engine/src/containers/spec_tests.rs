//! Golden tests of the generated config.json: the whole document for a
//! default container and for one with most run options, compared with
//! checked-in files (`testdata/*.json`; rewrite them with BERTH_BLESS=1 after
//! an intended change and review the diff). The seccomp profile is large
//! and tested on its own, so the golden files hold a summary of it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::config::{DeviceSpec, MountKind, MountSpec, Ulimit};
use super::spec::{SpecInputs, build};
use super::{ContainerConfig, RestartPolicy};

fn inputs<'a>(
    config: &'a ContainerConfig,
    volume_dirs: &'a [Option<PathBuf>],
    v2: bool,
) -> SpecInputs<'a> {
    SpecInputs {
        id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        config,
        rootfs: Path::new("/var/lib/berth/containers/ID/rootfs"),
        container_dir: Path::new("/var/lib/berth/containers/ID"),
        volume_dirs,
        cgroup_v2: v2,
        cgroup_parent: "/berth",
        init_binary: Some(Path::new("/usr/local/bin/berth")),
        joined_network: None,
        joined_namespaces: Vec::new(),
        shared_shm: None,
        volume_options: &[],
    }
}

/// The seccomp section, summarised: its default action and rule count.
fn summarise(mut spec: Value) -> Value {
    if let Some(seccomp) = spec["linux"].get_mut("seccomp") {
        let rules = seccomp["syscalls"].as_array().map_or(0, |a| a.len());
        *seccomp = json!({
            "defaultAction": seccomp["defaultAction"],
            "defaultErrnoRet": seccomp["defaultErrnoRet"],
            "rules": rules,
        });
    }
    spec
}

fn golden(name: &str, actual: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/containers/testdata")
        .join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("BERTH_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (BERTH_BLESS=1 writes it)", path.display()));
    assert!(
        expected == text,
        "{} differs from the generated spec:\n{text}",
        path.display()
    );
}

fn busybox() -> ContainerConfig {
    ContainerConfig {
        image: "busybox".into(),
        cmd: vec!["sh".into()],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
        hostname: "0123456789ab".into(),
        ..ContainerConfig::default()
    }
}

#[test]
fn default_container_spec() {
    let mut config = busybox();
    config.host.network_mode = "none".into();
    let spec = build(&inputs(&config, &[], false)).unwrap();
    let seccomp = &spec["linux"]["seccomp"];
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
    let names: usize = seccomp["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["names"].as_array().map_or(0, |n| n.len()))
        .sum();
    assert!(
        names > 300,
        "Docker's allowlist names over 300 system calls, not {names}"
    );
    golden("default-spec", &summarise(spec));
}

#[test]
fn container_with_run_options_spec() {
    let mut config = busybox();
    config.entrypoint = Some(vec!["/bin/sh".into(), "-c".into()]);
    config.cmd = vec!["echo hi".into()];
    config.env.push("A=1".into());
    config.working_dir = "/work".into();
    config.tty = true;
    config.host.network_mode = "host".into();
    config.host.read_only = true;
    config.host.cap_add = vec!["SYS_ADMIN".into()];
    config.host.cap_drop = vec!["NET_RAW".into(), "mknod".into()];
    config.host.security_opt = vec!["no-new-privileges".into(), "seccomp=unconfined".into()];
    config.host.restart = RestartPolicy::parse("on-failure:3").unwrap();
    config.host.init = true;
    config.host.resources.memory = 64 << 20;
    config.host.resources.nano_cpus = 1_500_000_000;
    config.host.resources.cpu_shares = 512;
    config.host.resources.cpuset_cpus = "0".into();
    config.host.resources.pids_limit = 10;
    config.host.shm_size = 1 << 20;
    config.host.ulimits = vec![Ulimit {
        name: "nofile".into(),
        soft: 1024,
        hard: 2048,
    }];
    config.host.devices = vec![DeviceSpec {
        host_path: "/dev/null".into(),
        container_path: "/dev/mynull".into(),
        permissions: "rw".into(),
    }];
    config.host.mounts = vec![
        MountSpec {
            kind: MountKind::Bind,
            source: "/srv/data".into(),
            target: "/data".into(),
            read_only: true,
            options: vec![],
            anonymous: false,
        },
        MountSpec {
            kind: MountKind::Volume,
            source: "cache".into(),
            target: "/data/cache".into(),
            read_only: false,
            options: vec![],
            anonymous: false,
        },
        MountSpec {
            kind: MountKind::Tmpfs,
            source: String::new(),
            target: "/run".into(),
            read_only: false,
            options: vec!["size=1m".into()],
            anonymous: false,
        },
    ];
    let volume_dirs = vec![
        None,
        Some(PathBuf::from("/var/lib/berth/volumes/cache/_data")),
        None,
    ];
    let spec = build(&inputs(&config, &volume_dirs, true)).unwrap();
    assert!(spec["linux"].get("seccomp").is_none(), "unconfined");
    golden("options-spec", &spec);
}

#[test]
fn privileged_drops_masks_and_confinement() {
    let mut config = busybox();
    config.host.privileged = true;
    let spec = build(&inputs(&config, &[], false)).unwrap();
    assert!(spec["linux"].get("seccomp").is_none());
    assert!(spec["linux"].get("maskedPaths").is_none());
    assert_eq!(
        spec["linux"]["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
    assert!(
        spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/sys"
                && m["options"].as_array().unwrap().contains(&json!("rw")))
    );
}

#[test]
fn no_command_is_an_error() {
    let mut config = busybox();
    config.cmd.clear();
    let e = build(&inputs(&config, &[], false)).unwrap_err();
    assert_eq!(e.message, "No command specified");
}

/// `--uts host` (no hostname in the spec), `--ipc host` (the host's
/// /dev/shm), `--pid host`, `--cgroupns private` on v1, sysctls, OOM
/// settings, annotations and a device cgroup rule.
#[test]
fn namespace_modes_and_kernel_options_spec() {
    let mut config = busybox();
    config.host.network_mode = "none".into();
    config.host.uts_mode = "host".into();
    config.host.ipc_mode = "host".into();
    config.host.pid_mode = "host".into();
    config.host.cgroupns_mode = "private".into();
    config.host.oom_score_adj = 500;
    config.host.sysctls = [("net.ipv4.ip_forward".to_string(), "1".to_string())].into();
    config.host.annotations = [("org.example/a".to_string(), "b".to_string())].into();
    config.host.device_cgroup_rules = vec!["c 42:* rmw".into()];
    config.host.resources.memory = 64 << 20;
    config.host.resources.oom_kill_disable = true;
    config.host.resources.memory_swappiness = Some(10);
    let spec = build(&inputs(&config, &[], false)).unwrap();
    assert!(
        spec.get("hostname").is_none(),
        "the host's UTS namespace keeps its name"
    );
    let kinds: Vec<&str> = spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mount", "network", "cgroup"]);
    golden("namespace-modes-spec", &summarise(spec));
}
