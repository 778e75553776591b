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

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn kill9(pid: u32) {
    signal(pid, "-9");
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
    // SIGKILL is delivered asynchronously: under load the monitor may take
    // a moment to die after kill(2) returned.
    let monitor = monitors[0];
    wait_for("the monitor to die", || {
        std::fs::read_to_string(format!("/proc/{monitor}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    });
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

/// Whether `pid` is gone or a zombie.
fn dead(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
    })
}

#[test]
fn killed_monitor_takes_its_container_along_and_the_policy_restarts_it() {
    let Some(store) =
        prerequisites("killed_monitor_takes_its_container_along_and_the_policy_restarts_it")
    else {
        return;
    };
    let mut victims = Vec::new();
    for (name, flags) in [
        ("always", &["--restart", "always"][..]),
        ("onfail", &["--restart", "on-failure:3"][..]),
        ("nopolicy", &[][..]),
        ("autorm", &["--rm"][..]),
    ] {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sleep", "600"]);
        store.ok(&args);
        victims.push((name, store.init_and_monitor(name)));
    }
    for (_, (_, monitor)) in &victims {
        kill9(*monitor);
    }
    // No berth command has run: the inits went with their monitors
    // (nobody is left to supervise them).
    for (name, (init, _)) in &victims {
        wait_for(&format!("{name}'s init to die with its monitor"), || {
            dead(*init)
        });
    }
    // The next command records the exits and applies the policies.
    let ps = store.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    let line = |name: &str| {
        ps.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{ps}"))
            .to_string()
    };
    assert!(line("always").starts_with("always running Up"), "{ps}");
    assert!(line("onfail").starts_with("onfail running Up"), "{ps}");
    assert!(
        line("nopolicy").starts_with("nopolicy exited Exited (137)"),
        "{ps}"
    );
    assert!(
        !ps.lines().any(|l| l.starts_with("autorm ")),
        "a --rm container whose monitor died is removed:\n{ps}"
    );
    for name in ["always", "onfail"] {
        assert_eq!(
            store
                .ok(&["inspect", "-f", "{{.RestartCount}}", name])
                .trim(),
            "1",
            "{name}"
        );
        let (init, _) = store.init_and_monitor(name);
        assert!(!dead(init), "{name} runs again");
    }
    store.ok(&["rm", "-f", "always", "onfail", "nopolicy"]);
    store.assert_check_clean();
    assert_eq!(store.cgroup_dirs(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn stop_with_a_stopped_monitor_stops_the_container() {
    let Some(store) = prerequisites("stop_with_a_stopped_monitor_stops_the_container") else {
        return;
    };
    for (name, command) in [
        ("stopped", &["stop", "-t", "1"][..]),
        ("removed", &["rm", "-f"][..]),
    ] {
        store.ok(&["run", "-d", "--name", name, "busybox", "sleep", "600"]);
        let (init, monitor) = store.init_and_monitor(name);
        signal(monitor, "-STOP");
        let started = Instant::now();
        let mut args = command.to_vec();
        args.push(name);
        let out = store.run(&args);
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Well under stop's 10 s wait for a monitor: a stopped one is not
        // waited for.
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
        assert!(dead(init), "{args:?}: the container's init still runs");
        assert!(dead(monitor), "{args:?}: the stopped monitor was left");
        let ps = store.ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.State}}",
        ]);
        if name == "stopped" {
            assert_eq!(ps.trim(), "exited", "stop says what is true");
            store.ok(&["rm", name]);
        } else {
            assert_eq!(ps.trim(), "", "rm -f removed it");
        }
    }
    store.assert_check_clean();
    assert_eq!(store.cgroup_dirs(), Vec::<std::path::PathBuf>::new());
}

/// A reboot as berth sees one: every monitor and container process gone
/// at once with no berth command in between, the run root (a tmpfs on a
/// real host) empty and the cgroups gone; then the boot-time `system
/// restore`. Policies are honoured as dockerd honours them at its start:
/// `always` (even stopped by hand), `unless-stopped` unless stopped by
/// hand, `on-failure` (the lost exit counts as a failure); `--rm`
/// containers are removed; the rest stay exited and start again.
#[test]
fn simulated_reboot_honours_restart_policies() {
    let Some(store) = prerequisites("simulated_reboot_honours_restart_policies") else {
        return;
    };
    for (name, flags) in [
        ("always", &["--restart", "always"][..]),
        ("always-stopped", &["--restart", "always"][..]),
        ("unless", &["--restart", "unless-stopped"][..]),
        ("unless-stopped", &["--restart", "unless-stopped"][..]),
        ("onfail", &["--restart", "on-failure"][..]),
        ("nopolicy", &[][..]),
        ("autorm", &["--rm"][..]),
    ] {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sleep", "600"]);
        store.ok(&args);
    }
    store.ok(&["stop", "-t", "0", "always-stopped", "unless-stopped"]);
    // The power goes: every berth process of the store at once.
    for pid in store.processes() {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    wait_for("every process of the store to be gone", || {
        store.processes().into_iter().all(dead)
    });
    // The run root is a fresh tmpfs after a boot, the cgroups are new.
    for entry in std::fs::read_dir(&store.run).unwrap().flatten() {
        let _ = std::fs::remove_dir_all(entry.path());
    }
    // A cgroup whose last task just died may stay busy for a moment.
    for dir in store.cgroup_dirs() {
        wait_for(&format!("rmdir {}", dir.display()), || {
            std::fs::remove_dir(&dir).is_ok() || !dir.exists()
        });
    }

    let restored = store.ok(&["system", "restore"]);
    let ps = store.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    let mut states: Vec<&str> = ps.lines().collect();
    states.sort();
    assert_eq!(
        states,
        [
            "always running",
            "always-stopped running",
            "nopolicy exited",
            "onfail running",
            "unless running",
            "unless-stopped exited",
        ],
        "after the reboot (restore said: {restored})"
    );
    // The rest start as usual (their writable layers mount again).
    store.ok(&["start", "nopolicy", "unless-stopped"]);
    assert_eq!(store.ok(&["exec", "nopolicy", "echo", "up"]), "up\n");
    store.ok(&[
        "rm",
        "-f",
        "always",
        "always-stopped",
        "nopolicy",
        "onfail",
        "unless",
        "unless-stopped",
    ]);
    store.assert_check_clean();
}

/// A monitor's mount namespace is a slave of the host's: a file system the
/// host unmounts leaves every monitor too (else a loop device stays busy
/// for as long as any container runs). On a host whose `/` is shared (as
/// systemd makes it) that is every mount; this VM's `/` is private, so the
/// test makes a shared mount of its own to show it.
#[test]
fn a_host_unmount_reaches_the_monitors() {
    let Some(store) = prerequisites("a_host_unmount_reaches_the_monitors") else {
        return;
    };
    let shared = store.dir.path().join("shared");
    let sub = shared.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let mount = |args: &[&str]| {
        let out = std::process::Command::new("mount")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let shared_s = shared.to_str().unwrap();
    let sub_s = sub.to_str().unwrap();
    /// Whatever the test mounted goes, however it ends.
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .args(["-R", "-l", &self.0])
                .status();
        }
    }
    let _unmount = Unmount(shared_s.to_string());
    mount(&["--bind", shared_s, shared_s]);
    mount(&["--make-shared", shared_s]);
    mount(&["-t", "tmpfs", "berth-test-sub", sub_s]);

    store.ok(&["run", "-d", "--name", "watcher", "busybox", "sleep", "600"]);
    let (_, monitor) = store.init_and_monitor("watcher");
    let in_monitor = || {
        std::fs::read_to_string(format!("/proc/{monitor}/mountinfo"))
            .unwrap()
            .lines()
            .any(|l| l.split_whitespace().nth(4) == Some(sub_s))
    };
    assert!(
        in_monitor(),
        "the monitor's namespace starts as a copy of the host's"
    );

    let out = std::process::Command::new("umount")
        .arg(sub_s)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("the host's unmount to reach the monitor", || !in_monitor());

    store.ok(&["rm", "-f", "watcher"]);
    store.assert_check_clean();
}
