//! `--runtime runc`: containers run by Debian's runc binary instead of
//! berth's own runtime, with the monitor still their parent (runc's child
//! subreaper) and every command working on them: exec with pipes and a
//! terminal, pause, update, stats, top, stop, kill, restart policies, a
//! killed monitor, removal. Then the same probes through docker (whose
//! default runtime is that runc) and through berth, compared.
//!
//! Root only; needs runc (apt-get install runc), and dockerd for the
//! comparison (apt-get install docker.io).

mod support;

use std::time::Duration;

use support::differential::{Cli, Step, assert_same, no_difference, step};
use support::dockerd::Dockerd;
use support::pty::Pty;
use support::{Store, container_store, runc::have, skip};

/// `runc --root RUN/runc ARGS` on the store's runc state: stdout.
fn runc(store: &Store, args: &[&str]) -> String {
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(store.run.join("runc"))
        .args(args)
        .output()
        .expect("run runc");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn runc_status(store: &Store, id: &str) -> String {
    let state: serde_json::Value =
        serde_json::from_str(&runc(store, &["state", id])).unwrap_or_default();
    state["status"].as_str().unwrap_or("(none)").to_string()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn containers_run_on_debians_runc_with_every_command() {
    let test = "containers_run_on_debians_runc_with_every_command";
    if !have("runc") {
        return skip(test, "runc is not installed (apt-get install runc)");
    }
    let Some(store) = container_store(test) else {
        return;
    };

    // Output, exit codes, and docker's words for a command that cannot run.
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "--runtime",
            "runc",
            "busybox",
            "echo",
            "hello"
        ]),
        "hello\n"
    );
    let (code, _, _) = store.outcome(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(code, 3);
    let (code, _, err) = store.outcome(&["run", "--rm", "--runtime", "runc", "busybox", "nosuch"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    let (code, _, err) = store.outcome(&["run", "--rm", "--runtime", "runc", "busybox", "/etc"]);
    assert_eq!(code, 126, "{err}");
    let (code, _, err) = store.outcome(&["run", "--runtime", "nosuch", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("unknown or invalid runtime name: nosuch"),
        "{err}"
    );
    assert!(
        store
            .ok(&["info"])
            .lines()
            .any(|l| l.trim() == "Runtimes: berth-runc runc"),
        "info lists runc"
    );

    // A running container is runc's, and the monitor is its parent.
    let id = store
        .ok(&[
            "run",
            "-d",
            "--name",
            "r1",
            "--runtime",
            "runc",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 5' TERM; while :; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    assert_eq!(runc(&store, &["list", "-q"]).trim(), id);
    assert_eq!(runc_status(&store, &id), "running");
    let (init, monitor) = store.init_and_monitor("r1");
    let monitor_cmdline = std::fs::read(format!("/proc/{monitor}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&monitor_cmdline).contains("__monitor"),
        "the init's parent is berth's monitor"
    );
    assert_eq!(
        store
            .ok(&["inspect", "-f", "{{.HostConfig.Runtime}}", "r1"])
            .trim(),
        "runc"
    );

    // exec: output, exit code, stdin, a terminal.
    assert_eq!(store.ok(&["exec", "r1", "echo", "in-r1"]), "in-r1\n");
    let (code, _, _) = store.outcome(&["exec", "r1", "sh", "-c", "exit 4"]);
    assert_eq!(code, 4);
    let out = support::run_with_stdin_within(
        store.command(&["exec", "-i", "r1", "sh"]),
        b"echo from-stdin\n",
        Duration::from_secs(30),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-stdin\n");
    let mut pty =
        Pty::spawn(store.command(&["exec", "-it", "r1", "sh", "-c", "tty; read x; echo got-$x"]));
    pty.expect("/dev/pts/", Duration::from_secs(30));
    pty.send("typed\n");
    pty.expect("got-typed", Duration::from_secs(30));
    assert_eq!(pty.wait(Duration::from_secs(30)), 0, "{}", pty.output());

    // pause goes through runc; update, stats and top read the cgroup.
    store.ok(&["pause", "r1"]);
    assert_eq!(runc_status(&store, &id), "paused");
    assert_eq!(
        store
            .ok(&["inspect", "-f", "{{.State.Status}}", "r1"])
            .trim(),
        "paused"
    );
    store.ok(&["unpause", "r1"]);
    assert_eq!(runc_status(&store, &id), "running");
    store.ok(&["update", "--memory", "64m", "r1"]);
    let usage = store.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "r1"]);
    assert!(usage.trim().ends_with("/ 64MiB"), "{usage}");
    let top = store.ok(&["top", "r1"]);
    assert!(top.contains(&init.to_string()), "{top}");

    // stop: the signal reaches the init through runc; its code recorded.
    store.ok(&["stop", "r1"]);
    assert_eq!(
        store
            .ok(&["inspect", "-f", "{{.State.ExitCode}}", "r1"])
            .trim(),
        "5"
    );
    assert!(!alive(init));
    assert_eq!(
        runc(&store, &["list", "-q"]).trim(),
        "",
        "runc's state went"
    );

    // A restart policy restarts through runc.
    store.ok(&[
        "run",
        "-d",
        "--name",
        "r2",
        "--restart",
        "on-failure:2",
        "--runtime",
        "runc",
        "busybox",
        "sh",
        "-c",
        "exit 4",
    ]);
    assert_eq!(store.ok(&["wait", "r2"]).trim(), "4");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = store.ok(&["inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "r2"]);
        if state.trim() == "2 exited" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "restarts: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A killed monitor: runc keeps the container running, so the next
    // berth command finds it orphaned, deletes it through runc and records
    // the kill.
    store.ok(&[
        "run",
        "-d",
        "--name",
        "r3",
        "--runtime",
        "runc",
        "busybox",
        "sleep",
        "1000",
    ]);
    let (init, monitor) = store.init_and_monitor("r3");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(monitor as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while alive(monitor) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        store
            .ok(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                "r3"
            ])
            .trim(),
        "exited 137"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while alive(init) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(init), "the orphaned container was killed");

    // --rm, and rm -f of a running one: nothing of runc's is left.
    store.ok(&["run", "--rm", "--runtime", "runc", "busybox", "true"]);
    store.ok(&[
        "run",
        "-d",
        "--name",
        "r4",
        "--runtime",
        "runc",
        "busybox",
        "sleep",
        "1000",
    ]);
    store.ok(&["rm", "-f", "r1", "r2", "r3", "r4"]);
    assert_eq!(runc(&store, &["list", "-q"]).trim(), "");
    assert!(store.processes().is_empty(), "no monitor left");
    store.assert_check_clean();
}

/// The probes, each run with `--runtime runc` (docker's default is that
/// same runc binary).
fn probes(cli: &dyn Cli) -> Vec<(String, Step)> {
    let run = |args: &[&str]| -> Step {
        let mut full = vec!["run", "--rm", "--network", "none", "--runtime", "runc"];
        full.extend_from_slice(args);
        step(cli, &full)
    };
    let code = |s: Step| (String::new(), s.1);
    let mut log: Vec<(String, Step)> = Vec::new();
    let mut add = |name: &str, s: Step| log.push((name.to_string(), s));
    add("echo", run(&["busybox", "echo", "hello"]));
    add("exit code", run(&["busybox", "sh", "-c", "exit 3"]));
    add("not found", code(run(&["busybox", "nosuch"])));
    add("not executable", code(run(&["busybox", "/etc"])));
    add(
        "capabilities",
        run(&["busybox", "grep", "^Cap", "/proc/self/status"]),
    );
    add(
        "seccomp and nnp",
        run(&[
            "busybox",
            "grep",
            "-E",
            "^(Seccomp|NoNewPrivs):",
            "/proc/self/status",
        ]),
    );
    add("devices", run(&["busybox", "ls", "/dev"]));
    add(
        "mount points",
        run(&["busybox", "sh", "-c", "cut -d' ' -f2,3 /proc/mounts | sort"]),
    );
    add(
        "user and workdir",
        run(&[
            "-u", "nobody", "-w", "/new/dir", "busybox", "sh", "-c", "id; pwd",
        ]),
    );
    add(
        "read-only",
        code(run(&["--read-only", "busybox", "touch", "/x"])),
    );
    add("init", run(&["--init", "busybox", "ps", "-o", "args"]));
    add(
        "pids limit",
        run(&[
            "--pids-limit",
            "7",
            "busybox",
            "cat",
            "/sys/fs/cgroup/pids/pids.max",
        ]),
    );
    add("create, start -a", {
        let (id, _) = step(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--runtime",
                "runc",
                "busybox",
                "echo",
                "attached",
            ],
        );
        let out = step(cli, &["start", "-a", id.trim()]);
        step(cli, &["rm", id.trim()]);
        out
    });
    add("exec, stop, inspect", {
        let (id, _) = step(
            cli,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--runtime",
                "runc",
                "busybox",
                "sh",
                "-c",
                "trap 'exit 7' TERM; while :; do sleep 0.1; done",
            ],
        );
        let id = id.trim();
        let (exec, exec_code) = step(cli, &["exec", id, "sh", "-c", "echo exec-ok; exit 2"]);
        step(cli, &["pause", id]);
        let (paused, _) = step(cli, &["inspect", "-f", "{{.State.Status}}", id]);
        step(cli, &["unpause", id]);
        step(cli, &["stop", id]);
        let (after, _) = step(
            cli,
            &[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}} {{.HostConfig.Runtime}}",
                id,
            ],
        );
        step(cli, &["rm", id]);
        (format!("{exec}{exec_code} {paused}{after}"), 0)
    });
    log
}

#[test]
fn runc_runtime_vs_docker() {
    let test = "runc_runtime_vs_docker";
    if !have("runc") {
        return skip(test, "runc is not installed (apt-get install runc)");
    }
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let Some(store) = container_store(test) else {
        return;
    };
    let archive = docker.dir().join("busybox.tar");
    store.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);
    let theirs = probes(&docker);
    let ours = probes(&store);
    assert_same("runc_runtime_vs_docker", &theirs, &ours, &[], no_difference);
}
