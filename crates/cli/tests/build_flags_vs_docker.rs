//! Every flag of `docker build` and `docker builder prune` (the docker CLI
//! v28, whose `build` is the classic builder without buildx), passed the
//! same way to a private dockerd and to berth: what the built image holds
//! (its RUN saw the flag's effect: hosts, cgroup limits, ulimits, shm,
//! no-new-privileges, the network), its config, and the exit codes are
//! compared. A recorder checks that no flag of these commands went
//! untried. Root only; needs dockerd (apt-get install docker.io) and the
//! registry (docker-registry) for `--pull`.

mod support;

use std::path::Path;

use support::differential::{Cli, Step, assert_same, step};
use support::docker_flags::{Recorder, assert_every_flag_compared};
use support::dockerd::Dockerd;
use support::registry::{Registry, RegistryAuth};

const SCOPE: &[&str] = &["build", "builder prune"];

/// Cases where berth does otherwise on purpose.
const DELIBERATELY_DIFFERENT: &[(&str, &str)] = &[(
    "security-opt",
    "dockerd refuses --security-opt for builds on Linux (\"does not support setting security options on build\"); berth applies it to every RUN, as docker run does",
)];

fn check(name: &str, ours: &Step) {
    match name {
        "security-opt" => assert_eq!(ours, &("NoNewPrivs:\t1\n".to_string(), 0)),
        other => panic!("{other}: no check"),
    }
}

/// Flags that cannot be compared here, with the reason.
const NOT_COMPARED: &[(&str, &str, &str)] = &[];

struct Side<'a> {
    cli: &'a dyn Cli,
    dir: &'a Path,
    registry: String,
    cgroup_parent: &'a str,
}

impl Side<'_> {
    /// Writes `dockerfile` into a context of its own, builds it with
    /// `flags`, then prints /out of the image (or the build's code).
    fn build(&self, name: &str, flags: &[&str], dockerfile: &str) -> Step {
        let dir = self.dir.join(name.replace(' ', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
        std::fs::write(dir.join("file.txt"), "from the context\n").unwrap();
        let mut args = vec!["build", "-q", "-t", "flagcase"];
        args.extend_from_slice(flags);
        let dir = dir.to_str().unwrap().to_string();
        args.push(&dir);
        let (_, code) = step(self.cli, &args);
        if code != 0 {
            return (String::new(), code);
        }
        let (out, _) = step(
            self.cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "flagcase",
                "cat",
                "/out",
            ],
        );
        (out, code)
    }
}

fn cases(side: &Side) -> Vec<(String, Step)> {
    let cli = side.cli;
    let mut log: Vec<(String, Step)> = Vec::new();
    let mut add = |name: &str, s: Step| log.push((name.to_string(), s));
    let none = ["--network", "none"];
    fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["--network", "none"];
        v.extend_from_slice(extra);
        v
    }
    add(
        "build-arg",
        side.build(
            "build-arg",
            &with(&["--build-arg", "V=passed"]),
            "FROM busybox\nARG V\nRUN echo $V > /out\n",
        ),
    );
    add("file", {
        let dir = side.dir.join("file-flag");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Other"), "FROM busybox\nRUN echo other > /out\n").unwrap();
        let other = dir.join("Other");
        let other = other.to_str().unwrap().to_string();
        let (_, code) = step(
            cli,
            &[
                "build",
                "-q",
                "--network",
                "none",
                "-f",
                &other,
                "-t",
                "flagcase",
                dir.to_str().unwrap(),
            ],
        );
        let (out, _) = step(cli, &["run", "--rm", "flagcase", "cat", "/out"]);
        (out, code)
    });
    add(
        "target",
        side.build(
            "target",
            &with(&["--target", "one"]),
            "FROM busybox AS one\nRUN echo one > /out\nFROM busybox\nRUN echo two > /out\n",
        ),
    );
    add(
        "no-cache, rm, force-rm, compress, isolation, platform",
        side.build(
            "misc",
            &with(&[
                "--no-cache",
                "--rm",
                "--force-rm",
                "--compress",
                "--isolation",
                "default",
                "--platform",
                "linux/amd64",
            ]),
            "FROM busybox\nCOPY file.txt /out\n",
        ),
    );
    add(
        "rm=false",
        side.build(
            "rm-false",
            &with(&["--rm=false"]),
            "FROM busybox\nRUN echo kept > /out\n",
        ),
    );
    add("label and tags", {
        let (_, code) = side.build(
            "label",
            &with(&["--label", "a=b", "-t", "flagcase:second"]),
            "FROM busybox\nRUN true > /out\n",
        );
        let (labels, _) = step(
            cli,
            &[
                "inspect",
                "-f",
                "{{json .Config.Labels}}",
                "flagcase:second",
            ],
        );
        (labels, code)
    });
    add("iidfile", {
        let file = side.dir.join("iid");
        let _ = std::fs::remove_file(&file);
        let (_, code) = side.build(
            "iid",
            &with(&["--iidfile", file.to_str().unwrap()]),
            "FROM busybox\nRUN true > /out\n",
        );
        let content = std::fs::read_to_string(&file).unwrap_or_default();
        (
            (content.starts_with("sha256:") && content.len() == 71).to_string(),
            code,
        )
    });
    add(
        "network none",
        side.build(
            "network",
            &none,
            "FROM busybox\nRUN grep -c : /proc/net/dev > /out\n",
        ),
    );
    add(
        "add-host",
        side.build(
            "add-host",
            &with(&["--add-host", "myhost:192.0.2.7"]),
            "FROM busybox\nRUN grep myhost /etc/hosts > /out\n",
        ),
    );
    add("cgroup-parent", {
        let parent = side.cgroup_parent;
        side.build(
            "cgroup-parent",
            &with(&["--cgroup-parent", parent]),
            &format!(
                "FROM busybox\nRUN grep -c '{}/' /proc/self/cgroup > /out || echo 0 > /out\n",
                parent.trim_start_matches('/')
            ),
        )
    });
    add(
        "cpu flags",
        side.build(
            "cpu",
            &with(&["--cpu-period", "50000", "--cpu-quota", "25000", "--cpu-shares", "512"]),
            "FROM busybox\nRUN cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares > /out\n",
        ),
    );
    add(
        "cpuset flags",
        side.build(
            "cpuset",
            &with(&["--cpuset-cpus", "0", "--cpuset-mems", "0"]),
            "FROM busybox\nRUN cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems > /out\n",
        ),
    );
    add(
        "memory flags",
        side.build(
            "memory",
            &with(&["-m", "64m", "--memory-swap", "128m"]),
            "FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /out\n",
        ),
    );
    add(
        "security-opt",
        side.build(
            "security-opt",
            &with(&["--security-opt", "no-new-privileges"]),
            "FROM busybox\nRUN grep NoNewPrivs /proc/self/status > /out\n",
        ),
    );
    add(
        "shm-size",
        side.build(
            "shm-size",
            &with(&["--shm-size", "32m"]),
            "FROM busybox\nRUN df -k /dev/shm | tail -1 | awk '{print $2}' > /out\n",
        ),
    );
    add(
        "ulimit",
        side.build(
            "ulimit",
            &with(&["--ulimit", "nofile=512:1024"]),
            "FROM busybox\nRUN echo $(ulimit -n) $(ulimit -Hn) > /out\n",
        ),
    );
    add(
        "cache-from",
        side.build(
            "cache-from",
            &with(&["--cache-from", "busybox"]),
            "FROM busybox\nRUN echo c > /out\n",
        ),
    );
    add("pull", {
        let from = format!("{}/library/busybox:latest", side.registry);
        step(cli, &["tag", "busybox", &from]);
        step(cli, &["push", &from]);
        step(cli, &["rmi", &from]);
        side.build(
            "pull",
            &with(&["--pull"]),
            &format!("FROM {from}\nRUN echo pulled > /out\n"),
        )
    });
    add("bad flag values", {
        let (_, a) = side.build("bad-memory", &with(&["-m", "lots"]), "FROM busybox\n");
        let (_, b) = side.build(
            "bad-isolation",
            &with(&["--isolation", "hyperv"]),
            "FROM busybox\n",
        );
        let (_, c) = side.build("bad-target", &with(&["--target", "nope"]), "FROM busybox\n");
        (format!("{a} {b} {c}"), 0)
    });
    // builder prune: what it prints, sizes aside.
    let total = |s: Step| -> Step {
        let lines: Vec<String> =
            s.0.lines()
                .map(|l| match l.split_once(':') {
                    Some(("Total", _)) => "Total: <size>".to_string(),
                    _ => l.to_string(),
                })
                .filter(|l| l.starts_with("Total"))
                .collect();
        (lines.join("\n"), s.1)
    };
    add(
        "builder prune -f",
        total(step(cli, &["builder", "prune", "-f"])),
    );
    add(
        "builder prune -a -f",
        total(step(cli, &["builder", "prune", "-a", "-f"])),
    );
    add(
        "builder prune --filter until",
        total(step(
            cli,
            &["builder", "prune", "-f", "--filter", "until=24h"],
        )),
    );
    add(
        "builder prune --keep-storage",
        total(step(
            cli,
            &["builder", "prune", "-f", "--keep-storage", "1g"],
        )),
    );
    add(
        "builder prune bad filter",
        (
            String::new(),
            step(cli, &["builder", "prune", "-f", "--filter", "bogus"]).1,
        ),
    );
    log
}

#[test]
fn build_flags_behave_as_in_docker() {
    let test = "build_flags_behave_as_in_docker";
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let Some(store) = support::container_store(test) else {
        return;
    };
    let (Some(theirs_registry), Some(ours_registry)) = (
        Registry::start(test, None, RegistryAuth::None),
        Registry::start(test, None, RegistryAuth::None),
    ) else {
        return;
    };
    let archive = docker.dir().join("busybox.tar");
    store.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);
    let parent = format!("{}-build", store.cgroup_parent());
    let theirs_dir = store.dir.path().join("docker-contexts");
    let ours_dir = store.dir.path().join("berth-contexts");
    let theirs = cases(&Side {
        cli: &docker,
        dir: &theirs_dir,
        registry: theirs_registry.host(),
        cgroup_parent: &parent,
    });
    let recorder = Recorder::new(&store);
    let ours = cases(&Side {
        cli: &recorder,
        dir: &ours_dir,
        registry: ours_registry.host(),
        cgroup_parent: &parent,
    });
    // The cgroup parent both made (each removes its containers' own).
    for root in support::runc::cgroup_roots() {
        let _ = std::fs::remove_dir(root.join(parent.trim_start_matches('/')));
    }
    assert_same("build flags", &theirs, &ours, DELIBERATELY_DIFFERENT, check);
    assert_every_flag_compared(test, SCOPE, &recorder.lines(), NOT_COMPARED);
}
