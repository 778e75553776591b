//! docker's flags as `docker CMD --help` lists them (the docker CLI v28 the
//! machine has; no daemon needed), and which of them a differential test
//! exercised: every command line a test runs through a [`Recorder`] is
//! parsed with docker's own flag table, so "compared" means "a case really
//! passed that flag", never a list someone kept by hand.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use super::differential::Cli;

/// One flag of a command's help: `-a, --all` or `--filter filter`.
#[derive(Debug, Clone)]
pub struct Flag {
    pub long: String,
    pub short: Option<char>,
    /// Followed by a type word in the help (`--name string`): takes a value.
    pub takes_value: bool,
}

/// The docker CLI, if installed.
pub fn docker_cli() -> Option<&'static str> {
    ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// `PROGRAM COMMAND --help`, asking no daemon.
pub fn help(program: &str, command: &str) -> String {
    let mut cmd = Command::new(program);
    cmd.args(command.split(' ')).arg("--help");
    cmd.env("DOCKER_HOST", "unix:///nonexistent-berth-test.sock");
    let out = cmd.output().expect("run --help");
    assert!(
        out.status.success(),
        "{program} {command} --help: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The flags a `--help` text lists, `--help` itself left out.
pub fn flags(help: &str) -> Vec<Flag> {
    let mut flags = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        let (short, rest) = match t.strip_prefix('-') {
            Some(r) if !r.starts_with('-') => match r.split_once(", ") {
                Some((s, long)) => (s.chars().next(), long),
                None => continue,
            },
            _ => (None, t),
        };
        let Some(rest) = rest.strip_prefix("--") else {
            continue;
        };
        let long: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if long.is_empty() || long == "help" {
            continue;
        }
        // "--name string   Assign a name": a single space then a type word.
        let after = &rest[long.len()..];
        let takes_value = after.starts_with(' ')
            && !after.starts_with("  ")
            && after[1..].starts_with(|c: char| c.is_ascii_lowercase());
        flags.push(Flag {
            long,
            short,
            takes_value,
        });
    }
    flags
}

/// The long flags of a `--help` text.
pub fn long_flags(help: &str) -> BTreeSet<String> {
    flags(help).into_iter().map(|f| f.long).collect()
}

/// A [`Cli`] that remembers every command line it was given.
pub struct Recorder<'a> {
    cli: &'a dyn Cli,
    lines: RefCell<Vec<Vec<String>>>,
}

impl<'a> Recorder<'a> {
    pub fn new(cli: &'a dyn Cli) -> Recorder<'a> {
        Recorder {
            cli,
            lines: RefCell::new(Vec::new()),
        }
    }

    pub fn lines(&self) -> Vec<Vec<String>> {
        self.lines.borrow().clone()
    }
}

impl Cli for Recorder<'_> {
    fn command(&self, args: &[&str]) -> Command {
        self.lines
            .borrow_mut()
            .push(args.iter().map(|a| a.to_string()).collect());
        self.cli.command(args)
    }
}

/// (command, long flag) of every flag the lines passed, for the commands
/// of `scope` (a line belongs to the longest command of `scope` it starts
/// with). Flags are read until the first argument that is not one: what
/// follows the image or container is the container's, not docker's.
pub fn flags_used(
    docker: &str,
    scope: &[&str],
    lines: &[Vec<String>],
) -> BTreeSet<(String, String)> {
    let tables: BTreeMap<&str, Vec<Flag>> = scope
        .iter()
        .map(|c| (*c, flags(&help(docker, c))))
        .collect();
    let mut used = BTreeSet::new();
    for line in lines {
        let Some(command) = scope
            .iter()
            .filter(|c| {
                let words: Vec<&str> = c.split(' ').collect();
                line.len() >= words.len() && line.iter().zip(&words).all(|(a, w)| a == w)
            })
            .max_by_key(|c| c.len())
        else {
            continue;
        };
        let table = &tables[command];
        let mut args = line[command.split(' ').count()..].iter();
        while let Some(arg) = args.next() {
            if arg == "--" || !arg.starts_with('-') || arg == "-" {
                break;
            }
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, _)) => (n, true),
                    None => (long, false),
                };
                if let Some(flag) = table.iter().find(|f| f.long == name) {
                    used.insert((command.to_string(), flag.long.clone()));
                    if flag.takes_value && !inline {
                        args.next();
                    }
                }
                continue;
            }
            // "-it", "-uroot", "-e A=1"
            let shorts: Vec<char> = arg[1..].chars().collect();
            for (i, c) in shorts.iter().enumerate() {
                let Some(flag) = table.iter().find(|f| f.short == Some(*c)) else {
                    break;
                };
                used.insert((command.to_string(), flag.long.clone()));
                if flag.takes_value {
                    if i + 1 == shorts.len() {
                        args.next();
                    }
                    break;
                }
            }
        }
    }
    used
}

/// Fails unless every docker flag of every command of `scope` was passed
/// by some line, is one berth lacks on purpose ([`ABSENT`]), or is listed
/// in `not_compared` with the reason it cannot be compared here. Prints
/// the counts.
pub fn assert_every_flag_compared(
    test: &str,
    scope: &[&str],
    lines: &[Vec<String>],
    not_compared: &[(&str, &str, &str)],
) {
    let docker = docker_cli().expect("the docker CLI");
    let used = flags_used(docker, scope, lines);
    let (mut compared, mut absent, mut listed) = (0, 0, 0);
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for command in scope {
        for flag in long_flags(&help(docker, command)) {
            let is = |list: &[(&str, &str, &str)]| {
                list.iter()
                    .any(|(c, f, _)| (*c == *command || *c == "*") && *f == flag)
            };
            let was_used = used.contains(&(command.to_string(), flag.clone()));
            if is(ABSENT) {
                absent += 1;
            } else if is(not_compared) {
                listed += 1;
                if was_used {
                    stale.push(format!("{command} --{flag}"));
                }
            } else if was_used {
                compared += 1;
            } else {
                missing.push(format!("{command} --{flag}"));
            }
        }
    }
    eprintln!(
        "{test}: docker flags of {} commands: {compared} compared with docker, \
         {listed} not comparable here (listed with the reason), {absent} absent on purpose",
        scope.len()
    );
    for (c, f, why) in not_compared {
        eprintln!("  not compared: {c} --{f}: {why}");
    }
    assert!(
        missing.is_empty(),
        "docker flags no case compared (add a case or list it with the reason):\n  {}",
        missing.join("\n  ")
    );
    assert!(
        stale.is_empty(),
        "listed as not comparable but a case passes them (take them off the list):\n  {}",
        stale.join("\n  ")
    );
}

/// (command, flag, why berth does not have it); "*" is every command.
pub const ABSENT: &[(&str, &str, &str)] = &[
    (
        "*",
        "disable-content-trust",
        "image signing (Notary) needs the internet; run/create accept it, the others have nothing to skip",
    ),
    (
        "build",
        "squash",
        "experimental in docker (dockerd --experimental only; BuildKit ignores it); berth keeps one layer per step",
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
