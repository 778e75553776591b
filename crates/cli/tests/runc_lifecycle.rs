//! berth-runc's command line through a container's whole life, on the real
//! kernel: create, state, start, exec, ps, pause, resume, update, kill,
//! delete; errors and exit codes as runc gives them.

mod support;

use support::runc::{Runc, prerequisites};

#[test]
fn run_prints_and_returns_the_exit_code() {
    if !prerequisites("run_prints_and_returns_the_exit_code") {
        return;
    }
    let rt = Runc::berth("run");
    let b = rt.bundle(&["sh", "-c", "echo hello from $(hostname); exit 3"], "r1");
    let out = rt.run(&[
        "run",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "r1",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from berth\n");
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        rt.ok(&["list", "-q"]).trim().is_empty(),
        "run deletes the container"
    );
    assert!(
        rt.cgroup_dirs().iter().all(|d| std::fs::read_dir(d)
            .map(|e| e
                .flatten()
                .all(|x| !x.file_type().is_ok_and(|t| t.is_dir())))
            .unwrap_or(true)),
        "no leftover cgroup"
    );
}

#[test]
fn create_start_state_kill_delete() {
    if !prerequisites("create_start_state_kill_delete") {
        return;
    }
    let rt = Runc::berth("lifecycle");
    let b = rt.bundle(&["sleep", "1000"], "c1");
    let bundle = b.path().to_str().unwrap_or_default().to_string();
    let pid_file = b.path().join("init.pid");
    rt.ok(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        pid_file.to_str().unwrap_or_default(),
        "c1",
    ]);
    let state = rt.state("c1");
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], "c1");
    let pid = state["pid"].as_i64().unwrap_or(0);
    assert!(pid > 0);
    assert_eq!(
        std::fs::read_to_string(&pid_file)
            .unwrap_or_default()
            .trim(),
        pid.to_string()
    );
    assert_eq!(
        state["bundle"],
        std::fs::canonicalize(&bundle)
            .unwrap_or_default()
            .to_str()
            .unwrap_or_default()
    );
    let err = rt.fails(&["create", "--bundle", &bundle, "c1"]);
    assert!(err.contains("container with id exists: c1"), "{err}");

    rt.ok(&["start", "c1"]);
    assert_eq!(rt.state("c1")["status"], "running");
    assert!(rt.fails(&["start", "c1"]).contains("already running"));
    let pids: Vec<i64> =
        serde_json::from_str(&rt.ok(&["ps", "--format", "json", "c1"])).expect("ps json");
    assert_eq!(pids, vec![pid]);

    rt.ok(&["pause", "c1"]);
    assert_eq!(rt.state("c1")["status"], "paused");
    rt.ok(&["resume", "c1"]);
    assert_eq!(rt.state("c1")["status"], "running");

    let err = rt.fails(&["delete", "c1"]);
    assert!(
        err.contains("cannot delete container c1 that is not stopped: running"),
        "{err}"
    );
    rt.ok(&["kill", "c1", "KILL"]);
    for _ in 0..200 {
        if rt.state("c1")["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(rt.state("c1")["status"], "stopped");
    assert!(rt.fails(&["kill", "c1"]).contains("container not running"));
    rt.ok(&["delete", "c1"]);
    assert!(rt.fails(&["state", "c1"]).contains("does not exist"));
    rt.ok(&["delete", "--force", "c1"]);
}

#[test]
fn exec_joins_the_container_and_reports_failures() {
    if !prerequisites("exec_joins_the_container_and_reports_failures") {
        return;
    }
    let rt = Runc::berth("exec");
    let b = rt.bundle(&["sleep", "1000"], "e1");
    rt.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "e1",
    ]);
    let out = rt.run(&["exec", "e1", "sh", "-c", "hostname; echo $$; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("berth"), "same UTS namespace");
    let inner_pid: i64 = lines.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    assert!(
        inner_pid > 1 && inner_pid < 100,
        "a small pid inside the container's pid namespace, got {inner_pid}"
    );

    let process = serde_json::json!({
        "terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sleep", "100"], "cwd": "/",
        "env": ["PATH=/bin"],
    });
    let process_file = b.path().join("process.json");
    std::fs::write(&process_file, process.to_string()).expect("write");
    let pid_file = b.path().join("exec.pid");
    rt.ok(&[
        "exec",
        "--process",
        process_file.to_str().unwrap_or_default(),
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap_or_default(),
        "e1",
    ]);
    let exec_pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    let pids: Vec<i64> =
        serde_json::from_str(&rt.ok(&["ps", "--format", "json", "e1"])).expect("ps json");
    assert!(
        pids.contains(&exec_pid),
        "{pids:?} should contain {exec_pid}"
    );
    // Every hierarchy, not only the one `ps` reads: the exec'd process
    // places itself (v1 `tasks`, clone3 into v2), so check all of them.
    let state: serde_json::Value =
        serde_json::from_str(&rt.ok(&["state", "e1"])).expect("state json");
    let init_pid = state["pid"].as_i64().unwrap_or(0);
    let cgroups =
        |pid: i64| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    assert!(!cgroups(init_pid).is_empty(), "init {init_pid} has cgroups");
    assert_eq!(
        cgroups(exec_pid),
        cgroups(init_pid),
        "the exec'd process is in all of the container's cgroups"
    );

    // logrus's text format quotes the message.
    let err = rt
        .fails(&["exec", "e1", "top-that-does-not-exist"])
        .replace("\\\"", "\"");
    assert!(
        err.contains("exec: \"top-that-does-not-exist\": executable file not found in $PATH"),
        "{err}"
    );
    rt.ok(&["delete", "--force", "e1"]);
}

#[test]
fn create_reports_the_failing_step() {
    if !prerequisites("create_reports_the_failing_step") {
        return;
    }
    let rt = Runc::berth("fail");
    let b = rt.bundle(&["no-such-program"], "f1");
    let err = rt
        .fails(&[
            "create",
            "--bundle",
            b.path().to_str().unwrap_or_default(),
            "f1",
        ])
        .replace("\\\"", "\"");
    assert!(
        err.contains("exec: \"no-such-program\": executable file not found in $PATH"),
        "{err}"
    );
    assert!(
        rt.ok(&["list", "-q"]).trim().is_empty(),
        "a failed create leaves nothing"
    );
    let mut b = rt.bundle(&["true"], "f2");
    // A missing cwd is made (as runc makes it); one under a file cannot be.
    b.config["process"]["cwd"] = "/bin/busybox/cwd".into();
    b.save();
    let err = rt.fails(&[
        "run",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "f2",
    ]);
    assert!(
        err.contains("/bin/busybox/cwd") && err.contains("Not a directory"),
        "{err}"
    );
    let err = rt.fails(&["state", "nope"]);
    assert!(err.contains("msg=\"container does not exist\""), "{err}");
}

#[test]
fn update_features_list_and_spec() {
    if !prerequisites("update_features_list_and_spec") {
        return;
    }
    let rt = Runc::berth("update");
    let b = rt.bundle(&["sleep", "1000"], "u1");
    rt.ok(&[
        "run",
        "-d",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "u1",
    ]);
    let out = support::run_with_stdin(
        rt.command(&["update", "--resources", "-", "u1"]),
        br#"{"pids": {"limit": 42}}"#,
    );
    assert!(
        out.status.success(),
        "update: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pids_max = support::runc::cgroup_roots()
        .into_iter()
        .map(|r| r.join(&rt.cgroup_parent).join("u1/pids.max"))
        .find(|p| p.exists())
        .map(|p| std::fs::read_to_string(p).unwrap_or_default());
    assert_eq!(pids_max.as_deref().map(str::trim), Some("42"));
    let list = rt.ok(&["list"]);
    assert!(
        list.starts_with("ID") && list.contains("u1") && list.contains("running"),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&rt.ok(&["list", "--format", "json"])).expect("json");
    assert_eq!(json[0]["status"], "running");
    let features: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).expect("json");
    assert_eq!(features["linux"]["cgroup"]["v1"], true);
    rt.ok(&["delete", "-f", "u1"]);
}
