//! Limits are enforced on the real kernel: memory (OOM kill, exit 137,
//! OOMKilled), pids (a fork bomb stops), cpus (the cgroup files) and a
//! read-only root. Root only.

mod support;

use support::Store;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

/// The cgroup directory of a container in the v1 `controller` hierarchy (or
/// the unified one on v2).
fn cgroup_file(store: &Store, id: &str, controller: &str, file: &str) -> String {
    let parent = store.cgroup_parent();
    let candidates = [
        format!("/sys/fs/cgroup/{controller}{parent}/{id}/{file}"),
        format!("/sys/fs/cgroup{parent}/{id}/{file}"),
    ];
    for c in &candidates {
        if let Ok(text) = std::fs::read_to_string(c) {
            return text.trim().to_string();
        }
    }
    panic!("none of {candidates:?} exists");
}

#[test]
fn memory_limit_oom_kills_with_137() {
    let Some(store) = prerequisites("memory_limit_oom_kills_with_137") else {
        return;
    };
    // A shell variable growing without bound: 32 MiB cannot hold it.
    let (code, _, err) = store.outcome(&[
        "run",
        "--name",
        "hog",
        "-m",
        "32m",
        "--memory-swap",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
    ]);
    assert_eq!(code, 137, "{err}");
    assert_eq!(
        store.ok(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
            "hog"
        ]),
        "true 137\n"
    );
    assert!(store.ok(&["ps", "-a"]).contains("Exited (137)"));
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let Some(store) = prerequisites("pids_limit_stops_a_fork_bomb") else {
        return;
    };
    // 30 background sleepers: busybox's shell (pid 1) dies at the first
    // fork the pids controller refuses, which ends the container.
    let (code, _, err) = store.outcome(&[
        "run",
        "--rm",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); done; echo all-started",
    ]);
    assert_eq!(code, 2, "the shell could not fork: {err}");
    assert!(
        err.contains("can't fork: Resource temporarily unavailable"),
        "{err}"
    );
    // The same limit, watched from the host while the container runs.
    let id = store.ok(&["run", "-d", "--pids-limit", "10", "busybox", "sleep", "60"]);
    let id = id.trim();
    let max = if std::path::Path::new("/sys/fs/cgroup/pids").is_dir() {
        cgroup_file(&store, id, "pids", "pids.max")
    } else {
        cgroup_file(&store, id, "", "pids.max")
    };
    assert_eq!(max, "10");
    store.ok(&["rm", "-f", id]);
}

#[test]
fn cpus_and_memory_show_in_cgroup_files() {
    let Some(store) = prerequisites("cpus_and_memory_show_in_cgroup_files") else {
        return;
    };
    let id = store.ok(&[
        "run",
        "-d",
        "--cpus",
        "0.5",
        "-m",
        "64m",
        "--cpu-shares",
        "512",
        "busybox",
        "sleep",
        "60",
    ]);
    let id = id.trim();
    if std::path::Path::new("/sys/fs/cgroup/cpu").is_dir() {
        assert_eq!(cgroup_file(&store, id, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(
            cgroup_file(&store, id, "cpu", "cpu.cfs_period_us"),
            "100000"
        );
        assert_eq!(cgroup_file(&store, id, "cpu", "cpu.shares"), "512");
        assert_eq!(
            cgroup_file(&store, id, "memory", "memory.limit_in_bytes"),
            "67108864"
        );
    } else {
        assert_eq!(cgroup_file(&store, id, "", "cpu.max"), "50000 100000");
        assert_eq!(cgroup_file(&store, id, "", "memory.max"), "67108864");
    }
    store.ok(&["update", "--cpus", "0.25", id]);
    if std::path::Path::new("/sys/fs/cgroup/cpu").is_dir() {
        assert_eq!(cgroup_file(&store, id, "cpu", "cpu.cfs_quota_us"), "25000");
    }
    store.ok(&["rm", "-f", id]);
}

#[test]
fn update_holds_across_restart_and_reaches_the_monitor() {
    let Some(store) = prerequisites("update_holds_across_restart_and_reaches_the_monitor") else {
        return;
    };
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").is_dir();
    let limit = |id: &str| {
        if v1 {
            cgroup_file(&store, id, "memory", "memory.limit_in_bytes")
        } else {
            cgroup_file(&store, id, "", "memory.max")
        }
    };
    let id = store.ok(&[
        "run", "-d", "--name", "up", "-m", "64m", "busybox", "sleep", "600",
    ]);
    let id = id.trim();
    assert_eq!(limit(id), "67108864");
    store.ok(&["update", "-m", "96m", "--memory-swap", "192m", "up"]);
    assert_eq!(limit(id), "100663296");
    // The monitor builds the spec from the store at every start.
    store.ok(&["restart", "-t", "0", "up"]);
    assert_eq!(
        limit(id),
        "100663296",
        "the new limit holds after a restart"
    );
    // A policy set while it runs is what its monitor applies at the exit.
    store.ok(&["update", "--restart", "always", "up"]);
    let pid = store.ok(&["inspect", "-f", "{{.State.Pid}}", "up"]);
    std::process::Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let state = store.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}} {{.State.Pid}}",
            "up",
        ]);
        let fields: Vec<&str> = state.split_whitespace().collect();
        if fields[0] == "running" && fields[1] == "1" && !["0", pid.trim()].contains(&fields[2]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not restarted: {state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(limit(id), "100663296", "and after a policy restart");
    store.ok(&["rm", "-f", "up"]);
}

#[test]
fn read_only_root_rejects_writes() {
    let Some(store) = prerequisites("read_only_root_rejects_writes") else {
        return;
    };
    let (code, _, err) =
        store.outcome(&["run", "--rm", "--read-only", "busybox", "touch", "/newfile"]);
    assert_eq!(code, 1);
    assert!(err.contains("Read-only file system"), "{err}");
    // tmpfs mounts stay writable.
    let (code, out, err) = store.outcome(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo ok > /scratch/f && cat /scratch/f",
    ]);
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
}

/// `stats` streams: a table a second, the screen cleared before each (as
/// docker's), CPU % over the time between samples; `--no-stream` prints
/// one; a stream of named containers ends when they are gone.
#[test]
fn stats_streams_until_its_containers_are_gone() {
    let Some(store) = support::container_store("stats_streams_until_its_containers_are_gone")
    else {
        return;
    };
    store.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let mut child = store
        .command(&["stats", "--format", "{{.Name}} {{.CPUPerc}}", "busy"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2800));
    store.ok(&["rm", "-f", "busy"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "stats did not end with its container"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let frames: Vec<&str> = text
        .split("\x1b[2J\x1b[H")
        .filter(|f| !f.is_empty())
        .collect();
    assert!(frames.len() >= 2, "{text:?}");
    let busy: f64 = frames[1]
        .trim()
        .strip_prefix("busy ")
        .and_then(|p| p.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("{:?}", frames[1]));
    assert!(busy > 30.0, "a busy loop uses a CPU: {busy}%");
    store.ok(&["run", "-d", "--name", "idle", "busybox", "sleep", "600"]);
    let once = store.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]);
    assert_eq!(once, "idle 1\n");
    store.ok(&["rm", "-f", "idle"]);
}
