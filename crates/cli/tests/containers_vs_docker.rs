//! Differential: the seed's session and a handful of probes run against a
//! private dockerd (the real docker CLI) and against berth; stdout and exit
//! codes must match. Root only; needs dockerd (apt-get install docker.io).
//!
//! Intended differences, normalised before comparing:
//! - container IDs and generated names are random (hostnames are compared as
//!   "the container's short ID" in both);
//! - `ps` times ("2 seconds ago") depend on the clock;
//! - the interactive shell's terminal traffic (escape sequences, echo) is
//!   only searched for the lines the scenario prints.

mod support;

use std::time::Duration;

use support::Store;
use support::differential::{Cli, Step, step};
use support::dockerd::Dockerd;
use support::pty::Pty;

/// `run --rm --network none ARGS…` (docker's default network needs a bridge).
fn run_rm(cli: &dyn Cli, args: &[&str]) -> Step {
    let mut full = vec!["run", "--rm", "--network", "none"];
    full.extend_from_slice(args);
    step(cli, &full)
}

/// `run -it --network none --name NAME IMAGE sh` through a pty: runs
/// `line`, exits with `code`; returns what the terminal showed.
fn interactive(cli: &dyn Cli, name: &str, image: &str, line: &str, code: i32) -> String {
    let args = [
        "run",
        "-it",
        "--network",
        "none",
        "--name",
        name,
        image,
        "sh",
    ];
    let mut pty = Pty::spawn(cli.command(&args));
    pty.expect("# ", Duration::from_secs(30));
    pty.send(&format!("{line}; echo step-done\n"));
    pty.expect("step-done\r\n", Duration::from_secs(30));
    pty.send(&format!("exit {code}\n"));
    assert_eq!(pty.wait(Duration::from_secs(30)), code, "{}", pty.output());
    pty.output()
}

/// The scenario, recorded step by step.
fn scenario(cli: &dyn Cli, hostdir: &str) -> Vec<(String, Step)> {
    let mut log = Vec::new();
    let mut record = |name: &str, s: Step| log.push((name.to_string(), s));

    record(
        "run echo",
        step(
            cli,
            &["run", "--network", "none", "busybox", "echo", "hello"],
        ),
    );
    record("ps", {
        let (out, code) = step(cli, &["ps"]);
        (out.lines().skip(1).count().to_string(), code)
    });
    record(
        "ps -a",
        step(
            cli,
            &["ps", "-a", "--format", "{{.Image}} {{.Command}} {{.State}}"],
        ),
    );
    record("exit code", run_rm(cli, &["busybox", "sh", "-c", "exit 3"]));
    record("not found", {
        let (_, code) = run_rm(cli, &["busybox", "nosuchcommand"]);
        (String::new(), code)
    });
    record(
        "user and workdir",
        run_rm(
            cli,
            &[
                "-u",
                "nobody",
                "-w",
                "/tmp",
                "busybox",
                "sh",
                "-c",
                "id -u; id -g; pwd",
            ],
        ),
    );
    record("env", {
        let (out, code) = run_rm(cli, &["-e", "X=1", "busybox", "env"]);
        let mut lines: Vec<String> = out
            .lines()
            .map(|l| {
                if l.starts_with("HOSTNAME=") {
                    "HOSTNAME=<id>".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect();
        lines.sort();
        (lines.join("\n"), code)
    });
    record("hostname is the short id", {
        let (out, code) = step(
            cli,
            &[
                "run",
                "--network",
                "none",
                "--name",
                "hn",
                "busybox",
                "hostname",
            ],
        );
        let (id, _) = step(cli, &["inspect", "-f", "{{.Id}}", "hn"]);
        ((out.trim() == &id.trim()[..12]).to_string(), code)
    });
    record(
        "capabilities",
        run_rm(cli, &["busybox", "grep", "^Cap", "/proc/self/status"]),
    );
    record(
        "seccomp and nnp",
        run_rm(
            cli,
            &[
                "busybox",
                "grep",
                "-E",
                "^(Seccomp|NoNewPrivs):",
                "/proc/self/status",
            ],
        ),
    );
    record("devices", run_rm(cli, &["busybox", "ls", "/dev"]));
    record("hosts", run_rm(cli, &["busybox", "cat", "/etc/hosts"]));
    record(
        "read-only",
        run_rm(cli, &["--read-only", "busybox", "touch", "/x"]),
    );
    record(
        "mount points",
        run_rm(
            cli,
            &["busybox", "sh", "-c", "cut -d' ' -f2,3 /proc/mounts | sort"],
        ),
    );

    let shown = interactive(cli, "b1", "busybox", "echo written-by-b1 > /root/note", 0);
    record("b1 shell", (shown.contains("step-done").to_string(), 0));
    record("commit", {
        let (out, code) = step(cli, &["commit", "b1", "busybox:0.1"]);
        (out.trim().starts_with("sha256:").to_string(), code)
    });
    let shown = interactive(cli, "b2", "busybox:0.1", "cat /root/note", 0);
    record(
        "b2 sees b1's file",
        (shown.contains("written-by-b1\r\n").to_string(), 0),
    );
    record("diff of b1", step(cli, &["diff", "b1"]));
    record("rm b2", step(cli, &["rm", "b2"]));
    record("rm -f all", {
        let (ids, _) = step(cli, &["ps", "-a", "-q"]);
        let mut args = vec!["rm", "-f"];
        args.extend(ids.lines());
        let (out, code) = step(cli, &args);
        (out.lines().count().to_string(), code)
    });
    record("ps -a empty", step(cli, &["ps", "-a", "-q"]));
    let bind = format!("{hostdir}:/tmp");
    record(
        "bind mount",
        run_rm(cli, &["-v", &bind, "busybox", "cat", "/tmp/file"]),
    );
    record("rmi in use", {
        step(cli, &["create", "--name", "holder", "busybox:0.1", "true"]);
        let (_, code) = step(cli, &["rmi", "busybox:0.1"]);
        step(cli, &["rm", "holder"]);
        (String::new(), code)
    });
    exit_codes(cli, &mut record);
    log
}

/// Docker's exit-code rules: 125 for the engine's own errors, 126 when the
/// command cannot be executed, 127 only when it is not found, 1 for exec's
/// errors about the container.
fn exit_codes(cli: &dyn Cli, record: &mut impl FnMut(&str, Step)) {
    let code_only = |s: Step| (String::new(), s.1);
    record(
        "exit: a directory",
        code_only(run_rm(cli, &["busybox", "/etc"])),
    );
    record(
        "exit: not executable",
        code_only(run_rm(cli, &["busybox", "/etc/passwd"])),
    );
    record(
        "exit: missing bind source",
        code_only(run_rm(
            cli,
            &[
                "--mount",
                "type=bind,source=/nonexistent-berth-source,target=/x",
                "busybox",
                "true",
            ],
        )),
    );
    record(
        "exit: bad option value",
        code_only(run_rm(cli, &["--memory", "1k", "busybox", "true"])),
    );
    record(
        "workdir created",
        run_rm(cli, &["-w", "/new/dir", "busybox", "pwd"]),
    );
    step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "ex",
            "busybox",
            "sleep",
            "300",
        ],
    );
    record(
        "exec: not found",
        code_only(step(cli, &["exec", "ex", "nosuchcommand"])),
    );
    record(
        "exec: missing workdir",
        code_only(step(cli, &["exec", "-w", "/nonexistent", "ex", "pwd"])),
    );
    record(
        "exec: unknown user",
        code_only(step(cli, &["exec", "-u", "nosuchuser", "ex", "id"])),
    );
    record(
        "exec: exit code",
        step(cli, &["exec", "ex", "sh", "-c", "exit 42"]),
    );
    step(cli, &["pause", "ex"]);
    record(
        "exec: paused",
        code_only(step(cli, &["exec", "ex", "true"])),
    );
    step(cli, &["unpause", "ex"]);
    record(
        "exec: no such container",
        code_only(step(cli, &["exec", "nosuchcontainer", "true"])),
    );
    step(cli, &["rm", "-f", "ex"]);
}

/// What a default container looks like from inside, normalised so that
/// docker's and berth's can be compared: seccomp verdicts of dangerous
/// calls (a static probe), capabilities, masked paths, devices, which
/// namespaces are private, the fds and signal dispositions of pid 1 and of
/// an exec'd process, and what /proc/1/exe is.
fn isolation(cli: &dyn Cli, probe: &str) -> Vec<(String, Step)> {
    let mut log = Vec::new();
    let probe_mount = format!("{probe}:/probe:ro");
    let (out, code) = run_rm(cli, &["-v", &probe_mount, "busybox", "/probe"]);
    for line in out.lines() {
        let (name, verdict) = line.split_once(' ').unwrap_or((line, ""));
        log.push((format!("seccomp {name}"), (verdict.to_string(), code)));
    }
    log.push((
        "capabilities".into(),
        run_rm(cli, &["busybox", "grep", "^Cap", "/proc/self/status"]),
    ));
    log.push((
        "masked paths".into(),
        run_rm(
            cli,
            &[
                "busybox",
                "sh",
                "-c",
                "for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do \
                 echo $p $(wc -c < $p 2>&1 | tail -1); done; ls /sys/firmware | wc -l; \
                 echo x > /proc/sysrq-trigger 2>/dev/null; echo sysrq $?; \
                 touch /proc/sys/x 2>/dev/null; echo proc-sys $?",
            ],
        ),
    ));
    log.push((
        "devices".into(),
        run_rm(
            cli,
            &["busybox", "sh", "-c", "ls -l /dev | awk '{print $1, $NF}'"],
        ),
    ));
    // Private or the host's, per namespace type.
    let (out, code) = run_rm(
        cli,
        &[
            "busybox",
            "sh",
            "-c",
            "for n in cgroup ipc mnt net pid user uts; do echo $n $(readlink /proc/self/ns/$n); done",
        ],
    );
    let shared: Vec<String> = out
        .lines()
        .map(|l| {
            let (n, link) = l.split_once(' ').unwrap_or((l, ""));
            let host = std::fs::read_link(format!("/proc/self/ns/{n}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{n} {}", if host == link { "host" } else { "private" })
        })
        .collect();
    log.push(("namespaces".into(), (shared.join("\n"), code)));
    // pid 1 and an exec'd process: fd kinds, signals, exe.
    step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "iso",
            "busybox",
            "sleep",
            "300",
        ],
    );
    let kinds = "for f in 0 1 2; do l=$(readlink /proc/$P/fd/$f); case $l in pipe:*) echo pipe;; socket:*) echo socket;; *) echo $l;; esac; done; \
                 grep -E '^Sig(Ign|Blk)' /proc/$P/status; readlink /proc/$P/exe";
    log.push((
        "pid 1".into(),
        without_runtime_signals(step(
            cli,
            &["exec", "iso", "sh", "-c", &format!("P=1; {kinds}")],
        )),
    ));
    log.push((
        "exec'd process".into(),
        without_runtime_signals(step(
            cli,
            &["exec", "iso", "sh", "-c", &format!("P=$$; {kinds}")],
        )),
    ));
    step(cli, &["rm", "-f", "iso"]);
    log
}

/// SigIgn without signals 32 and 33, which runc's Go runtime leaves
/// ignored in the processes it starts (berth resets every disposition).
fn without_runtime_signals((out, code): Step) -> Step {
    let out = out
        .lines()
        .map(|l| match l.strip_prefix("SigIgn:\t") {
            Some(hex) => {
                let mask = u64::from_str_radix(hex, 16).unwrap_or(0) & !(0b11 << 31);
                format!("SigIgn:\t{mask:016x}")
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    (out, code)
}

/// Where berth is deliberately stricter than docker 20.10's default
/// profile (io_uring and AF_VSOCK are denied), and gives an exec'd
/// process an empty pipe where docker gives /dev/null (every fd of an
/// exec'd process is one berth made).
const DELIBERATELY_DIFFERENT: &[&str] = &[
    "seccomp io_uring_setup",
    "seccomp socket-vsock",
    "exec'd process",
];

#[test]
fn the_same_session_against_docker_and_berth() {
    let test = "the_same_session_against_docker_and_berth";
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let store = Store::new();
    if store.busybox("busybox:latest").is_none() {
        return;
    }
    let archive = docker.dir().join("busybox.tar");
    store.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);

    let hostdir = store.dir.path().join("hostdir");
    std::fs::create_dir(&hostdir).unwrap();
    std::fs::write(hostdir.join("file"), "from the host\n").unwrap();
    let hostdir = hostdir.to_str().unwrap();

    let theirs = scenario(&docker, hostdir);
    let ours = scenario(&store, hostdir);
    let mut differences = Vec::new();
    for ((name, d), (_, b)) in theirs.iter().zip(&ours) {
        if d != b {
            differences.push(format!("{name}:\n  docker: {d:?}\n  berth:  {b:?}"));
        }
    }

    // Isolation of a default container, by a static probe in both.
    let Some(probe) = support::probe::compile_probe(store.dir.path()) else {
        return;
    };
    let probe = probe.to_str().unwrap();
    let theirs = isolation(&docker, probe);
    let ours = isolation(&store, probe);
    assert_eq!(
        theirs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        ours.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "the same probes ran"
    );
    for ((name, d), (_, b)) in theirs.iter().zip(&ours) {
        if DELIBERATELY_DIFFERENT.contains(&name.as_str()) {
            eprintln!("deliberately different: {name}:\n  docker: {d:?}\n  berth:  {b:?}");
            if name.starts_with("seccomp") {
                assert_eq!(b.0, "EPERM", "{name}: berth denies it");
            }
            continue;
        }
        if d != b {
            differences.push(format!(
                "isolation {name}:\n  docker: {d:?}\n  berth:  {b:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "berth differs from docker:\n{}",
        differences.join("\n")
    );
}
