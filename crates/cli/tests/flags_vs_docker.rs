//! Every flag of every docker command berth has: read from `docker CMD
//! --help` (the docker CLI v28 the machine has; no daemon needed) and
//! required of `berth CMD --help`, unless listed below as deliberately
//! different, with the reason. The behaviour of the flags is compared with
//! a private dockerd in `run_flags_vs_docker.rs` and the other differential
//! tests; this test keeps the surface complete as docker grows.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::{BERTH, skip};

/// Commands as typed after `docker` / `berth`.
const COMMANDS: &[&str] = &[
    "attach",
    "commit",
    "cp",
    "create",
    "diff",
    "events",
    "exec",
    "export",
    "history",
    "images",
    "import",
    "info",
    "inspect",
    "kill",
    "load",
    "login",
    "logout",
    "logs",
    "pause",
    "port",
    "ps",
    "pull",
    "push",
    "rename",
    "restart",
    "rm",
    "rmi",
    "run",
    "save",
    "search",
    "start",
    "stats",
    "stop",
    "tag",
    "top",
    "unpause",
    "update",
    "version",
    "wait",
    "container ls",
    "container prune",
    "image ls",
    "image prune",
    "image rm",
    "image inspect",
    "volume create",
    "volume inspect",
    "volume ls",
    "volume prune",
    "volume rm",
    "network connect",
    "network create",
    "network disconnect",
    "network inspect",
    "network ls",
    "network prune",
    "network rm",
    "system df",
    "system events",
    "system info",
    "system prune",
];

/// (command, flag, why berth does not have it).
const DELIBERATELY_DIFFERENT: &[(&str, &str, &str)] = &[
    (
        "*",
        "disable-content-trust",
        "image signing (Notary) needs the internet; run/create accept it, the others have nothing to skip",
    ),
    ("run", "cpu-count", "Windows only in docker"),
    ("create", "cpu-count", "Windows only in docker"),
    ("run", "cpu-percent", "Windows only in docker"),
    ("create", "cpu-percent", "Windows only in docker"),
    ("run", "io-maxbandwidth", "Windows only in docker"),
    ("create", "io-maxbandwidth", "Windows only in docker"),
    ("run", "io-maxiops", "Windows only in docker"),
    ("create", "io-maxiops", "Windows only in docker"),
    (
        "run",
        "cpu-rt-period",
        "needs CONFIG_RT_GROUP_SCHED, which Debian's kernels lack",
    ),
    (
        "create",
        "cpu-rt-period",
        "needs CONFIG_RT_GROUP_SCHED, which Debian's kernels lack",
    ),
    (
        "run",
        "cpu-rt-runtime",
        "needs CONFIG_RT_GROUP_SCHED, which Debian's kernels lack",
    ),
    (
        "create",
        "cpu-rt-runtime",
        "needs CONFIG_RT_GROUP_SCHED, which Debian's kernels lack",
    ),
    (
        "update",
        "cpu-rt-period",
        "needs CONFIG_RT_GROUP_SCHED, which Debian's kernels lack",
    ),
    (
        "update",
        "cpu-rt-runtime",
        "needs CONFIG_RT_GROUP_SCHED, which Debian's kernels lack",
    ),
    (
        "run",
        "gpus",
        "no GPU support (docker needs the NVIDIA container toolkit for it)",
    ),
    (
        "create",
        "gpus",
        "no GPU support (docker needs the NVIDIA container toolkit for it)",
    ),
    (
        "run",
        "ip6",
        "IPv6 networks are not built yet (networking issue)",
    ),
    (
        "create",
        "ip6",
        "IPv6 networks are not built yet (networking issue)",
    ),
    (
        "run",
        "link-local-ip",
        "IPv6 and link-local addresses are not built yet (networking issue)",
    ),
    (
        "create",
        "link-local-ip",
        "IPv6 and link-local addresses are not built yet (networking issue)",
    ),
    (
        "run",
        "use-api-socket",
        "mounts docker's socket and credentials; berth daemon's socket is opt-in",
    ),
    (
        "create",
        "use-api-socket",
        "mounts docker's socket and credentials; berth daemon's socket is opt-in",
    ),
    (
        "update",
        "kernel-memory",
        "deprecated by docker and ignored",
    ),
    (
        "push",
        "platform",
        "pushes what the store has (one platform)",
    ),
    (
        "save",
        "platform",
        "saves what the store has (one platform)",
    ),
    ("load", "platform", "loads every platform in the archive"),
    (
        "history",
        "platform",
        "the store holds one platform per image",
    ),
    (
        "image inspect",
        "platform",
        "the store holds one platform per image",
    ),
    (
        "network create",
        "aux-address",
        "IPAM auxiliary addresses are not built yet (networking issue)",
    ),
    (
        "network create",
        "config-from",
        "swarm config-only networks",
    ),
    (
        "network create",
        "config-only",
        "swarm config-only networks",
    ),
    ("network create", "ingress", "swarm routing mesh"),
    ("network create", "scope", "swarm scope"),
    ("network create", "ipam-driver", "only the default IPAM"),
    ("network create", "ipam-opt", "only the default IPAM"),
    ("network create", "ipv4", "pending (networking issue)"),
    (
        "network connect",
        "driver-opt",
        "no network drivers with options",
    ),
    (
        "network connect",
        "gw-priority",
        "pending (networking issue)",
    ),
    (
        "network connect",
        "ip6",
        "IPv6 networks are not built yet (networking issue)",
    ),
    (
        "network connect",
        "link",
        "legacy links; containers on a user network resolve by name",
    ),
    (
        "network connect",
        "link-local-ip",
        "IPv6 and link-local addresses are not built yet (networking issue)",
    ),
    ("network inspect", "verbose", "swarm service details"),
    (
        "volume create",
        "availability",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "group",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "limit-bytes",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "required-bytes",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "scope",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "secret",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "sharing",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "topology-preferred",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "topology-required",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume create",
        "type",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume inspect",
        "cluster",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "volume ls",
        "cluster",
        "cluster (CSI) volumes are swarm only",
    ),
    (
        "rm",
        "link",
        "legacy links are not available; containers on a user network resolve by name",
    ),
    ("rmi", "platform", "the store holds one platform per image"),
    (
        "image rm",
        "platform",
        "the store holds one platform per image",
    ),
    (
        "start",
        "checkpoint",
        "checkpoint/restore (CRIU) is experimental in docker and not built",
    ),
    (
        "start",
        "checkpoint-dir",
        "checkpoint/restore (CRIU) is experimental in docker and not built",
    ),
    (
        "images",
        "tree",
        "docker's experimental multi-platform view; the store holds one platform per image",
    ),
    (
        "image ls",
        "tree",
        "docker's experimental multi-platform view; the store holds one platform per image",
    ),
];

/// The long flags a `--help` text lists (`  -a, --all  …`).
fn long_flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let t = line.trim_start();
        let t = match t.strip_prefix('-') {
            Some(rest) if !rest.starts_with('-') => {
                // "-a, --all": skip the short form.
                match rest.split_once(", ") {
                    Some((_, long)) => long,
                    None => continue,
                }
            }
            _ => t,
        };
        if let Some(rest) = t.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.is_empty() && name != "help" {
                flags.insert(name);
            }
        }
    }
    flags
}

fn help(program: &str, command: &str) -> String {
    let mut cmd = Command::new(program);
    cmd.args(command.split(' ')).arg("--help");
    // The docker CLI needs no daemon for help; make sure it asks none.
    cmd.env("DOCKER_HOST", "unix:///nonexistent-berth-test.sock");
    let out = cmd.output().expect("run --help");
    assert!(
        out.status.success(),
        "{program} {command} --help: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn docker_cli() -> Option<&'static str> {
    ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

#[test]
fn every_docker_flag_is_implemented_or_listed_with_its_reason() {
    let test = "every_docker_flag_is_implemented_or_listed_with_its_reason";
    let Some(docker) = docker_cli() else {
        skip(
            test,
            "the docker CLI is not installed (apt-get install docker.io)",
        );
        return;
    };
    let mut same = 0;
    let mut different = 0;
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for command in COMMANDS {
        let theirs = long_flags(&help(docker, command));
        let ours = long_flags(&help(BERTH, command));
        for flag in &theirs {
            let listed = DELIBERATELY_DIFFERENT
                .iter()
                .any(|(c, f, _)| (*c == *command || *c == "*") && f == flag);
            match (ours.contains(flag), listed) {
                (true, false) => same += 1,
                (false, true) => different += 1,
                (true, true) => {
                    if !DELIBERATELY_DIFFERENT
                        .iter()
                        .any(|(c, f, _)| *c == "*" && f == flag)
                    {
                        stale.push(format!("{command} --{flag}"));
                    } else {
                        same += 1;
                    }
                }
                (false, false) => missing.push(format!("{command} --{flag}")),
            }
        }
    }
    eprintln!(
        "docker flags across {} commands: {same} in berth, {different} deliberately different",
        COMMANDS.len()
    );
    assert!(
        missing.is_empty(),
        "docker flags berth lacks (implement them or list them with the reason):\n  {}",
        missing.join("\n  ")
    );
    assert!(
        stale.is_empty(),
        "listed as different but berth has them (take them off the list):\n  {}",
        stale.join("\n  ")
    );
}
