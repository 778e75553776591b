//! Crashes: kill -9 of a monitor, of the CLI in the middle of `run`, and
//! aborts (fail-points) in the middle of `create` and `commit`. The next
//! command reports the truth and `system check` is clean. Root only.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::Store;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn killed_monitor_shows_as_exited() {
    let Some(store) = prerequisites("killed_monitor_shows_as_exited") else {
        return;
    };
    store.ok(&["run", "-d", "--name", "victim", "busybox", "sleep", "600"]);
    let container_pid: i32 = store
        .ok(&["inspect", "-f", "{{.State.Pid}}", "victim"])
        .trim()
        .parse()
        .unwrap();
    // The init is the monitor's clone until it execs `sleep`: not a monitor.
    let monitors: Vec<u32> = store
        .processes()
        .into_iter()
        .filter(|p| *p as i32 != container_pid)
        .collect();
    assert_eq!(monitors.len(), 1, "one monitor: {monitors:?}");
    kill9(monitors[0]);
    // The next command tells the truth: not running, and nothing left running.
    let status = store.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    assert!(status.starts_with("victim exited Exited (137)"), "{status}");
    // Killed and reaped (by the host's init, its parent now).
    wait_for("the container's process to be gone", || {
        std::fs::read_to_string(format!("/proc/{container_pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    });
    assert_eq!(store.cgroup_dirs(), Vec::<std::path::PathBuf>::new());
    let error = store.ok(&["inspect", "-f", "{{.State.Error}}", "victim"]);
    assert!(error.contains("monitor died"), "{error}");
    store.ok(&["rm", "victim"]);
    store.assert_check_clean();
}

#[test]
fn killed_cli_leaves_the_container_running_under_its_monitor() {
    let Some(store) = prerequisites("killed_cli_leaves_the_container_running_under_its_monitor")
    else {
        return;
    };
    let mut cli = store
        .command(&[
            "run",
            "--name",
            "fg",
            "busybox",
            "sh",
            "-c",
            "echo up; sleep 600",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the container to run", || {
        store.ok(&["ps", "-q"]).lines().count() == 1
    });
    kill9(cli.id());
    let _ = cli.wait();
    let ps = store.ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(ps, "fg running\n", "the container outlives its CLI");
    assert_eq!(store.ok(&["logs", "fg"]), "up\n");
    store.ok(&["stop", "-t", "0", "fg"]);
    assert!(
        store
            .ok(&["ps", "-a", "--format", "{{.Status}}"])
            .starts_with("Exited (137)")
    );
    store.ok(&["rm", "fg"]);
    store.assert_check_clean();
}

#[test]
fn aborted_create_is_cleaned_by_the_next_command() {
    let Some(store) = prerequisites("aborted_create_is_cleaned_by_the_next_command") else {
        return;
    };
    for point in ["create:row-inserted", "create:directory-ready"] {
        let out = store
            .command(&["create", "--name", "half", "busybox", "true"])
            .env("BERTH_FAILPOINT", point)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the fail-point aborts");
        assert_eq!(
            store.ok(&["ps", "-a", "-q"]),
            "",
            "{point}: no half-made container"
        );
        assert_eq!(
            std::fs::read_dir(store.root.join("containers"))
                .unwrap()
                .count(),
            0,
            "{point}: no directory left"
        );
        store.assert_check_clean();
        // The name is free again.
        store.ok(&["create", "--name", "half", "busybox", "true"]);
        store.ok(&["rm", "half"]);
    }
}

#[test]
fn aborted_commit_leaves_the_store_as_it_was() {
    let Some(store) = prerequisites("aborted_commit_leaves_the_store_as_it_was") else {
        return;
    };
    store.ok(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo data > /root/f",
    ]);
    let images = store.image_ids();
    for point in ["commit:start", "commit:layer-stored"] {
        let out = store
            .command(&["commit", "src", "committed:1"])
            .env("BERTH_FAILPOINT", point)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the fail-point aborts");
        assert_eq!(store.image_ids(), images, "{point}: no new image");
        store.assert_check_clean();
        store.assert_no_leftovers();
    }
    store.ok(&["commit", "src", "committed:1"]);
    assert_eq!(
        store.ok(&["run", "--rm", "committed:1", "cat", "/root/f"]),
        "data\n"
    );
}
