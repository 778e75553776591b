//! Every flag of every docker command berth has: read from `docker CMD
//! --help` (the docker CLI v28 the machine has; no daemon needed) and
//! required of `berth CMD --help`, unless listed below as deliberately
//! different, with the reason. The behaviour of the flags is compared with
//! a private dockerd in `run_flags_vs_docker.rs` and the other differential
//! tests; this test keeps the surface complete as docker grows.

mod support;

use support::docker_flags::{ABSENT as DELIBERATELY_DIFFERENT, docker_cli, help, long_flags};
use support::{BERTH, skip};

/// Commands as typed after `docker` / `berth`.
const COMMANDS: &[&str] = &[
    "attach",
    "build",
    "builder prune",
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
