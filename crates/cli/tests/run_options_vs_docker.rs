//! Over 800 lines on purpose: one table of cases run once against each
//! engine (a private dockerd each run; rustfmt puts every argument of a
//! command line on its own line), and the flag coverage is checked over the
//! whole table; split, each part would start its own dockerd and check a
//! part of the coverage.
//!
//! Differential, table-driven: every flag of `docker run` and `docker
//! create`, each passed by a case run by the docker CLI v28 against a
//! private dockerd and by berth, both in a network namespace the test made
//! (so the bridge, published ports, user networks with fixed addresses,
//! DNS settings and MAC addresses are compared too; no packet leaves it).
//! stdout and exit codes must match after `support::normalise`. The docker
//! side runs first and removes what it made, so the berth side can reuse
//! names, ports and subnets. As in the `*_commands_vs_docker.rs` tests, a
//! flag no case passes fails the test unless listed with the reason.
//! (`run_flags_vs_docker.rs` holds the deeper cases of the newer flags;
//! this one holds every flag.) Root only; needs dockerd and nftables.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::Store;
use support::differential::{Cli, Step, assert_same, step};
use support::docker_flags::{Recorder, assert_every_flag_compared};
use support::dockerd::Dockerd;
use support::net_world::{in_host, prerequisites};
use support::normalise::normalise;
use support::pty::Pty;

const SCOPE: &[&str] = &["run", "create"];

/// Flags of SCOPE no case passes, with the reason.
const NOT_COMPARED: &[(&str, &str, &str)] = &[];

/// Cases where berth differs on purpose, with the reason; what berth does
/// instead is asserted in `check_different`.
const DELIBERATELY_DIFFERENT: &[(&str, &str)] = &[
    (
        "link",
        "legacy links are refused (125) with the reason: containers on a user network resolve each other by name",
    ),
    (
        "privileged",
        "this host's bounding set lacks CAP_SYS_RESOURCE: runc cannot raise every capability and docker's privileged container fails to start; berth's gets every capability the host has",
    ),
    (
        "annotation",
        "docker's CLI sends --annotation only with API 1.43+ (dockerd 20.10 serves 1.41) and refuses; berth records it",
    ),
    ("annotations", "as above"),
    (
        "health-start-interval",
        "docker's CLI sends --health-start-interval only with API 1.44+ (dockerd 20.10 serves 1.41) and refuses; berth records it",
    ),
    ("start interval", "as above"),
    (
        "mac-address",
        "docker's CLI sends --mac-address only with API 1.44+ (dockerd 20.10 serves 1.41) and refuses; berth sets it",
    ),
    (
        "run annotation",
        "docker's CLI sends --annotation only with API 1.43+ (dockerd 20.10 serves 1.41) and refuses; berth runs it",
    ),
    (
        "run health-start-interval",
        "docker's CLI sends --health-start-interval only with API 1.44+ (dockerd 20.10 serves 1.41) and refuses; berth runs it",
    ),
    ("create link", "as link: legacy links are refused"),
    (
        "create mac-address",
        "docker's CLI sends --mac-address only with API 1.44+ (dockerd 20.10 serves 1.41) and refuses; berth sets it",
    ),
    (
        "log config",
        "berth rotates json-file logs by default (max-size 10m, max-file 5), as a dockerd with those daemon-wide log-opts does, and inspect shows the options in force as that dockerd does",
    ),
];

fn check_different(name: &str, (out, code): &Step) {
    match name {
        "link" | "create link" => assert_eq!(*code, 125, "{name}"),
        "run annotation" | "run health-start-interval" | "create mac-address" => {
            assert_eq!(*code, 0, "{name}")
        }
        "privileged" => assert_eq!(
            out.as_str(),
            "host-devices\nSeccomp:\t0\n--- via create (0, 0):\nhost-devices\nSeccomp:\t0\n",
            "{name}"
        ),
        "annotation" | "health-start-interval" => assert_eq!(*code, 0, "{name}"),
        "annotations" => assert_eq!(out.as_str(), "{\"org.example\":\"x\"}\n", "{name}"),
        "start interval" => assert_eq!(out.as_str(), "1s\n", "{name}: a Go duration"),
        "mac-address" => assert_eq!(out.as_str(), "02:42:c0:00:02:32\n", "{name}"),
        "log config" => assert_eq!(
            out.as_str(),
            "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"5\",\"max-size\":\"1m\"}}\n",
            "{name}: the given size, the default count"
        ),
        _ => panic!("{name}: no check for this difference"),
    }
}

/// A normalised step; a failure's stderr goes to the test's output (what
/// the engine said is what a difference is read from).
fn s(cli: &dyn Cli, args: &[&str]) -> Step {
    let out = cli.run(args);
    let code = out.status.code().unwrap_or(-1);
    if code != 0 {
        eprintln!(
            "  {args:?} -> {code}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    (normalise(&String::from_utf8_lossy(&out.stdout)), code)
}

fn code(cli: &dyn Cli, args: &[&str]) -> Step {
    (String::new(), s(cli, args).1)
}

fn with_stdin(cli: &dyn Cli, args: &[&str], input: &str) -> Step {
    let out = support::run_with_stdin_within(
        cli.command(args),
        input.as_bytes(),
        Duration::from_secs(60),
    );
    (
        normalise(&String::from_utf8_lossy(&out.stdout)),
        out.status.code().unwrap_or(-1),
    )
}

/// `ARGS` through a terminal; detaches with ctrl-x once `ready` shows.
fn detached(cli: &dyn Cli, args: &[&str], first: &str, ready: &str) -> Step {
    let mut pty = Pty::spawn(cli.command(args));
    pty.send(first);
    pty.expect(ready, Duration::from_secs(30));
    pty.send("\x18");
    let code = pty.wait(Duration::from_secs(30));
    (String::new(), code)
}

/// Starts `args`, sends the client SIGTERM once `name` runs, records
/// stdout and exit code.
fn signalled(cli: &dyn Cli, args: &[&str], name: &str) -> Step {
    let child = cli
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    for _ in 0..200 {
        if step(cli, &["logs", name]).0.contains("ready") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    (
        normalise(&String::from_utf8_lossy(&out.stdout)),
        out.status.code().unwrap_or(-1),
    )
}

fn cases(cli: &dyn Cli, dir: &Path, device: &str) -> Vec<(String, Step)> {
    let mut log: Vec<(String, Step)> = Vec::new();
    let mut add = |name: &str, s: Step| {
        // Progress in the test's output: a hang shows after which case.
        eprintln!("case done: {name}");
        log.push((name.to_string(), s))
    };
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    // `run --rm --network none FLAGS busybox sh -c SCRIPT`, then the
    // same through `create FLAGS` and `start -a`: every flag of both.
    let run = |flags: &[&str], script: &str| -> Step {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        let (ran, ran_code) = s(cli, &args);
        let mut args = vec!["create", "--network", "none", "--name", "via-create"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        let (_, created_code) = s(cli, &args);
        let (started, started_code) = if created_code == 0 {
            s(cli, &["start", "-a", "via-create"])
        } else {
            (String::new(), -1)
        };
        step(cli, &["rm", "-f", "via-create"]);
        (
            format!("{ran}--- via create ({created_code}, {started_code}):\n{started}"),
            ran_code,
        )
    };
    let inspect = |name: &str, format: &str| -> Step { s(cli, &["inspect", "-f", format, name]) };

    // Processes: entrypoint, user, workdir, env, groups, init, tty, stdin.
    add(
        "entrypoint",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "echo",
                "busybox",
                "a",
                "b",
            ],
        ),
    );
    add(
        "entrypoint empty",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "",
                "busybox",
                "echo",
                "x",
            ],
        ),
    );
    add("user", run(&["-u", "nobody"], "id"));
    add("user uid:gid", run(&["--user", "123:456"], "id"));
    add("workdir", run(&["-w", "/new/dir"], "pwd"));
    add("workdir long", run(&["--workdir", "/tmp"], "pwd"));
    std::fs::write(dir.join("env"), "FROM_FILE=1\n# comment\nBARE\n").unwrap();
    add(
        "env",
        run(
            &["-e", "A=1", "--env", "B=2", "--env-file", &p("env")],
            "echo $A $B $FROM_FILE",
        ),
    );
    add(
        "group-add",
        run(&["-u", "nobody", "--group-add", "1234"], "id"),
    );
    add("init", run(&["--init"], "test $$ != 1 && echo not-pid-1"));
    add("no init", run(&[], "test $$ = 1 && echo pid-1"));
    add(
        "tty",
        s(
            cli,
            &["run", "--rm", "--network", "none", "-t", "busybox", "tty"],
        ),
    );
    add(
        "tty long",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--tty",
                "busybox",
                "sh",
                "-c",
                "test -t 1 && echo tty",
            ],
        ),
    );
    add(
        "interactive",
        with_stdin(
            cli,
            &["run", "--rm", "--network", "none", "-i", "busybox", "cat"],
            "from stdin\n",
        ),
    );
    add(
        "interactive long",
        with_stdin(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--interactive",
                "busybox",
                "wc",
                "-c",
            ],
            "12345",
        ),
    );
    add(
        "attach",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-a",
                "stdout",
                "busybox",
                "sh",
                "-c",
                "echo out; echo err >&2",
            ],
        ),
    );
    add(
        "attach long",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--attach",
                "stderr",
                "busybox",
                "sh",
                "-c",
                "echo out; echo err >&2",
            ],
        ),
    );
    add(
        "detach",
        code(
            cli,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                "dt",
                "busybox",
                "sh",
                "-c",
                "echo ready; sleep 100",
            ],
        ),
    );
    add(
        "detach long",
        code(
            cli,
            &[
                "run",
                "--detach",
                "--network",
                "none",
                "--name",
                "dt2",
                "busybox",
                "true",
            ],
        ),
    );
    add("wait dt2", s(cli, &["wait", "dt2"]));
    add(
        "detach-keys",
        detached(
            cli,
            &[
                "run",
                "-it",
                "--network",
                "none",
                "--name",
                "dk",
                "--detach-keys",
                "ctrl-x",
                "busybox",
                "sh",
            ],
            "echo ready-$((1+1))\n",
            "ready-2",
        ),
    );
    add("dk running", inspect("dk", "{{.State.Running}}"));
    add(
        "sig-proxy",
        signalled(
            cli,
            &[
                "run",
                "--network",
                "none",
                "--name",
                "sp",
                "busybox",
                "sh",
                "-c",
                "trap 'echo got; exit 7' TERM; echo ready; while true; do sleep 0.1; done",
            ],
            "sp",
        ),
    );
    add(
        "sig-proxy=false",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--sig-proxy=false",
                "busybox",
                "echo",
                "x",
            ],
        ),
    );
    add(
        "name",
        s(
            cli,
            &["create", "--network", "none", "--name", "named", "busybox"],
        ),
    );
    add("named", inspect("named", "{{.Name}}"));
    add(
        "name taken",
        code(
            cli,
            &["create", "--network", "none", "--name", "named", "busybox"],
        ),
    );
    add(
        "rm",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--name",
                "gone",
                "busybox",
                "true",
            ],
        ),
    );
    add("rm removed it", code(cli, &["inspect", "gone"]));
    add(
        "quiet",
        s(
            cli,
            &[
                "run",
                "-q",
                "--rm",
                "--network",
                "none",
                "busybox",
                "echo",
                "q",
            ],
        ),
    );
    add(
        "quiet long",
        s(
            cli,
            &[
                "run",
                "--quiet",
                "--rm",
                "--network",
                "none",
                "busybox",
                "echo",
                "q",
            ],
        ),
    );
    add(
        "pull never",
        s(
            cli,
            &[
                "run",
                "--pull",
                "never",
                "--rm",
                "--network",
                "none",
                "busybox",
                "echo",
                "p",
            ],
        ),
    );
    add(
        "pull never missing",
        code(
            cli,
            &[
                "run",
                "--pull=never",
                "--rm",
                "--network",
                "none",
                "nosuch:1",
            ],
        ),
    );
    add(
        "create pull never missing",
        code(
            cli,
            &["create", "--pull=never", "--network", "none", "nosuch:1"],
        ),
    );
    add(
        "platform",
        s(
            cli,
            &[
                "run",
                "--platform",
                "linux/amd64",
                "--rm",
                "--network",
                "none",
                "busybox",
                "echo",
                "amd64",
            ],
        ),
    );
    add(
        "platform other",
        code(
            cli,
            &[
                "run",
                "--platform",
                "linux/s390x",
                "--pull=never",
                "--rm",
                "--network",
                "none",
                "busybox",
                "true",
            ],
        ),
    );
    add("runtime", run(&["--runtime", "runc"], "echo ok"));
    add("isolation", run(&["--isolation", "default"], "echo ok"));

    // Metadata: labels, annotations, health, stop, restart, logging.
    std::fs::write(dir.join("labels"), "from.file=1\n").unwrap();
    add(
        "create metadata",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "meta",
                "-l",
                "a=1",
                "--label",
                "b=2",
                "--label-file",
                &p("labels"),
                "--stop-signal",
                "SIGUSR1",
                "--stop-timeout",
                "7",
                "--restart",
                "on-failure:2",
                "--health-cmd",
                "true",
                "--health-interval",
                "5s",
                "--health-timeout",
                "2s",
                "--health-retries",
                "4",
                "--health-start-period",
                "1s",
                "--log-driver",
                "json-file",
                "--log-opt",
                "max-size=1m",
                "--expose",
                "80",
                "--expose",
                "53/udp",
                "-h",
                "metahost",
                "--domainname",
                "example.org",
                "busybox",
            ],
        ),
    );
    add("labels", inspect("meta", "{{json .Config.Labels}}"));
    add(
        "stop settings",
        inspect("meta", "{{.Config.StopSignal}} {{.Config.StopTimeout}}"),
    );
    add(
        "restart",
        inspect(
            "meta",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
        ),
    );
    add(
        "healthcheck",
        inspect("meta", "{{json .Config.Healthcheck}}"),
    );
    add(
        "log config",
        inspect("meta", "{{json .HostConfig.LogConfig}}"),
    );
    add("exposed", inspect("meta", "{{json .Config.ExposedPorts}}"));
    add(
        "hostname and domain",
        inspect("meta", "{{.Config.Hostname}} {{.Config.Domainname}}"),
    );
    add(
        "annotation",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "ann",
                "--annotation",
                "org.example=x",
                "busybox",
            ],
        ),
    );
    add(
        "annotations",
        inspect("ann", "{{json .HostConfig.Annotations}}"),
    );
    add(
        "health-start-interval",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "hsi",
                "--health-cmd",
                "true",
                "--health-start-interval",
                "1s",
                "busybox",
            ],
        ),
    );
    add(
        "start interval",
        inspect("hsi", "{{.Config.Healthcheck.StartInterval}}"),
    );
    add(
        "run metadata",
        code(
            cli,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                "rmeta",
                "-l",
                "a=1",
                "--label",
                "b=2",
                "--label-file",
                &p("labels"),
                "--health-cmd",
                "true",
                "--health-interval",
                "5s",
                "--health-timeout",
                "2s",
                "--health-retries",
                "4",
                "--health-start-period",
                "1s",
                "--log-driver",
                "json-file",
                "--log-opt",
                "max-size=2m",
                "--log-opt",
                "max-file=2",
                "--stop-signal",
                "SIGUSR1",
                "--stop-timeout",
                "3",
                "busybox",
                "sleep",
                "100",
            ],
        ),
    );
    add(
        "run metadata recorded",
        inspect(
            "rmeta",
            "{{json .Config.Labels}} {{.Config.StopSignal}} {{.Config.StopTimeout}} {{.Config.Healthcheck.Interval}} {{json .Config.Healthcheck}} {{json .HostConfig.LogConfig}}",
        ),
    );
    add("run no-healthcheck", run(&["--no-healthcheck"], "echo ok"));
    add(
        "run annotation",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--annotation",
                "a=b",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "run health-start-interval",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--health-cmd",
                "true",
                "--health-start-interval",
                "1s",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "no-healthcheck",
        s(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "nohc",
                "--no-healthcheck",
                "busybox",
            ],
        ),
    );
    add(
        "no healthcheck",
        inspect("nohc", "{{json .Config.Healthcheck}}"),
    );
    add(
        "restart with rm",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--restart",
                "always",
                "--network",
                "none",
                "busybox",
                "true",
            ],
        ),
    );
    add("hostname", run(&["-h", "myhost"], "hostname"));
    add("hostname long", run(&["--hostname", "other"], "hostname"));
    add(
        "domainname",
        run(
            &["--domainname", "example.org"],
            "cat /proc/sys/kernel/domainname",
        ),
    );
    add(
        "cidfile",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--cidfile",
                &p("cid"),
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "cidfile written",
        (
            std::fs::read_to_string(p("cid"))
                .map(|c| normalise(&c))
                .unwrap_or_default(),
            0,
        ),
    );

    // Resources.
    let cg = "cd /sys/fs/cgroup; ";
    add(
        "cpu",
        run(
            &[
                "--cpu-shares",
                "512",
                "--cpu-period",
                "50000",
                "--cpu-quota",
                "25000",
                "--cpuset-cpus",
                "0",
                "--cpuset-mems",
                "0",
            ],
            &format!(
                "{cg}cat cpu/cpu.shares cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpuset/cpuset.cpus cpuset/cpuset.mems"
            ),
        ),
    );
    add(
        "cpus",
        run(
            &["--cpus", "1.5"],
            &format!("{cg}cat cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us"),
        ),
    );
    add(
        "cpus and period",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--cpus",
                "1",
                "--cpu-period",
                "50000",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "memory",
        run(
            &[
                "-m",
                "64m",
                "--memory-reservation",
                "32m",
                "--memory-swap",
                "128m",
                "--memory-swappiness",
                "10",
            ],
            &format!(
                "{cg}cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes memory/memory.swappiness"
            ),
        ),
    );
    add(
        "memory long",
        run(
            &["--memory", "32m"],
            &format!("{cg}cat memory/memory.limit_in_bytes"),
        ),
    );
    add(
        "memory too small",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-m",
                "1k",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "swap below memory",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-m",
                "64m",
                "--memory-swap",
                "32m",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "oom",
        run(
            &["-m", "64m", "--oom-kill-disable", "--oom-score-adj", "300"],
            &format!("{cg}head -1 memory/memory.oom_control; cat /proc/self/oom_score_adj"),
        ),
    );
    add(
        "pids-limit",
        run(&["--pids-limit", "50"], &format!("{cg}cat pids/pids.max")),
    );
    add("kernel-memory", run(&["--kernel-memory", "10m"], "echo ok"));
    add(
        "blkio",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--blkio-weight",
                "300",
                "--blkio-weight-device",
                &format!("{device}:200"),
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "throttles",
        run(
            &[
                "--device-read-bps",
                &format!("{device}:1mb"),
                "--device-write-bps",
                &format!("{device}:2mb"),
                "--device-read-iops",
                &format!("{device}:100"),
                "--device-write-iops",
                &format!("{device}:200"),
            ],
            &format!(
                "{cg}cat blkio/blkio.throttle.read_bps_device blkio/blkio.throttle.write_bps_device blkio/blkio.throttle.read_iops_device blkio/blkio.throttle.write_iops_device"
            ),
        ),
    );
    add(
        "ulimit",
        run(&["--ulimit", "nofile=100:200"], "ulimit -n; ulimit -Hn"),
    );
    add(
        "shm-size",
        run(
            &["--shm-size", "32m"],
            "df -k /dev/shm | tail -1 | awk '{print $2}'",
        ),
    );
    add(
        "cgroup-parent",
        run(
            &["--cgroup-parent", "/berth-test-cgparent"],
            "grep ':memory:' /proc/self/cgroup | cut -d/ -f2",
        ),
    );

    // Security and devices.
    add(
        "cap-add cap-drop",
        run(
            &[
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CHOWN",
                "--cap-add",
                "NET_RAW",
            ],
            "grep CapEff /proc/self/status",
        ),
    );
    add(
        "privileged",
        run(
            &["--privileged"],
            "test -e /dev/loop-control && echo host-devices; grep Seccomp: /proc/self/status",
        ),
    );
    add(
        "security-opt",
        run(
            &[
                "--security-opt",
                "no-new-privileges",
                "--security-opt",
                "seccomp=unconfined",
            ],
            "grep -E 'NoNewPrivs|Seccomp:' /proc/self/status",
        ),
    );
    add("read-only", run(&["--read-only"], "touch /x 2>&1; echo $?"));
    add(
        "device",
        run(
            &["--device", "/dev/null:/dev/mynull"],
            "stat -c '%t %T %F' /dev/mynull",
        ),
    );
    add(
        "device missing",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--device",
                "/dev/nosuch",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "create device missing",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "cdev",
                "--device",
                "/dev/nosuch",
                "busybox",
                "true",
            ],
        ),
    );
    add("start device missing", code(cli, &["start", "cdev"]));
    add("rm cdev", code(cli, &["rm", "-f", "cdev"]));
    add(
        "device-cgroup-rule",
        run(
            &["--device-cgroup-rule", "c 42:* rmw"],
            "grep '^c 42' /sys/fs/cgroup/devices/devices.list",
        ),
    );
    add(
        "sysctl",
        run(
            &["--sysctl", "kernel.shmmax=65536"],
            "cat /proc/sys/kernel/shmmax",
        ),
    );
    add(
        "storage-opt",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--storage-opt",
                "size=1G",
                "busybox",
                "true",
            ],
        ),
    );

    // Namespaces.
    add(
        "ipc",
        run(&["--ipc", "private"], "test -d /dev/shm && echo shm"),
    );
    add(
        "pid",
        run(
            &["--pid", "host"],
            "test -d /proc/1 && cat /proc/1/comm | grep -c . ",
        ),
    );
    add(
        "uts",
        run(
            &["--uts", "host"],
            "test \"$(hostname)\" = \"$(cat /proc/sys/kernel/hostname)\" && echo same",
        ),
    );
    add(
        "userns",
        run(
            &["--userns", "host"],
            "cat /proc/self/uid_map | awk '{print $1, $2}'",
        ),
    );
    add(
        "cgroupns",
        run(
            &["--cgroupns", "private"],
            "cat /proc/self/cgroup | grep ':memory:'",
        ),
    );

    // Storage: volumes, mounts, tmpfs.
    std::fs::create_dir_all(dir.join("hostdir")).unwrap();
    std::fs::write(dir.join("hostdir/f"), "host file\n").unwrap();
    add(
        "volume bind",
        run(
            &["-v", &format!("{}:/h:ro", p("hostdir"))],
            "cat /h/f; touch /h/x 2>/dev/null || echo ro",
        ),
    );
    add(
        "volume named",
        run(&["--volume", "rov:/data"], "echo kept > /data/f"),
    );
    add(
        "volume named kept",
        run(
            &["-v", "rov:/data", "--volume-driver", "local"],
            "cat /data/f",
        ),
    );
    add(
        "volume bad driver",
        code(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--volume-driver",
                "nosuch",
                "-v",
                "other:/d",
                "--pull=never",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "mount",
        run(
            &["--mount", "type=tmpfs,destination=/t,tmpfs-size=1m"],
            "grep ' /t ' /proc/mounts | cut -d' ' -f1-3",
        ),
    );
    add(
        "tmpfs",
        run(
            &["--tmpfs", "/run:size=1m,noexec"],
            "grep ' /run ' /proc/mounts | cut -d' ' -f1-3",
        ),
    );
    add(
        "create vf",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "vf",
                "-v",
                "/shared",
                "busybox",
            ],
        ),
    );
    add(
        "volumes-from",
        run(&["--volumes-from", "vf"], "test -d /shared && echo shared"),
    );

    // Networking: the default bridge, a user network, ports, DNS, hosts.
    add(
        "network create",
        code(
            cli,
            &["network", "create", "--subnet", "192.0.2.0/24", "rnet"],
        ),
    );
    add(
        "ip",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "rnet",
                "--ip",
                "192.0.2.50",
                "busybox",
                "sh",
                "-c",
                "ip -4 -o addr show eth0 | awk '{print $4}'",
            ],
        ),
    );
    // On the default network: docker's CLI wants API 1.44 for a MAC
    // address on a named one.
    add(
        "mac-address",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--mac-address",
                "02:42:c0:00:02:32",
                "busybox",
                "cat",
                "/sys/class/net/eth0/address",
            ],
        ),
    );
    add(
        "network-alias",
        code(
            cli,
            &[
                "run",
                "-d",
                "--network",
                "rnet",
                "--name",
                "aliased",
                "--network-alias",
                "al",
                "busybox",
                "sleep",
                "100",
            ],
        ),
    );
    add(
        "alias resolves",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "rnet",
                "busybox",
                "sh",
                "-c",
                "nslookup al >/dev/null 2>&1 && echo found",
            ],
        ),
    );
    add(
        "dns",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--dns",
                "192.0.2.53",
                "--dns-search",
                "example.org",
                "--dns-option",
                "ndots:2",
                "busybox",
                "sh",
                "-c",
                "grep -v '^#' /etc/resolv.conf | grep .",
            ],
        ),
    );
    add(
        "add-host",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--add-host",
                "db:192.0.2.7",
                "--add-host",
                "gw:host-gateway",
                "busybox",
                "sh",
                "-c",
                "grep -wE 'db|gw' /etc/hosts | awk '{print $2}'",
            ],
        ),
    );
    add(
        "publish",
        code(
            cli,
            &[
                "run",
                "-d",
                "--name",
                "pub",
                "-p",
                "127.0.0.1:18080:80",
                "-p",
                "18081:81/udp",
                "--publish",
                "18082:82",
                "busybox",
                "sleep",
                "100",
            ],
        ),
    );
    // IPv4 only: berth publishes no IPv6 ports yet (IPv6 networks are
    // not built; the networking issue says so).
    let ipv4 = |(out, code): Step| -> Step {
        (
            out.lines()
                .filter(|l| !l.contains("[::]"))
                .map(|l| format!("{l}\n"))
                .collect(),
            code,
        )
    };
    add("published", {
        let (out, code) = ipv4(s(cli, &["port", "pub"]));
        (support::normalise::sorted_lines(&out), code)
    });
    add(
        "publish-all",
        code(
            cli,
            &[
                "run",
                "-d",
                "--name",
                "puball",
                "-P",
                "--expose",
                "90",
                "--publish-all",
                "busybox",
                "sleep",
                "100",
            ],
        ),
    );
    add("published all", {
        let (out, code) = ipv4(s(cli, &["port", "puball", "90"]));
        let port = regex_lite::Regex::new(r":\d+").unwrap();
        (port.replace_all(&out, ":<port>").into_owned(), code)
    });
    add(
        "publish bad",
        code(cli, &["run", "--rm", "-p", "99999:80", "busybox", "true"]),
    );
    add("network none", run(&[], "ls /sys/class/net"));
    add(
        "network host",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "host",
                "busybox",
                "readlink",
                "/proc/self/ns/net",
            ],
        ),
    );
    add(
        "link",
        code(
            cli,
            &["run", "--rm", "--link", "pub:web", "busybox", "true"],
        ),
    );
    add(
        "create link",
        code(
            cli,
            &[
                "create", "--name", "clink", "--link", "pub:web", "busybox", "true",
            ],
        ),
    );
    add(
        "create with network options",
        code(
            cli,
            &[
                "create",
                "--name",
                "cnet",
                "--network",
                "rnet",
                "--ip",
                "192.0.2.60",
                "--network-alias",
                "cal",
                "--add-host",
                "db:192.0.2.7",
                "--dns",
                "192.0.2.53",
                "--dns-option",
                "ndots:2",
                "--dns-search",
                "example.org",
                "-p",
                "18090:80",
                "--publish",
                "18091:81",
                "-P",
                "--publish-all",
                "--expose",
                "91",
                "--entrypoint",
                "sh",
                "--cidfile",
                &p("ccid"),
                "--quiet",
                "--platform",
                "linux/amd64",
                "busybox",
                "-c",
                "ip -4 -o addr show eth0 | awk '{print $4}'; grep db /etc/hosts | awk '{print $2}'; grep -v '^#' /etc/resolv.conf | grep -v nameserver",
            ],
        ),
    );
    add(
        "create with network options ran",
        s(cli, &["start", "-a", "cnet"]),
    );
    add(
        "create with network options recorded",
        inspect(
            "cnet",
            "{{json .HostConfig.PortBindings}} {{.HostConfig.PublishAllPorts}} {{json .HostConfig.ExtraHosts}} {{json .HostConfig.Dns}}",
        ),
    );
    add(
        "create mac-address",
        code(
            cli,
            &[
                "create",
                "--name",
                "cmac",
                "--mac-address",
                "02:42:c0:00:02:33",
                "busybox",
            ],
        ),
    );
    add(
        "create tty",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "ctty",
                "-t",
                "busybox",
                "tty",
            ],
        ),
    );
    add("create tty ran", s(cli, &["start", "-a", "ctty"]));
    add(
        "create tty long",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "ctty2",
                "--tty",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "create interactive",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "cin",
                "-i",
                "-a",
                "stdin",
                "--attach",
                "stdout",
                "busybox",
                "cat",
            ],
        ),
    );
    add(
        "create interactive ran",
        with_stdin(cli, &["start", "-a", "-i", "cin"], "in via create\n"),
    );
    add(
        "create interactive long",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "cin2",
                "--interactive",
                "busybox",
                "true",
            ],
        ),
    );
    add(
        "create rm",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "crm",
                "--rm",
                "busybox",
                "true",
            ],
        ),
    );
    add("create rm ran", s(cli, &["start", "-a", "crm"]));
    std::thread::sleep(Duration::from_millis(500));
    add("create rm gone", code(cli, &["inspect", "crm"]));
    add(
        "create storage-opt",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--storage-opt",
                "size=1G",
                "busybox",
            ],
        ),
    );
    add(
        "create blkio",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "cblk",
                "--blkio-weight",
                "300",
                "--blkio-weight-device",
                &format!("{device}:200"),
                "busybox",
            ],
        ),
    );

    add(
        "cleanup",
        code(
            cli,
            &[
                "rm", "-f", "dt", "dk", "sp", "named", "meta", "ann", "hsi", "nohc", "vf",
                "aliased", "pub", "puball", "rmeta", "clink", "cnet", "cmac", "ctty", "ctty2",
                "cin", "cin2", "cblk",
            ],
        ),
    );
    add("cleanup network", code(cli, &["network", "rm", "rnet"]));
    add("cleanup volumes", code(cli, &["volume", "prune", "-f"]));
    add("cleanup rov", code(cli, &["volume", "rm", "-f", "rov"]));
    log
}

/// A block device of this host, for the throttling flags.
fn block_device() -> String {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| Path::new("/dev").join(n).exists())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    format!(
        "/dev/{}",
        names.first().expect("a block device in /sys/block")
    )
}

#[test]
fn every_run_and_create_flag_behaves_as_in_docker() {
    let test = "every_run_and_create_flag_behaves_as_in_docker";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    let host_ns = store.host_netns.as_ref().unwrap();
    in_host(&store, &["ip", "link", "set", "lo", "up"]);
    let Some(docker) = Dockerd::start_networked(test, &host_ns.path()) else {
        return;
    };
    let Some(tar) = support::busybox_tar() else {
        return;
    };
    store.busybox("busybox").unwrap();
    let import = docker.command(&["import", "-c", "CMD [\"sh\"]", "-", "busybox"]);
    assert!(support::run_with_stdin(import, &tar).status.success());
    let device = block_device();
    let theirs_dir = tempfile::tempdir().unwrap();
    let ours_dir = tempfile::tempdir().unwrap();

    let theirs = cases(&docker, theirs_dir.path(), &device);
    let recorder = Recorder::new(&store);
    let ours = cases(&recorder, ours_dir.path(), &device);
    // The cgroup parent both made (each removes its containers' cgroups).
    for c in [
        "memory",
        "cpu,cpuacct",
        "pids",
        "blkio",
        "devices",
        "cpuset",
        "freezer",
    ] {
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{c}/berth-test-cgparent"));
    }
    assert_same(
        "run and create",
        &theirs,
        &ours,
        DELIBERATELY_DIFFERENT,
        check_different,
    );
    assert_every_flag_compared(test, SCOPE, &recorder.lines(), NOT_COMPARED);
    store.assert_check_clean();
}
